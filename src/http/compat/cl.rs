//! Seed 002 (CL Server): `/auth/token/refresh` and `/users/*`. Users are shown and addressed by
//! their number (`id`); bodies are forms (or JSON); `permissions` is `[a, b]`, `a,b` or a JSON
//! list. Errors are FastAPI's bodies, exactly (`fastapi`).
use super::fastapi::{ClAuth, ClError, ClForm, Problem};
use crate::config::PasswordPolicy;
use crate::http::auth::requests::{TokenForm, TokenRequest};
use crate::http::dto::TokenResponse;
use crate::http::error::ApiError;
use crate::http::schema;
use crate::http::state::AppState;
use crate::model::ClientInfo;
use crate::model::input::{Email, Invalid, Password, Permissions as PermissionList, Problems, Username};
use crate::service::compat::cl::{ClName, ClNewUser, ClPatch, ClUser};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

type ClResult<T> = Result<T, ClError>;

/// FastAPI's error body, as the OpenAPI description shows it: `{"detail": "..."}`, or on 422 a
/// list of `{"loc", "msg", "type"}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FastApiError)]
pub struct Detail {
    #[schema(value_type = Object)]
    pub detail: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClToken {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    pub expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClUserView {
    /// The account's number.
    pub id: i32,
    /// The username, or the email of an account without one.
    pub username: String,
    pub is_admin: bool,
    pub is_active: bool,
    /// UTC, without a zone, as seed 002 writes it: `2024-01-15T10:30:00`.
    pub created_at: String,
    pub permissions: Vec<String>,
}

impl From<ClUser> for ClUserView {
    fn from(u: ClUser) -> Self {
        Self {
            id: u.number,
            username: u.user.username.unwrap_or(u.user.email),
            is_admin: u.is_admin,
            is_active: u.user.active,
            created_at: u.user.created_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            permissions: u.permissions,
        }
    }
}

/// A list of permissions: a JSON list, or text such as `[read:posts, write:posts]` or `a,b`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Permissions {
    List(Vec<String>),
    Text(String),
}

impl Permissions {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::List(list) => list.into_iter().map(|p| p.trim().to_owned()).collect(),
            Self::Text(text) => text
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }
}

/// A boolean, or its text (`true`, `false`, `1`, `0`, `yes`, `no`, `on`, `off`) in a form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn parse(value: Option<Self>) -> Result<Option<bool>, String> {
        match value {
            None => Ok(None),
            Some(Self::Bool(b)) => Ok(Some(b)),
            Some(Self::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err("is not a boolean".into()),
            },
        }
    }
}

fn permissions(problems: &mut Problems, value: Option<Permissions>) -> Option<Option<PermissionList>> {
    match value {
        Some(p) => problems
            .check("permissions", PermissionList::parse(&p.into_vec()))
            .map(Some),
        None => Some(None),
    }
}

/// The form (JSON is read too, with lists and booleans as themselves).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateForm {
    /// A username, or an email address (the account's email).
    #[schema(required = true, nullable = false, value_type = String)]
    pub username: Option<String>,
    #[schema(required = true, nullable = false, value_type = schema::NewPassword)]
    pub password: Option<String>,
    #[schema(nullable = false, value_type = Option<schema::PermissionText>)]
    pub permissions: Option<Permissions>,
    /// Default false.
    #[schema(nullable = false, value_type = Option<schema::FlagText>)]
    pub is_admin: Option<Flag>,
}

impl CreateForm {
    /// A username with `@` is the account's email.
    fn parse(self, policy: &PasswordPolicy) -> Result<ClNewUser, Invalid> {
        let mut problems = Problems::default();
        let name = match self.username.as_deref() {
            None => problems.check("username", Err("field required".into())),
            Some(raw) if raw.contains('@') => problems.parse::<Email>("username", raw).map(ClName::Email),
            Some(raw) => problems.parse::<Username>("username", raw).map(ClName::Username),
        };
        let password = match self.password {
            None => problems.check("password", Err("field required".into())),
            Some(p) => problems.check("password", Password::new(p, policy)),
        };
        let permissions = permissions(&mut problems, self.permissions);
        let is_admin = problems.check("is_admin", Flag::parse(self.is_admin));
        let (name, password, permissions, is_admin) = problems.done((name, password, permissions, is_admin))?;
        Ok(ClNewUser {
            name,
            password,
            permissions: permissions.unwrap_or_default(),
            is_admin: is_admin.unwrap_or(false),
        })
    }
}

