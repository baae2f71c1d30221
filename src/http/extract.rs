//! Extractors that answer bad input with our error shape: JSON and form bodies (content type,
//! size, syntax, and per-field problems), query strings, path parameters, the bearer principal,
//! client info. No text may hold a NUL character: PostgreSQL cannot store one (a 422 naming the
//! field, or a 404 for a path).
use super::error::ApiError;
use super::state::AppState;
use crate::model::ClientInfo;
use crate::service::FieldError;
use crate::service::authn::Credential;
use crate::service::authz::Caller;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    let Some(essence) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
    else {
        return false;
    };
    let suffix = essence.len().checked_sub(5).and_then(|i| essence.get(i..));
    essence.eq_ignore_ascii_case(expected)
        || (expected == "application/json" && suffix.is_some_and(|s| s.eq_ignore_ascii_case("+json")))
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("bad_request", "the request body could not be read".into())
        }
    })
}

/// Drops serde_json's " at line L column C" suffix.
fn message_of(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// `Json<T>` with our errors: 415 for another content type, 413 over 64 KiB, 400 for malformed
/// JSON, 422 naming the field for missing or mistyped fields.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !content_type_is(req.headers(), "application/json") {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(Self)
    }
}

/// Parses a JSON body with our errors: 400 for malformed JSON, 422 naming the field for
/// missing, mistyped or unknown fields. Every body is an object: serde would also read a struct
/// from an array of its fields in order (`[null, null]`), which no client means.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(field) = nul_in_json(bytes) {
        return Err(holds_nul(field));
    }
    let object = bytes.iter().find(|b| !b" \t\n\r".contains(b)) == Some(&b'{');
    // The common case parses once; only a failure is parsed again, to say what is wrong.
    if object && let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }

    let malformed = |e: &serde_json::Error| {
        ApiError::BadRequest(
            "malformed_json",
            format!("the body is not valid JSON: {}", message_of(e)),
        )
    };
    // Syntax first (bodies are small), so that malformed JSON is a 400 whatever it holds.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|e| malformed(&e))?;
    if !object {
        return Err(ApiError::Validation(vec![FieldError {
            field: "body".into(),
            message: "must be a JSON object".into(),
        }]));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => Ok(value),
        Err(error) if error.inner().is_data() => {
            let path = error.path().to_string();
            let field = if path == "." {
                missing_field(error.inner()).unwrap_or_else(|| "body".into())
            } else {
                path
            };
            Err(ApiError::Validation(vec![FieldError {
                field,
                message: message_of(error.inner()),
            }]))
        }
        Err(error) => Err(malformed(error.inner())),
    }
}

fn holds_nul(field: String) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field,
        message: "must not contain NUL characters".into(),
    }])
}

/// Where a JSON body holds a NUL character (`\u0000`, its only spelling in JSON): the path to the
/// first string or key with one (`body` for the whole), if any.
fn nul_in_json(bytes: &[u8]) -> Option<String> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    find_nul(&value, "")
}

fn find_nul(value: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    let name = || {
        if at.is_empty() {
            "body".to_owned()
        } else {
            at.to_owned()
        }
    };
    match value {
        Value::String(text) => text.contains('\0').then(name),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_nul(item, &format!("{}[{i}]", name()))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let here = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            if key.contains('\0') {
                Some(here)
            } else {
                find_nul(item, &here)
            }
        }),
        _ => None,
    }
}

/// A JSON body that may be absent (empty): `None` then.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = content_type_is(req.headers(), "application/json");
        let bytes = body_bytes(req, state).await?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        parse_json(&bytes).map(|v| Self(Some(v)))
    }
}

/// The field serde names in "missing field `x`", "unknown field `x`" or "duplicate field `x`".
fn missing_field(error: &impl std::fmt::Display) -> Option<String> {
    let text = error.to_string();
    let rest = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))?;
    rest.split('`').next().map(String::from)
}

/// `Form<T>` with our errors, for `application/x-www-form-urlencoded` bodies.
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !content_type_is(req.headers(), "application/x-www-form-urlencoded") {
            return Err(ApiError::UnsupportedMediaType("application/x-www-form-urlencoded"));
        }
        let bytes = body_bytes(req, state).await?;
        parse_urlencoded(&bytes, "body").map(Self)
    }
}

/// `Query<T>` with our errors: a 422 naming the parameter that is missing, mistyped or out of
/// range for its type (`?limit=abc`, `?skip=99999999999999999999`), instead of axum's plain-text
/// 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_urlencoded(parts.uri.query().unwrap_or_default().as_bytes(), "query").map(Self)
    }
}

/// Parses a query string or a form with our errors (see `ApiQuery`); `whole` names the input
/// when no one field is at fault.
pub fn parse_urlencoded<T: DeserializeOwned>(input: &[u8], whole: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(input);
    if let Some((name, _)) = pairs.clone().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
        return Err(holds_nul(name.into_owned()));
    }
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." {
            missing_field(error.inner()).unwrap_or_else(|| whole.into())
        } else {
            path
        };
        ApiError::Validation(vec![FieldError {
            field,
            message: message_of(error.inner()),
        }])
    })
}

/// A path parameter; a malformed one (not a UUID, or holding a NUL) is simply not found.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if parts.uri.path().as_bytes().windows(3).any(|w| w == b"%00") {
            return Err(ApiError::NotFound("not found".into()));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|_| ApiError::NotFound("not found".into()))
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// What a request presents to authenticate: a bearer token, else seed 003's development headers
/// (`X-User-Email`, optionally `X-User-Name`; honoured only where the `Authenticator` allows
/// them), else nothing.
pub fn credential(headers: &HeaderMap) -> Credential<'_> {
    if let Some(token) = bearer(headers) {
        return Credential::Bearer(token);
    }
    let email = headers
        .get("x-user-email")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|e| !e.is_empty());
    match email {
        Some(email) => Credential::DevHeaders {
            email,
            name: headers.get("x-user-name").and_then(|v| v.to_str().ok()).map(str::trim),
        },
        None => Credential::None,
    }
}

/// The authenticated user: a valid access token of a live session and their current standing in
/// the token's organisation, or (development only) the user development headers name.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let mut caller = state.authn.caller(credential(&parts.headers)).await?;
        caller.ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(Self(caller))
    }
}

/// The bearer token, if the request has one.
pub struct Bearer(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(bearer(&parts.headers).map(String::from)))
    }
}

/// HTTP Basic credentials (`client_id:client_secret`), if present.
pub fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(ClientInfo { user_agent, ip })
    }
}
