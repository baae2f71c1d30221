//! `/orgs/{id}/roles`: an organisation's roles and their permissions.
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, Auth};
use super::schema;
use super::state::AppState;
use crate::model::input::{DisplayName, Invalid, Key, Permissions, Problems};
use crate::model::{OrgId, Role, RoleId};
use crate::service::orgs::{NewRole, RolePatch};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

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
    #[schema(value_type = schema::Key)]
    pub key: String,
    /// Default: the key.
    #[serde(default)]
    #[schema(value_type = Option<schema::DisplayName>)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<schema::Permission>)]
    pub permissions: Vec<String>,
}

impl CreateRole {
    pub(crate) fn parse(self) -> Result<NewRole, Invalid> {
        let mut problems = Problems::default();
        let key = problems.parse::<Key>("key", &self.key);
        let name = problems.parse_opt::<DisplayName>("name", self.name.as_deref());
        let permissions = problems.check("permissions", Permissions::parse(&self.permissions));
        let (key, name, permissions) = problems.done((key, name, permissions))?;
        Ok(NewRole { key, name, permissions })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    #[serde(default)]
    #[schema(value_type = Option<schema::DisplayName>)]
    pub name: Option<String>,
    /// Replaces the role's permissions.
    #[serde(default)]
    #[schema(value_type = Option<Vec<schema::Permission>>)]
    pub permissions: Option<Vec<String>>,
}

impl UpdateRole {
    pub(crate) fn parse(self) -> Result<RolePatch, Invalid> {
        let mut problems = Problems::default();
        let name = problems.parse_opt::<DisplayName>("name", self.name.as_deref());
        let permissions = match &self.permissions {
            Some(p) => problems.check("permissions", Permissions::parse(p)).map(Some),
            None => Some(None),
        };
        let (name, permissions) = problems.done((name, permissions))?;
        Ok(RolePatch { name, permissions })
    }
}

#[utoipa::path(get, path = "/orgs/{id}/roles", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<RoleView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
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
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<CreateRole>,
) -> ApiResult<(StatusCode, Json<RoleView>)> {
    let role = state.orgs.create_role(&caller, id, body.parse()?).await?;
    Ok((StatusCode::CREATED, Json(role.into())))
}

#[utoipa::path(patch, path = "/orgs/{id}/roles/{role_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("role_id" = Uuid, Path)), request_body = UpdateRole,
    responses((status = 200, body = RoleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, role_id)): ApiPath<(OrgId, RoleId)>,
    ApiJson(body): ApiJson<UpdateRole>,
) -> ApiResult<Json<RoleView>> {
    Ok(Json(
        state
            .orgs
            .update_role(&caller, id, role_id, body.parse()?)
            .await?
            .into(),
    ))
}

#[utoipa::path(delete, path = "/orgs/{id}/roles/{role_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("role_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, role_id)): ApiPath<(OrgId, RoleId)>,
) -> ApiResult<StatusCode> {
    state.orgs.delete_role(&caller, id, role_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
