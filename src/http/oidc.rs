//! `/auth/oidc/*`: logging in through an external OpenID Connect provider, home-realm discovery,
//! and the one-time code exchange. See `service::oidc` for the rules.
use super::dto::TokenResponse;
use super::error::{ApiError, ErrorBody, current_request_id};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::schema;
use super::state::AppState;
use crate::model::ClientInfo;
use crate::service::ServiceError;
use crate::service::oidc::{Callback, OidcError, Served};
use crate::service::with_query;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The cookie binding a login to the browser that started it.
const COOKIE: &str = "guildhall_oidc";

type ApiResult<T> = Result<T, ApiError>;

impl From<OidcError> for ApiError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::Invalid(code, detail) => ApiError::BadRequest(code, detail.into()),
            OidcError::Unreachable(cause) => {
                tracing::warn!(error = %cause, request_id = current_request_id(), "identity provider unreachable");
                ApiError::BadGateway("provider_unavailable", "the identity provider cannot be reached".into())
            }
            OidcError::Insecure => ApiError::BadGateway(
                "insecure_provider",
                "the identity provider would take the password over plain http".into(),
            ),
            OidcError::Service(e) => e.into(),
            OidcError::Redirect { error, description, .. } => ApiError::BadRequest(error, description),
        }
    }
}

fn found(location: &str) -> ApiResult<Response> {
    let location = HeaderValue::from_str(location).map_err(|_| ApiError::Internal)?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// Where the frontend wants the result; must be one of `AUTH_OIDC_REDIRECT_URIS` exactly (400
    /// `invalid_redirect_uri` otherwise).
    #[param(required = true, nullable = false)]
    pub redirect_uri: Option<String>,
    /// Echoed back to `redirect_uri` untouched (the frontend's own CSRF check); at most 512 bytes.
    #[param(nullable = false, max_length = 512)]
    pub state: Option<String>,
}

/// Starts a login at the provider: 302 there, with PKCE, `state` and `nonce`.
#[utoipa::path(get, path = "/auth/oidc/{provider}/login", tag = "oidc",
    params(("provider" = String, Path, description = "Provider slug (`default`: AUTH_OIDC_*)"), LoginQuery),
    responses((status = 302, description = "To the provider"), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    ApiQuery(query): ApiQuery<LoginQuery>,
) -> ApiResult<Response> {
    let started = state
        .oidc
        .begin(&provider, query.redirect_uri.as_deref(), query.state)
        .await?;
    let secure = state.config.oidc.public_url.starts_with("https://");
    let mut response = found(&started.location)?;
    response
        .headers_mut()
        .insert(header::SET_COOKIE, browser_binding(&started.browser, secure)?);
    Ok(response)
}

/// The cookie binding a login to the browser that started it (ten minutes, this path only).
fn browser_binding(value: &str, secure: bool) -> ApiResult<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={value}; Path=/auth/oidc; Max-Age=600; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&cookie).map_err(|_| ApiError::Internal)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    #[param(nullable = false)]
    pub code: Option<String>,
    /// The state this service sent to the provider (400 `invalid_state` when missing or unknown).
    #[param(required = true, nullable = false)]
    pub state: Option<String>,
    #[param(nullable = false)]
    pub error: Option<String>,
    /// RFC 9207 authorization response issuer.
    #[param(nullable = false)]
    pub iss: Option<String>,
}

fn browser_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The provider's redirect back: 302 to the frontend's `redirect_uri` with `?code=` (exchange it
/// at `POST /auth/oidc/exchange`) or `?error=&error_description=`; 400 when the state is missing,
/// unknown, replayed, expired, another provider's or another browser's.
#[utoipa::path(get, path = "/auth/oidc/{provider}/callback", tag = "oidc",
    params(("provider" = String, Path, description = "Provider slug"), CallbackQuery),
    responses((status = 302, description = "To the frontend"), (status = 400, body = ErrorBody)))]
pub async fn callback(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    ApiQuery(query): ApiQuery<CallbackQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let answer = Callback {
        code: query.code,
        state: query.state,
        error: query.error,
        iss: query.iss,
    };
    let outcome = state.oidc.callback(&provider, answer, browser_cookie(&headers)).await;
    let mut response = found(&where_to(outcome)?)?;
    let clear = HeaderValue::from_static("guildhall_oidc=; Path=/auth/oidc; Max-Age=0; HttpOnly; SameSite=Lax");
    response.headers_mut().insert(header::SET_COOKIE, clear);
    Ok(response)
}

/// Where the browser goes after the callback: the frontend, with the code or with the error.
fn where_to(outcome: Result<String, OidcError>) -> ApiResult<String> {
    match outcome {
        Ok(location) => Ok(location),
        Err(OidcError::Redirect {
            to,
            client_state,
            error,
            description,
        }) => {
            let mut params = vec![("error", error), ("error_description", description.as_str())];
            params.extend(client_state.as_deref().map(|s| ("state", s)));
            Ok(with_query(&to, &params))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExchangeRequest {
    /// The one-time code from the redirect.
    pub code: String,
}

/// The one-time code from an external login for the session's tokens (once, within a minute).
/// An account with a second factor answers 401 `mfa_required` (then `POST /auth/mfa/verify`),
/// a member of an organisation that requires one and has none 403 `mfa_enrollment_required`.
#[utoipa::path(post, path = "/auth/oidc/exchange", tag = "oidc", request_body = ExchangeRequest,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn exchange(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<ExchangeRequest>,
) -> ApiResult<Json<TokenResponse>> {
    match state.auth.exchange_oidc_code(&body.code, client).await {
        Ok(grant) => Ok(Json(grant.into())),
        Err(ServiceError::InvalidGrant(detail)) => Err(ApiError::BadRequest("invalid_code", detail.into())),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DiscoverRequest {
    #[schema(value_type = schema::Email)]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServedProvider {
    pub slug: String,
    pub name: String,
    /// The organisation's slug.
    pub organization: String,
    /// Send the browser here (add `redirect_uri`).
    pub login_url: String,
}

impl From<Served> for ServedProvider {
    fn from(p: Served) -> Self {
        Self {
            slug: p.slug,
            name: p.name,
            organization: p.organization,
            login_url: p.login_url,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoverResponse {
    pub providers: Vec<ServedProvider>,
}

/// Home-realm discovery: which providers serve this email's domain (empty: use a password).
#[utoipa::path(post, path = "/auth/oidc/discover", tag = "oidc", request_body = DiscoverRequest,
    responses((status = 200, body = DiscoverResponse), (status = 422, body = ErrorBody)))]
pub async fn discover(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DiscoverRequest>,
) -> ApiResult<Json<DiscoverResponse>> {
    let served = state.oidc.discover(&body.email).await?;
    let providers = served.into_iter().map(ServedProvider::from).collect();
    Ok(Json(DiscoverResponse { providers }))
}
