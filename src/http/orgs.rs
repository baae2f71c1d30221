//! `/orgs`: organisations and their members (their roles are in `roles`, their service accounts
//! in `service_accounts`).
use super::dto::{PageOf, PageQuery};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::schema;
use super::state::AppState;
use crate::model::input::{DisplayName, Email, Invalid, Problems, Slug};
use crate::model::{OrgId, OrgMember, Organisation, UserId};
use crate::service::orgs::{MemberRef, NewMember};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgDetail {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub is_active: bool,
    pub logo_url: Option<String>,
    pub require_mfa: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Organisation> for OrgDetail {
    fn from(o: Organisation) -> Self {
        Self {
            id: o.id,
            slug: o.slug,
            name: o.name,
            is_active: o.active,
            logo_url: o.logo_url,
            require_mfa: o.require_mfa,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    #[schema(value_type = schema::Slug)]
    pub slug: String,
    #[schema(value_type = schema::DisplayName)]
    pub name: String,
}

impl CreateOrg {
    pub(crate) fn parse(self) -> Result<(Slug, DisplayName), Invalid> {
        let mut problems = Problems::default();
        let slug = problems.parse::<Slug>("slug", &self.slug);
        let name = problems.parse::<DisplayName>("name", &self.name);
        problems.done((slug, name))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    #[serde(default)]
    #[schema(value_type = Option<schema::DisplayName>)]
    pub name: Option<String>,
    /// Superusers only.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// An https URL shown on the organisation's hosted login pages; `""` removes it.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Members must log in with a second factor; one without any is sent to enrol first.
    #[serde(default)]
    pub require_mfa: Option<bool>,
}

impl UpdateOrg {
    /// The name and the logo as the rules take them (`""` removes the logo).
    pub(crate) fn parse(&self) -> Result<(Option<DisplayName>, Option<Option<String>>), Invalid> {
        let mut problems = Problems::default();
        let name = problems.parse_opt::<DisplayName>("name", self.name.as_deref());
        let logo_url = match self.logo_url.as_deref() {
            None => Some(None),
            Some("") => Some(Some(None)),
            Some(raw) => problems
                .check("logo_url", seed::rules::logo_url(raw))
                .map(|url| Some(Some(url))),
        };
        problems.done((name, logo_url))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub username: Option<String>,
    pub name: String,
    pub is_active: bool,
    pub roles: Vec<String>,
    pub joined_at: DateTime<Utc>,
}

impl From<OrgMember> for MemberView {
    fn from(m: OrgMember) -> Self {
        Self {
            user_id: m.user.id,
            email: m.user.email,
            username: m.user.username,
            name: m.user.display_name,
            is_active: m.user.active,
            roles: m.roles,
            joined_at: m.joined_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The user's email, or `user_id`.
    #[serde(default)]
    #[schema(value_type = Option<schema::Email>)]
    pub email: Option<String>,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// Role keys; default `["member"]`.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

impl AddMember {
    fn parse(self) -> Result<NewMember, Invalid> {
        let who = match (self.user_id, self.email.as_deref()) {
            (Some(id), _) => MemberRef::Id(UserId(id)),
            (None, Some(email)) => MemberRef::Email(Email::parse_field("email", email)?),
            (None, None) => return Err(Invalid::field("email", "email or user_id is required")),
        };
        Ok(NewMember { who, roles: self.roles })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RolesOf {
    pub user_id: Uuid,
    pub roles: Vec<String>,
}

#[utoipa::path(get, path = "/orgs", tag = "orgs", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageOf<OrgDetail>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageOf<OrgDetail>>> {
    let orgs = state.orgs.list(&caller, page.request()?).await?;
    Ok(Json(PageOf::map(orgs, OrgDetail::from)))
}

#[utoipa::path(post, path = "/orgs", tag = "orgs", security(("bearer" = [])), request_body = CreateOrg,
    responses((status = 201, body = OrgDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateOrg>,
) -> ApiResult<(StatusCode, Json<OrgDetail>)> {
    let (slug, name) = body.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(state.orgs.create(&caller, slug, name).await?.into()),
    ))
}

#[utoipa::path(get, path = "/orgs/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = OrgDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
) -> ApiResult<Json<OrgDetail>> {
    Ok(Json(state.orgs.get(&caller, id).await?.into()))
}

#[utoipa::path(patch, path = "/orgs/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateOrg,
    responses((status = 200, body = OrgDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<UpdateOrg>,
) -> ApiResult<Json<OrgDetail>> {
    let (name, logo_url) = body.parse()?;
    Ok(Json(
        state
            .orgs
            .update(&caller, id, name, body.is_active, logo_url, body.require_mfa)
            .await?
            .into(),
    ))
}

#[utoipa::path(delete, path = "/orgs/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
) -> ApiResult<StatusCode> {
    state.orgs.delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/orgs/{id}/members", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = PageOf<MemberView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageOf<MemberView>>> {
    let members = state.orgs.members(&caller, id, page.request()?).await?;
    Ok(Json(PageOf::map(members, MemberView::from)))
}

#[utoipa::path(post, path = "/orgs/{id}/members", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = AddMember,
    responses((status = 201, body = MemberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<AddMember>,
) -> ApiResult<(StatusCode, Json<MemberView>)> {
    let member = state.orgs.add_member(&caller, id, body.parse()?).await?;
    Ok((StatusCode::CREATED, Json(member.into())))
}

#[utoipa::path(put, path = "/orgs/{id}/members/{user_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = SetRoles,
    responses((status = 200, body = RolesOf), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, user_id)): ApiPath<(OrgId, UserId)>,
    ApiJson(body): ApiJson<SetRoles>,
) -> ApiResult<Json<RolesOf>> {
    let roles = state.orgs.set_roles(&caller, id, user_id, body.roles).await?;
    Ok(Json(RolesOf {
        user_id: user_id.uuid(),
        roles,
    }))
}

#[utoipa::path(delete, path = "/orgs/{id}/members/{user_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, user_id)): ApiPath<(OrgId, UserId)>,
) -> ApiResult<StatusCode> {
    state.orgs.remove_member(&caller, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
