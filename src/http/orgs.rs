//! `/orgs`: organisations, their members, roles and service accounts.
use super::dto::{PageOf, PageQuery};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, Auth};
use super::state::AppState;
use crate::model::{OrgMember, Organisation, Role, ServiceAccount};
use crate::service::orgs::{NewMember, RolePatch};
use axum::Json;
use axum::extract::{Query, State};
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
    pub created_at: DateTime<Utc>,
}

impl From<Organisation> for OrgDetail {
    fn from(o: Organisation) -> Self {
        Self {
            id: o.id,
            slug: o.slug,
            name: o.name,
            is_active: o.active,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    #[serde(default)]
    pub name: Option<String>,
    /// Superusers only.
    #[serde(default)]
    pub is_active: Option<bool>,
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
    pub email: Option<String>,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// Role keys; default `["member"]`.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub builtin: bool,
    pub permissions: Vec<String>,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        Self {
            id: r.id,
            key: r.key,
            name: r.name,
            builtin: r.builtin,
            permissions: r.permissions,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    pub key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAccountView {
    pub id: Uuid,
    pub client_id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    /// Only in the answer that creates the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<ServiceAccount> for ServiceAccountView {
    fn from(a: ServiceAccount) -> Self {
        Self {
            id: a.id,
            client_id: a.client_id,
            name: a.name,
            permissions: a.permissions,
            is_active: a.active,
            created_at: a.created_at,
            client_secret: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccount {
    pub name: String,
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[utoipa::path(get, path = "/orgs", tag = "orgs", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageOf<OrgDetail>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<PageOf<OrgDetail>>> {
    Ok(Json(PageOf::map(
        state.orgs.list(&caller, page.request()?).await?,
        OrgDetail::from,
    )))
}

#[utoipa::path(post, path = "/orgs", tag = "orgs", security(("bearer" = [])), request_body = CreateOrg,
    responses((status = 201, body = OrgDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateOrg>,
) -> ApiResult<(StatusCode, Json<OrgDetail>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.orgs.create(&caller, body.slug, body.name).await?.into()),
    ))
}

#[utoipa::path(get, path = "/orgs/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = OrgDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<OrgDetail>> {
    Ok(Json(state.orgs.get(&caller, id).await?.into()))
}

#[utoipa::path(patch, path = "/orgs/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateOrg,
    responses((status = 200, body = OrgDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateOrg>,
) -> ApiResult<Json<OrgDetail>> {
    Ok(Json(
        state.orgs.update(&caller, id, body.name, body.is_active).await?.into(),
    ))
}

#[utoipa::path(delete, path = "/orgs/{id}", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    state.orgs.delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/orgs/{id}/members", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = PageOf<MemberView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<PageOf<MemberView>>> {
    Ok(Json(PageOf::map(
        state.orgs.members(&caller, id, page.request()?).await?,
        MemberView::from,
    )))
}

#[utoipa::path(post, path = "/orgs/{id}/members", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = AddMember,
    responses((status = 201, body = MemberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AddMember>,
) -> ApiResult<(StatusCode, Json<MemberView>)> {
    let input = NewMember {
        email: body.email,
        user_id: body.user_id,
        roles: body.roles,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.orgs.add_member(&caller, id, input).await?.into()),
    ))
}

#[utoipa::path(put, path = "/orgs/{id}/members/{user_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = SetRoles,
    responses((status = 200, body = RolesOf), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, user_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<SetRoles>,
) -> ApiResult<Json<RolesOf>> {
    let roles = state.orgs.set_roles(&caller, id, user_id, body.roles).await?;
    Ok(Json(RolesOf { user_id, roles }))
}

#[utoipa::path(delete, path = "/orgs/{id}/members/{user_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, user_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state.orgs.remove_member(&caller, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/orgs/{id}/roles", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<RoleView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<RoleView>>> {
    Ok(Json(
        state
            .orgs
            .roles(&caller, id)
            .await?
            .into_iter()
            .map(RoleView::from)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/orgs/{id}/roles", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreateRole,
    responses((status = 201, body = RoleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_role(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CreateRole>,
) -> ApiResult<(StatusCode, Json<RoleView>)> {
    let role = state
        .orgs
        .create_role(&caller, id, body.key, body.name, body.permissions)
        .await?;
    Ok((StatusCode::CREATED, Json(role.into())))
}

#[utoipa::path(patch, path = "/orgs/{id}/roles/{role_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("role_id" = Uuid, Path)), request_body = UpdateRole,
    responses((status = 200, body = RoleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_role(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, role_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<UpdateRole>,
) -> ApiResult<Json<RoleView>> {
    let patch = RolePatch {
        name: body.name,
        permissions: body.permissions,
    };
    Ok(Json(state.orgs.update_role(&caller, id, role_id, patch).await?.into()))
}

#[utoipa::path(delete, path = "/orgs/{id}/roles/{role_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("role_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_role(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, role_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state.orgs.delete_role(&caller, id, role_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/orgs/{id}/service-accounts", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<ServiceAccountView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn service_accounts(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<ServiceAccountView>>> {
    Ok(Json(
        state
            .clients
            .list(&caller, id)
            .await?
            .into_iter()
            .map(ServiceAccountView::from)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/orgs/{id}/service-accounts", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = CreateServiceAccount,
    responses((status = 201, body = ServiceAccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_service_account(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CreateServiceAccount>,
) -> ApiResult<(StatusCode, Json<ServiceAccountView>)> {
    let (account, secret) = state.clients.create(&caller, id, body.name, body.permissions).await?;
    Ok((
        StatusCode::CREATED,
        Json(ServiceAccountView {
            client_secret: Some(secret),
            ..account.into()
        }),
    ))
}

#[utoipa::path(delete, path = "/orgs/{id}/service-accounts/{account_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("account_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_service_account(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, account_id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state.clients.delete(&caller, id, account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
