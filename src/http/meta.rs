//! Health, readiness, keys and discovery.
use super::dto::{Message, PublicKey, Status};
use super::error::{ApiError, ErrorBody};
use super::state::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

#[utoipa::path(get, path = "/health", tag = "meta", responses((status = 200, body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Ready when the database answers.
#[utoipa::path(get, path = "/readyz", tag = "meta", responses((status = 200, body = Status), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    state.auth.ready().await?;
    Ok(Json(Status { status: "ok" }))
}

#[utoipa::path(get, path = "/", tag = "meta", responses((status = 200, body = Message)))]
pub async fn root() -> Json<Message> {
    Json(Message {
        message: "authentication service is running",
    })
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "meta", responses((status = 200, description = "JSON Web Key Set")))]
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.keys.current().jwks().clone())
}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "meta", responses((status = 200, description = "OpenID Connect Discovery 1.0 document")))]
pub async fn discovery(State(state): State<AppState>) -> Json<Value> {
    Json(provider_metadata(&state))
}

/// RFC 8414 authorization server metadata: the same document.
pub async fn authorization_server(State(state): State<AppState>) -> Json<Value> {
    Json(provider_metadata(&state))
}

/// What guildhall as an OpenID Provider supports, every endpoint and method of it (and only
/// those): OpenID Connect Discovery 1.0 §3, RFC 8414 §2, RFC 8628 §4, RFC 9207 §3.
fn provider_metadata(state: &AppState) -> Value {
    let issuer = state.config.issuer.trim_end_matches('/');
    let access = state.keys.current().signing().algorithm;
    let mut id_token_algs = vec!["RS256"];
    if !matches!(access, crate::token::Algorithm::RS256 | crate::token::Algorithm::HS256) {
        id_token_algs.push(access.as_str());
    }
    let client_auth = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
    let confidential_auth = ["client_secret_basic", "client_secret_post", "private_key_jwt"];
    let assertion_algs = ["RS256", "RS384", "RS512", "PS256", "ES256", "EdDSA"];
    json!({
        "issuer": state.config.issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{issuer}/oauth2/logout"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "device_authorization_endpoint": format!("{issuer}/oauth2/device_authorization"),
        "scopes_supported": crate::model::client::STANDARD_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": id_token_algs,
        "token_endpoint_auth_methods_supported": client_auth,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": confidential_auth,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp", "at_hash",
            "email", "email_verified", "name", "preferred_username", "updated_at", "org", "roles"
        ],
        "acr_values_supported": ["urn:guildhall:acr:1fa", "urn:guildhall:acr:mfa"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "ui_locales_supported": ["en"],
        "service_documentation": format!("{issuer}/docs"),
    })
}

/// The current signing key as PEM (seed 002); 404 under HS256, which has no public key.
#[utoipa::path(get, path = "/auth/public-key", tag = "meta", responses((status = 200, body = PublicKey), (status = 404, body = ErrorBody)))]
pub async fn public_key(State(state): State<AppState>) -> Result<Json<PublicKey>, ApiError> {
    let ring = state.keys.current();
    let key = ring.signing();
    let pem = key.pem.clone().ok_or_else(|| {
        ApiError::NotFound("HS256 tokens have no public key; validate them with POST /auth/validate".into())
    })?;
    Ok(Json(PublicKey {
        public_key: pem,
        algorithm: key.algorithm.as_str().to_owned(),
    }))
}

/// ReDoc (bundled, MIT: `assets/redoc.LICENSE`), reading `/openapi.json`; nothing from the internet.
const REDOC_PAGE: &str = r#"<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>guildhall API</title>
  </head>
  <body>
    <div id="redoc"></div>
    <script src="/redoc/redoc.standalone.js"></script>
    <script>Redoc.init("/openapi.json", {}, document.getElementById("redoc"));</script>
  </body>
</html>
"#;

pub async fn redoc() -> axum::response::Html<&'static str> {
    axum::response::Html(REDOC_PAGE)
}

pub async fn redoc_script() -> impl axum::response::IntoResponse {
    use axum::http::header;
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("assets/redoc.standalone.js"),
    )
}