/// The form (JSON is read too, with lists and booleans as themselves); every field optional.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateForm {
    #[schema(nullable = false, value_type = Option<schema::NewPassword>)]
    pub password: Option<String>,
    /// Replaces the user's own permissions.
    #[schema(nullable = false, value_type = Option<schema::PermissionText>)]
    pub permissions: Option<Permissions>,
    #[schema(nullable = false, value_type = Option<schema::FlagText>)]
    pub is_active: Option<Flag>,
    #[schema(nullable = false, value_type = Option<schema::FlagText>)]
    pub is_admin: Option<Flag>,
}

impl UpdateForm {
    fn parse(self, policy: &PasswordPolicy) -> Result<ClPatch, Invalid> {
        let mut problems = Problems::default();
        let password = problems.password_opt("password", self.password, policy);
        let permissions = permissions(&mut problems, self.permissions);
        let is_active = problems.check("is_active", Flag::parse(self.is_active));
        let is_admin = problems.check("is_admin", Flag::parse(self.is_admin));
        let (password, permissions, is_active, is_admin) =
            problems.done((password, permissions, is_active, is_admin))?;
        Ok(ClPatch {
            password,
            permissions,
            is_active,
            is_admin,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Users to skip (default 0).
    #[param(minimum = 0, maximum = 9223372036854775807_u64, nullable = false)]
    pub skip: Option<u64>,
    /// At most this many (default 100).
    #[param(minimum = 0, maximum = 1000, nullable = false)]
    pub limit: Option<u64>,
}

impl ListQuery {
    /// `skip` and `limit` as FastAPI checks them: integers, `limit` at most 1000.
    fn parse(query: Option<&str>) -> ClResult<(u64, u64)> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
        let mut problems = Vec::new();
        let mut value = |name: &str, default: u64| {
            let Some((_, raw)) = pairs.iter().find(|(k, _)| k == name) else {
                return default;
            };
            raw.trim().parse().unwrap_or_else(|_| {
                problems.push(Problem::typed(
                    "query",
                    name,
                    "value is not a valid integer",
                    "type_error.integer",
                ));
                default
            })
        };
        let (skip, limit) = (value("skip", 0), value("limit", 100));
        // The database counts in signed 64 bits.
        if i64::try_from(skip).is_err() {
            problems.push(Problem::typed(
                "query",
                "skip",
                "ensure this value is less than or equal to 9223372036854775807",
                "value_error.number.not_le",
            ));
        }
        if limit > 1000 {
            problems.push(Problem::typed(
                "query",
                "limit",
                "ensure this value is less than or equal to 1000",
                "value_error.number.not_le",
            ));
        }
        if problems.is_empty() {
            Ok((skip, limit))
        } else {
            Err(ClError::Problems(problems))
        }
    }
}

/// The number in a path; anything else names no user.
fn number(raw: &str) -> ClResult<i32> {
    raw.parse()
        .map_err(|_| ApiError::NotFound("User not found".into()).into())
}

/// Seed 002's form login on `/auth/token`: a form without `grant_type` (OAuth 2.0 clients always
/// send one). Missing or empty `username` and `password` are FastAPI's "field required".
pub async fn form_login(state: &AppState, client: ClientInfo, form: TokenForm) -> ClResult<Json<TokenResponse>> {
    let present = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    let missing: Vec<Problem> = [
        ("username", present(&form.username)),
        ("password", present(&form.password)),
    ]
    .into_iter()
    .filter(|(_, present)| !present)
    .map(|(field, _)| Problem::new("body", field, "field required"))
    .collect();
    if !missing.is_empty() {
        return Err(ClError::Problems(missing));
    }
    let login = match form.parse(None) {
        Ok(TokenRequest::Password(login)) => login,
        Ok(_) => return Err(ApiError::Internal.into()),
        Err(e) => return Err(ApiError::from(e).into()),
    };
    Ok(Json(state.auth.login(login, client).await?.into()))
}

/// A new access token for the bearer's session.
#[utoipa::path(post, path = "/auth/token/refresh", tag = "compat", security(("bearer" = [])),
    responses((status = 200, body = ClToken), (status = 401, body = Detail)))]
