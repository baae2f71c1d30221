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

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "meta", responses((status = 200, description = "Discovery document")))]
pub async fn discovery(State(state): State<AppState>) -> Json<Value> {
    let issuer = state.config.issuer.trim_end_matches('/');
    let algorithm = state.keys.current().signing().algorithm.as_str();
    Json(json!({
        "issuer": state.config.issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "token_endpoint": format!("{issuer}/auth/token"),
        "userinfo_endpoint": format!("{issuer}/auth/me"),
        "revocation_endpoint": format!("{issuer}/auth/logout"),
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": ["none"],
        "id_token_signing_alg_values_supported": [algorithm],
        "token_endpoint_auth_signing_alg_values_supported": [algorithm],
        "claims_supported": ["iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "email", "email_verified", "name", "preferred_username", "org", "roles", "permissions", "teams", "domains", "mv"],
    }))
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
