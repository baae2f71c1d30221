//! `/orgs/{id}/identity-providers`: an organisation's OpenID Connect providers. The client secret
//! is accepted, never returned (`has_client_secret` says whether one is set).
use super::dto::nullable;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, Auth};
use super::schema;
use super::state::AppState;
use crate::model::{ClaimMapping, IdentityProvider, OrgId, ProviderId};
use crate::service::providers::ProviderInput;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

/// What a provider's claim value (e.g. a group) grants.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingView {
    /// The claim's value (e.g. a group's name).
    #[schema(min_length = 1)]
    pub value: String,
    /// Keys of the organisation's roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Team slug → role.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, crate::http::teams::TeamRoleName>)]
    pub teams: BTreeMap<String, String>,
    /// Keys of the organisation's domains.
    #[serde(default)]
    pub domains: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub has_client_secret: bool,
    pub scopes: Vec<String>,
    pub email_domains: Vec<String>,
    /// Create accounts on first login.
    pub jit: bool,
    /// Link an existing account with the same email when the provider asserts `email_verified`.
    pub link_by_email: bool,
    pub groups_claim: String,
    pub mappings: Vec<MappingView>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<IdentityProvider> for ProviderView {
    fn from(p: IdentityProvider) -> Self {
        Self {
            id: p.id,
            slug: p.slug,
            name: p.name,
            issuer: p.issuer,
            client_id: p.client_id,
            has_client_secret: p.has_client_secret,
            scopes: p.scopes,
            email_domains: p.email_domains,
            jit: p.jit,
            link_by_email: p.link_by_email,
            groups_claim: p.groups_claim,
            mappings: p
                .mappings
                .into_iter()
                .map(|m| MappingView {
                    value: m.value,
                    roles: m.roles,
                    teams: m.teams,
                    domains: m.domains,
                })
                .collect(),
            is_active: p.active,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderBody {
    /// Not `default` (the provider configured by `AUTH_OIDC_*`).
    #[schema(value_type = schema::ProviderSlug)]
    pub slug: String,
    #[schema(value_type = schema::DisplayName)]
    pub name: String,
    #[schema(value_type = schema::Issuer)]
    pub issuer: String,
    /// At most 255 bytes; surrounding whitespace is dropped.
    #[schema(value_type = schema::NotBlank, max_length = 255)]
    pub client_id: String,
    /// Write-only; omit to keep the stored one, `null` to remove it (a public client with PKCE).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<Option<String>>,
    /// Default `["openid", "email", "profile"]`; must include `openid`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Emails of these domains are offered this provider (`POST /auth/oidc/discover`).
    #[serde(default)]
    #[schema(value_type = Vec<schema::EmailDomain>)]
    pub email_domains: Vec<String>,
    #[serde(default)]
    pub jit: bool,
    #[serde(default)]
    pub link_by_email: bool,
    /// Default `groups`; 1–100 bytes.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub groups_claim: Option<String>,
    #[serde(default)]
    pub mappings: Vec<MappingView>,
    #[serde(default = "yes")]
    pub is_active: bool,
}

fn yes() -> bool {
    true
}

impl From<ProviderBody> for ProviderInput {
    fn from(b: ProviderBody) -> Self {
        Self {
            slug: b.slug,
            name: b.name,
            issuer: b.issuer,
            client_id: b.client_id,
            client_secret: b.client_secret,
            scopes: b.scopes,
            email_domains: b.email_domains,
            jit: b.jit,
            link_by_email: b.link_by_email,
            groups_claim: b.groups_claim,
            mappings: b
                .mappings
                .into_iter()
                .map(|m| ClaimMapping {
                    value: m.value,
                    roles: m.roles,
                    teams: m.teams,
                    domains: m.domains,
                })
                .collect(),
            active: b.is_active,
        }
    }
}

#[utoipa::path(get, path = "/orgs/{id}/identity-providers", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<ProviderView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
) -> ApiResult<Json<Vec<ProviderView>>> {
    let providers = state.providers.list(&caller, id).await?;
    Ok(Json(providers.into_iter().map(ProviderView::from).collect()))
}

#[utoipa::path(post, path = "/orgs/{id}/identity-providers", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = ProviderBody,
    responses((status = 201, body = ProviderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<ProviderBody>,
) -> ApiResult<(StatusCode, Json<ProviderView>)> {
    let provider = state.providers.create(&caller, id, body.into()).await?;
    Ok((StatusCode::CREATED, Json(provider.into())))
}

#[utoipa::path(get, path = "/orgs/{id}/identity-providers/{provider_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("provider_id" = Uuid, Path)),
    responses((status = 200, body = ProviderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, provider)): ApiPath<(OrgId, ProviderId)>,
) -> ApiResult<Json<ProviderView>> {
    Ok(Json(state.providers.get(&caller, id, provider).await?.into()))
}

#[utoipa::path(put, path = "/orgs/{id}/identity-providers/{provider_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("provider_id" = Uuid, Path)), request_body = ProviderBody,
    responses((status = 200, body = ProviderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, provider)): ApiPath<(OrgId, ProviderId)>,
    ApiJson(body): ApiJson<ProviderBody>,
) -> ApiResult<Json<ProviderView>> {
    Ok(Json(
        state.providers.update(&caller, id, provider, body.into()).await?.into(),
    ))
}

#[utoipa::path(delete, path = "/orgs/{id}/identity-providers/{provider_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("provider_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, provider)): ApiPath<(OrgId, ProviderId)>,
) -> ApiResult<StatusCode> {
    state.providers.delete(&caller, id, provider).await?;
    Ok(StatusCode::NO_CONTENT)
}
