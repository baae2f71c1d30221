//! guildhall as an OpenID Provider over HTTP: the OAuth endpoints (`/oauth2/token`, `revoke`,
//! `introspect`, `userinfo`, `device_authorization`), which answer RFC 6749 §5.2 errors
//! (`{"error", "error_description"}`), and the hosted pages (`pages`, `flow`). These are
//! described by the discovery documents, not by `/openapi.json` (which describes guildhall's own
//! JSON API).
pub mod flow;
pub mod pages;

use super::auth::introspection;
use super::error::{ApiError, current_request_id};
use super::state::AppState;
use crate::model::ClientInfo;
use crate::service::ServiceError;
use crate::service::openid::{Client, ClientCredentials, OAuthError, TokenRequest};
use axum::Json;
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(super::meta::authorization_server),
        )
        .route("/oauth2/authorize", get(flow::authorize_get).post(flow::authorize_post))
        .route("/oauth2/login", post(flow::login))
        .route("/oauth2/sso", post(flow::single_sign_on))
        .route("/oauth2/federated", get(flow::federate))
        .route("/oauth2/federated/return", get(flow::federated_return))
        .route("/oauth2/select-account", post(flow::select_account))
        .route("/oauth2/organization", post(flow::organization))
        .route("/oauth2/consent", post(flow::consent))
        .route("/oauth2/mfa", post(flow::second_factor))
        .route("/oauth2/mfa/enrol", post(flow::enrol_factor))
        .route("/oauth2/mfa/passkey", post(flow::passkey_second_factor))
        .route("/oauth2/passkey", post(flow::passkey_login))
        .route("/oauth2/passkey/options", post(flow::passkey_options))
        .route("/oauth2/continue", post(flow::resume))
        .route("/oauth2/logout", get(flow::logout_get).post(flow::logout_post))
        .route("/oauth2/assets/style.css", get(style))
        .route("/oauth2/assets/passkey.js", get(passkey_script))
        .route("/device", get(flow::device_get).post(flow::device_post))
        .route("/oauth2/token", post(token))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/device_authorization", post(device_authorization))
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::STYLE,
    )
}

async fn passkey_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::PASSKEY_SCRIPT,
    )
}

/// An OAuth endpoint's error, as RFC 6749 §5.2 says (plus our request id).
pub struct OAuthResponse(OAuthError, bool);

impl From<OAuthError> for OAuthResponse {
    fn from(e: OAuthError) -> Self {
        Self(e, false)
    }
}

impl From<ServiceError> for OAuthResponse {
    fn from(e: ServiceError) -> Self {
        Self(OAuthError::from(e), false)
    }
}

impl IntoResponse for OAuthResponse {
    fn into_response(self) -> Response {
        let (status, error, description) = match self.0 {
            OAuthError::Refused { error, description } => {
                let status = match error {
                    "invalid_client" => StatusCode::UNAUTHORIZED,
                    _ => StatusCode::BAD_REQUEST,
                };
                (status, error, description.into_owned())
            }
            OAuthError::Service(e) => {
                // Logged (and hidden) the way the JSON API does it.
                let api = ApiError::from(e);
                let status = api.status();
                let error = match status {
                    StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => "temporarily_unavailable",
                    _ => "server_error",
                };
                let description = match status {
                    StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => "try again shortly",
                    _ => "an internal error occurred",
                };
                (status, error, description.to_owned())
            }
        };
        let body = json!({"error": error, "error_description": description, "request_id": current_request_id()});
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            let scheme = if self.1 { "Basic realm=\"guildhall\"" } else { "Bearer" };
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// A form body of an OAuth endpoint (`application/x-www-form-urlencoded`, RFC 6749 §3.2);
/// anything else, or a parameter given twice, is `invalid_request`.
pub struct OAuthForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OAuthForm<T> {
    type Rejection = OAuthResponse;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if req.method() != Method::POST {
            return Err(OAuthError::new("invalid_request", "use POST").into());
        }
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err(
                OAuthError::new("invalid_request", "the body must be application/x-www-form-urlencoded").into(),
            );
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| OAuthResponse::from(OAuthError::new("invalid_request", "the body cannot be read")))?;
        let value = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            OAuthResponse::from(OAuthError::new(
                "invalid_request",
                format!("the form is malformed: {e}"),
            ))
        })?;
        Ok(Self(value))
    }
}

