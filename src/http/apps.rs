//! `/orgs/{id}/clients`: an organisation's applications (OAuth 2.0 / OpenID Connect clients).
//! `PUT` replaces an application's settings; a secret is in the answer that creates it (or
//! switches it to a secret method, or rotates it) and never again.
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, Auth};
use super::state::AppState;
use crate::model::{AppDraft, AppId, Application, ClientAuth, ClientKind, OrgId};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    pub id: Uuid,
    pub org_id: Uuid,
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
    pub token_endpoint_auth_method: ClientAuth,
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    /// Empty: OpenID Connect's standard scopes.
    pub scopes: Vec<String>,
    pub resources: Vec<String>,
    pub first_party: bool,
    pub multi_org: bool,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub backchannel_logout_uri: Option<String>,
    pub id_token_signed_response_alg: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only in the answer that creates the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<Application> for AppView {
    fn from(a: Application) -> Self {
        Self {
            id: a.id,
            org_id: a.org_id,
            client_id: a.client_id,
            name: a.name,
            kind: a.kind,
            token_endpoint_auth_method: a.auth_method,
            jwks: a.jwks,
            redirect_uris: a.redirect_uris,
            post_logout_redirect_uris: a.post_logout_redirect_uris,
            grant_types: a.grant_types.iter().map(|g| g.as_str().to_owned()).collect(),
            scopes: a.scopes,
            resources: a.resources,
            first_party: a.first_party,
            multi_org: a.multi_org,
            access_token_ttl: a.access_token_ttl,
            refresh_token_ttl: a.refresh_token_ttl,
            backchannel_logout_uri: a.backchannel_logout_uri,
            id_token_signed_response_alg: a.id_token_alg.unwrap_or_else(|| "RS256".into()),
            is_active: a.active,
            created_at: a.created_at,
            updated_at: a.updated_at,
            client_secret: None,
        }
    }
}

fn with_secret(app: Application, secret: Option<String>) -> AppView {
    AppView {
        client_secret: secret,
        ..app.into()
    }
}

#[utoipa::path(get, path = "/orgs/{id}/clients", tag = "applications", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<AppView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
) -> ApiResult<Json<Vec<AppView>>> {
    let apps = state.apps.list(&caller, id).await?;
    Ok(Json(apps.into_iter().map(AppView::from).collect()))
}

#[utoipa::path(post, path = "/orgs/{id}/clients", tag = "applications", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = AppDraft,
    responses((status = 201, body = AppView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<AppDraft>,
) -> ApiResult<(StatusCode, Json<AppView>)> {
    let (app, secret) = state.apps.create(&caller, id, body).await?;
    Ok((StatusCode::CREATED, Json(with_secret(app, secret))))
}

#[utoipa::path(get, path = "/orgs/{id}/clients/{app_id}", tag = "applications", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("app_id" = Uuid, Path)),
    responses((status = 200, body = AppView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, app_id)): ApiPath<(OrgId, AppId)>,
) -> ApiResult<Json<AppView>> {
    Ok(Json(state.apps.get(&caller, id, app_id).await?.into()))
}

#[utoipa::path(put, path = "/orgs/{id}/clients/{app_id}", tag = "applications", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("app_id" = Uuid, Path)), request_body = AppDraft,
    responses((status = 200, body = AppView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, app_id)): ApiPath<(OrgId, AppId)>,
    ApiJson(body): ApiJson<AppDraft>,
) -> ApiResult<Json<AppView>> {
    let (app, secret) = state.apps.replace(&caller, id, app_id, body).await?;
    Ok(Json(with_secret(app, secret)))
}

#[utoipa::path(post, path = "/orgs/{id}/clients/{app_id}/secret", tag = "applications", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("app_id" = Uuid, Path)),
    responses((status = 200, body = AppView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, app_id)): ApiPath<(OrgId, AppId)>,
) -> ApiResult<Json<AppView>> {
    let (app, secret) = state.apps.rotate_secret(&caller, id, app_id).await?;
    Ok(Json(with_secret(app, Some(secret))))
}

#[utoipa::path(delete, path = "/orgs/{id}/clients/{app_id}", tag = "applications", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("app_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, app_id)): ApiPath<(OrgId, AppId)>,
) -> ApiResult<StatusCode> {
    state.apps.delete(&caller, id, app_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
