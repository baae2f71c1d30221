//! `/orgs/{id}/service-accounts`: an organisation's service accounts (the secret is in the
//! creating answer only).
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, Auth};
use super::schema;
use super::state::AppState;
use crate::model::input::{DisplayName, Invalid, Permissions, Problems};
use crate::model::{OrgId, ServiceAccount, ServiceAccountId};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

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
    #[schema(value_type = schema::DisplayName)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Vec<schema::Permission>)]
    pub permissions: Vec<String>,
}

impl CreateServiceAccount {
    pub(crate) fn parse(self) -> Result<(DisplayName, Permissions), Invalid> {
        let mut problems = Problems::default();
        let name = problems.parse::<DisplayName>("name", &self.name);
        let permissions = problems.check("permissions", Permissions::parse(&self.permissions));
        problems.done((name, permissions))
    }
}

#[utoipa::path(get, path = "/orgs/{id}/service-accounts", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<ServiceAccountView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
) -> ApiResult<Json<Vec<ServiceAccountView>>> {
    let accounts = state.clients.list(&caller, id).await?;
    Ok(Json(accounts.into_iter().map(ServiceAccountView::from).collect()))
}

#[utoipa::path(post, path = "/orgs/{id}/service-accounts", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = CreateServiceAccount,
    responses((status = 201, body = ServiceAccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<CreateServiceAccount>,
) -> ApiResult<(StatusCode, Json<ServiceAccountView>)> {
    let (name, permissions) = body.parse()?;
    let (account, secret) = state.clients.create(&caller, id, name, permissions).await?;
    let client_secret = Some(secret);
    Ok((
        StatusCode::CREATED,
        Json(ServiceAccountView {
            client_secret,
            ..account.into()
        }),
    ))
}

#[utoipa::path(delete, path = "/orgs/{id}/service-accounts/{account_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("account_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, account_id)): ApiPath<(OrgId, ServiceAccountId)>,
) -> ApiResult<StatusCode> {
    state.clients.delete(&caller, id, account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