/// Client authentication parameters of a form.
#[derive(Debug, Default, Deserialize)]
pub struct ClientFields {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// HTTP Basic client credentials, each form-urlencoded first (RFC 6749 §2.3.1).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let (id, secret) = super::extract::basic(headers)?;
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(&id), decode(&secret)))
}

async fn client(state: &AppState, headers: &HeaderMap, fields: ClientFields) -> Result<Client, OAuthResponse> {
    let basic = basic(headers);
    let used_basic = basic.is_some();
    let creds = ClientCredentials {
        basic,
        client_id: fields.client_id,
        client_secret: fields.client_secret,
        client_assertion_type: fields.client_assertion_type,
        client_assertion: fields.client_assertion,
    };
    state
        .openid
        .authenticate_client(creds)
        .await
        .map_err(|e| OAuthResponse(e, used_basic))
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(flatten)]
    request: TokenFields,
    #[serde(flatten)]
    client: ClientFields,
}

#[derive(Debug, Default, Deserialize)]
struct TokenFields {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
    device_code: Option<String>,
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<AppState>,
    from: ClientInfo,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm<TokenForm>,
) -> Result<Response, OAuthResponse> {
    let client = client(&state, &headers, form.client).await?;
    let f = form.request;
    let request = TokenRequest {
        grant_type: f.grant_type,
        code: f.code,
        redirect_uri: f.redirect_uri,
        code_verifier: f.code_verifier,
        refresh_token: f.refresh_token,
        scope: f.scope,
        resource: f.resource,
        device_code: f.device_code,
    };
    let answer = state.openid.token(client, request, from).await?;
    Ok(no_store(Json(answer).into_response()))
}

#[derive(Debug, Deserialize)]
pub struct TokenOnlyForm {
    token: Option<String>,
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    #[serde(flatten)]
    client: ClientFields,
}

/// `POST /oauth2/revoke` (RFC 7009): 200 whatever the token was.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm<TokenOnlyForm>,
) -> Result<Response, OAuthResponse> {
    let client = client(&state, &headers, form.client).await?;
    let token = form
        .token
        .ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
    state.openid.revoke(&client, &token).await?;
    Ok(no_store(StatusCode::OK.into_response()))
}

/// `POST /oauth2/introspect` (RFC 7662).
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm<TokenOnlyForm>,
) -> Result<Response, OAuthResponse> {
    let client = client(&state, &headers, form.client).await?;
    let token = form
        .token
        .ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
    let found = state.openid.introspect(&client, &token).await?;
    Ok(no_store(Json(introspection::rfc7662(found)).into_response()))
}

#[derive(Debug, Deserialize)]
pub struct DeviceForm {
    scope: Option<String>,
    #[serde(flatten)]
    client: ClientFields,
}

/// `POST /oauth2/device_authorization` (RFC 8628 §3.1).
pub async fn device_authorization(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm<DeviceForm>,
) -> Result<Response, OAuthResponse> {
    let client = client(&state, &headers, form.client).await?;
    let started = state
        .openid
        .device_authorization(&client, form.scope.as_deref())
        .await?;
    Ok(no_store(Json(started).into_response()))
}

/// A bearer error for userinfo (RFC 6750 §3).
fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    let mut response = (
        status,
        Json(json!({"error": error, "error_description": description, "request_id": current_request_id()})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `GET|POST /oauth2/userinfo` (OIDC Core §5.3): the bearer token in the header, or (POST) as
/// `access_token` in a form body.
pub async fn userinfo(State(state): State<AppState>, request: Request) -> Response {
    let header_token = super::extract::bearer(request.headers()).map(String::from);
    let token = match header_token {
        Some(token) => Some(token),
        None if request.method() == Method::POST => {
            #[derive(Deserialize)]
            struct Body {
                access_token: Option<String>,
            }
            match OAuthForm::<Body>::from_request(request, &()).await {
                Ok(OAuthForm(body)) => body.access_token,
                Err(_) => None,
            }
        }
        None => None,
    };
    let Some(token) = token else {
        return bearer_error(StatusCode::UNAUTHORIZED, "invalid_request", "no access token");
    };
    match state.openid.userinfo(&token).await {
        Ok(info) => no_store(Json(info).into_response()),
        Err(ServiceError::InvalidToken(_) | ServiceError::Unauthenticated) => bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is not valid",
        ),
        Err(ServiceError::Forbidden(..)) => bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "userinfo needs a user's access token",
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}
