//! `/domains`: the active organisation's domain tree and who is assigned where.
use super::dto::{DomainView, nullable};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::schema;
use super::state::AppState;
use crate::model::input::{DisplayName, Invalid, Key, Problems};
use crate::model::{Domain, DomainId, UserId};
use crate::service::domains::{DomainNode, DomainPatch, NewDomain};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainDetail {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub parent_id: Option<Uuid>,
    /// Keys from the root; null when the domain or an ancestor is inactive.
    pub path: Option<String>,
    pub is_active: bool,
    /// Present in `format=tree`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub children: Option<Vec<DomainDetail>>,
}

impl DomainDetail {
    fn node(n: DomainNode, tree: bool) -> Self {
        let children = tree.then(|| n.children.into_iter().map(|c| Self::node(c, true)).collect());
        Self {
            children,
            ..Self::plain(n.domain, n.path)
        }
    }

    fn plain(d: Domain, path: Option<String>) -> Self {
        Self {
            id: d.id,
            key: d.key,
            name: d.name,
            parent_id: d.parent_id,
            path,
            is_active: d.active,
            children: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomain {
    #[schema(value_type = schema::Key)]
    pub key: String,
    #[schema(value_type = schema::DisplayName)]
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl CreateDomain {
    pub(crate) fn parse(self) -> Result<NewDomain, Invalid> {
        let mut problems = Problems::default();
        let key = problems.parse::<Key>("key", &self.key);
        let name = problems.parse::<DisplayName>("name", &self.name);
        let (key, name) = problems.done((key, name))?;
        Ok(NewDomain {
            key,
            name,
            parent_id: self.parent_id.map(DomainId),
            active: self.is_active,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomain {
    #[serde(default)]
    #[schema(value_type = Option<schema::Key>)]
    pub key: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<schema::DisplayName>)]
    pub name: Option<String>,
    /// A new parent, or null for a root.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl UpdateDomain {
    pub(crate) fn parse(self) -> Result<DomainPatch, Invalid> {
        let mut problems = Problems::default();
        let key = problems.parse_opt::<Key>("key", self.key.as_deref());
        let name = problems.parse_opt::<DisplayName>("name", self.name.as_deref());
        let (key, name) = problems.done((key, name))?;
        Ok(DomainPatch {
            key,
            name,
            parent_id: self.parent_id.map(|p| p.map(DomainId)),
            active: self.is_active,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `flat` (the default): every domain with its path; `tree`: the roots with their `children`.
    #[param(nullable = false, inline)]
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Flat,
    Tree,
}

#[utoipa::path(get, path = "/domains", tag = "domains", security(("bearer" = [])),
    responses((status = 200, body = Vec<DomainView>), (status = 401, body = ErrorBody)))]
pub async fn mine(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Vec<DomainView>>> {
    Ok(Json(
        state
            .domains
            .mine(&caller)
            .await?
            .iter()
            .map(DomainView::from)
            .collect(),
    ))
}

#[utoipa::path(get, path = "/domains/all", tag = "domains", security(("bearer" = [])), params(FormatQuery),
    responses((status = 200, body = Vec<DomainDetail>), (status = 422, body = ErrorBody)))]
pub async fn all(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> ApiResult<Json<Vec<DomainDetail>>> {
    let tree = q.format == Format::Tree;
    let nodes = if tree {
        state.domains.forest(&caller).await?
    } else {
        state.domains.flat(&caller).await?
    };
    Ok(Json(nodes.into_iter().map(|n| DomainDetail::node(n, tree)).collect()))
}

#[utoipa::path(post, path = "/domains", tag = "domains", security(("bearer" = [])), request_body = CreateDomain,
    responses((status = 201, body = DomainDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateDomain>,
) -> ApiResult<(StatusCode, Json<DomainDetail>)> {
    let node = state.domains.create(&caller, body.parse()?).await?;
    Ok((StatusCode::CREATED, Json(DomainDetail::node(node, false))))
}

#[utoipa::path(get, path = "/domains/{id}", tag = "domains", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = DomainDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<DomainId>,
) -> ApiResult<Json<DomainDetail>> {
    Ok(Json(DomainDetail::node(state.domains.get(&caller, id).await?, false)))
}

#[utoipa::path(patch, path = "/domains/{id}", tag = "domains", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateDomain,
    responses((status = 200, body = DomainDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<DomainId>,
    ApiJson(body): ApiJson<UpdateDomain>,
) -> ApiResult<Json<DomainDetail>> {
    let node = state.domains.update(&caller, id, body.parse()?).await?;
    Ok(Json(DomainDetail::node(node, false)))
}

#[utoipa::path(delete, path = "/domains/{id}", tag = "domains", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<DomainId>,
) -> ApiResult<StatusCode> {
    state.domains.delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/domains/{id}/users/{user_id}", tag = "domains", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assign(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, user_id)): ApiPath<(DomainId, UserId)>,
) -> ApiResult<StatusCode> {
    state.domains.assign(&caller, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/domains/{id}/users/{user_id}", tag = "domains", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unassign(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, user_id)): ApiPath<(DomainId, UserId)>,
) -> ApiResult<StatusCode> {
    state.domains.unassign(&caller, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
