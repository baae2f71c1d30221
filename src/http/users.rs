//! `/admin/users`: user administration (superusers: everyone; organisation admins: their
//! organisation's users).
use super::dto::{PageOf, PageQuery, nullable};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::schema;
use super::state::AppState;
use crate::config::PasswordPolicy;
use crate::model::input::{DisplayName, Email, Invalid, Problems, Username};
use crate::model::{User, UserId};
use crate::service::users::{NewUser, UserPatch};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    pub id: Uuid,
    pub email: String,
    pub username: Option<String>,
    pub name: String,
    pub is_active: bool,
    pub is_superuser: bool,
    /// Whether the address is proven (see `email_verified` in the README).
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<User> for AdminUserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            name: u.display_name,
            is_active: u.active,
            is_superuser: u.superuser,
            email_verified: u.email_verified,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login_at: u.last_login_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Required, unless `username` is an email address (seed 001's clients send only that).
    #[serde(default)]
    #[schema(value_type = Option<schema::Email>)]
    pub email: Option<String>,
    /// Omit for an account that only logs in through an identity provider.
    #[serde(default)]
    #[schema(value_type = Option<schema::NewPassword>)]
    pub password: Option<String>,
    /// Also accepted as `display_name` or `full_name`; default: the email's local part.
    #[serde(default, alias = "display_name", alias = "full_name")]
    #[schema(value_type = Option<schema::DisplayName>)]
    pub name: Option<String>,
    /// A username, or (without `email`) an email address.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub username: Option<String>,
    /// Roles in the caller's organisation; default `["member"]`.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Superusers only.
    #[serde(default)]
    pub is_superuser: Option<bool>,
}

impl CreateUser {
    fn parse(self, policy: &PasswordPolicy) -> Result<NewUser, Invalid> {
        // Seed 001 names accounts by a `username` that is an email address.
        let (email, username) = match (self.email, self.username) {
            (Some(email), username) => (email, username),
            (None, Some(username)) if username.contains('@') => (username, None),
            (None, username) => (String::new(), username),
        };
        let mut problems = Problems::default();
        let email = problems.parse::<Email>("email", &email);
        let password = problems.password_opt("password", self.password, policy);
        let username = problems.parse_opt::<Username>("username", username.as_deref());
        let name = problems.parse_opt::<DisplayName>("name", self.name.as_deref());
        let (email, password, username, name) = problems.done((email, password, username, name))?;
        Ok(NewUser {
            email,
            password,
            name,
            username,
            roles: self.roles,
            superuser: self.is_superuser,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    #[schema(value_type = Option<schema::Email>)]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<schema::NewPassword>)]
    pub password: Option<String>,
    /// Also accepted as `display_name` or `full_name`.
    #[serde(default, alias = "display_name", alias = "full_name")]
    #[schema(value_type = Option<schema::DisplayName>)]
    pub name: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<schema::Username>)]
    pub username: Option<Option<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Superusers only.
    #[serde(default)]
    pub is_superuser: Option<bool>,
    /// Superusers only: vouch for (or withdraw) the address.
    #[serde(default)]
    pub email_verified: Option<bool>,
}

impl UpdateUser {
    fn parse(self, policy: &PasswordPolicy) -> Result<UserPatch, Invalid> {
        let mut problems = Problems::default();
        let email = problems.parse_opt::<Email>("email", self.email.as_deref());
        let name = problems.parse_opt::<DisplayName>("name", self.name.as_deref());
        let username = match &self.username {
            Some(u) => problems.parse_opt::<Username>("username", u.as_deref()).map(Some),
            None => Some(None),
        };
        let password = problems.password_opt("password", self.password, policy);
        let (email, name, username, password) = problems.done((email, name, username, password))?;
        Ok(UserPatch {
            email,
            password,
            name,
            username,
            active: self.is_active,
            superuser: self.is_superuser,
            email_verified: self.email_verified,
        })
    }
}

#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageOf<AdminUserView>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageOf<AdminUserView>>> {
    let users = state.users.list(&caller, page.request()?).await?;
    Ok(Json(PageOf::map(users, AdminUserView::from)))
}

#[utoipa::path(post, path = "/admin/users", tag = "admin", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = AdminUserView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<AdminUserView>)> {
    let input = body.parse(&state.config.password_policy)?;
    Ok((
        StatusCode::CREATED,
        Json(state.users.create(&caller, input).await?.into()),
    ))
}

#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AdminUserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<AdminUserView>> {
    Ok(Json(state.users.get(&caller, id).await?.into()))
}

#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateUser,
    responses((status = 200, body = AdminUserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<AdminUserView>> {
    let patch = body.parse(&state.config.password_policy)?;
    Ok(Json(state.users.update(&caller, id, patch).await?.into()))
}

#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<StatusCode> {
    state.users.delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