pub async fn refresh(State(state): State<AppState>, ClAuth(caller): ClAuth) -> ClResult<Json<ClToken>> {
    let token = state.cl.reissue(&caller).await?;
    Ok(Json(ClToken {
        access_token: token.token,
        token_type: "bearer",
        expires_in: token.expires_in,
    }))
}

#[utoipa::path(get, path = "/users/me", tag = "compat", security(("bearer" = [])),
    responses((status = 200, body = ClUserView), (status = 401, body = Detail)))]
pub async fn me(State(state): State<AppState>, ClAuth(caller): ClAuth) -> ClResult<Json<ClUserView>> {
    Ok(Json(state.cl.me(&caller).await?.into()))
}

/// Members of the caller's organisation by number (admins).
#[utoipa::path(get, path = "/users/", tag = "compat", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<ClUserView>), (status = 401, body = Detail), (status = 403, body = Detail), (status = 422, body = Detail)))]
pub async fn list(
    State(state): State<AppState>,
    ClAuth(caller): ClAuth,
    RawQuery(query): RawQuery,
) -> ClResult<Json<Vec<ClUserView>>> {
    let (skip, limit) = ListQuery::parse(query.as_deref())?;
    let users = state.cl.list(&caller, skip, limit).await?;
    Ok(Json(users.into_iter().map(ClUserView::from).collect()))
}

/// Form (or JSON): `username`, `password`, `permissions`, `is_admin` (admins).
#[utoipa::path(post, path = "/users/", tag = "compat", security(("bearer" = [])),
    request_body(content = CreateForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, body = ClUserView), (status = 400, body = Detail), (status = 401, body = Detail), (status = 403, body = Detail), (status = 422, body = Detail)))]
pub async fn create(
    State(state): State<AppState>,
    ClAuth(caller): ClAuth,
    ClForm(form): ClForm<CreateForm>,
) -> ClResult<(StatusCode, Json<ClUserView>)> {
    let input = form.parse(&state.config.password_policy)?;
    Ok((StatusCode::CREATED, Json(state.cl.create(&caller, input).await?.into())))
}

#[utoipa::path(get, path = "/users/{user_id}", tag = "compat", security(("bearer" = [])), params(("user_id" = i32, Path)),
    responses((status = 200, body = ClUserView), (status = 401, body = Detail), (status = 403, body = Detail), (status = 404, body = Detail)))]
pub async fn get(
    State(state): State<AppState>,
    ClAuth(caller): ClAuth,
    Path(user_id): Path<String>,
) -> ClResult<Json<ClUserView>> {
    Ok(Json(state.cl.get(&caller, number(&user_id)?).await?.into()))
}

/// Form (or JSON), every field optional: `password`, `permissions` (replaces the user's own),
/// `is_active`, `is_admin`.
#[utoipa::path(put, path = "/users/{user_id}", tag = "compat", security(("bearer" = [])), params(("user_id" = i32, Path)),
    request_body(content = UpdateForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = ClUserView), (status = 401, body = Detail), (status = 403, body = Detail), (status = 404, body = Detail), (status = 409, body = Detail), (status = 422, body = Detail)))]
pub async fn update(
    State(state): State<AppState>,
    ClAuth(caller): ClAuth,
    Path(user_id): Path<String>,
    ClForm(form): ClForm<UpdateForm>,
) -> ClResult<Json<ClUserView>> {
    let number = number(&user_id)?;
    let patch = form.parse(&state.config.password_policy)?;
    Ok(Json(state.cl.update(&caller, number, patch).await?.into()))
}

#[utoipa::path(delete, path = "/users/{user_id}", tag = "compat", security(("bearer" = [])), params(("user_id" = i32, Path)),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail), (status = 404, body = Detail), (status = 409, body = Detail)))]
pub async fn delete(
    State(state): State<AppState>,
    ClAuth(caller): ClAuth,
    Path(user_id): Path<String>,
) -> ClResult<StatusCode> {
    state.cl.delete(&caller, number(&user_id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
