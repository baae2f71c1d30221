//! axum extractors: [`UserContext`], `Option<UserContext>`, [`Fresh<UserContext>`] and
//! [`Principal`] read the bearer token and ask the [`Guildhall`] that [`crate::GuildhallLayer`]
//! put in the request's extensions. A verified user is kept in the extensions, so a guard and
//! the handler behind it verify once. Refusals answer `{"error": code, "detail": message}`.
use crate::Guildhall;
use crate::context::{Principal, Source, UserContext};
use crate::error::{Error, TokenError};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A user as guildhall sees them right now (`POST /auth/validate` on every request): current
/// memberships, and a revoked session refused even before the token expires. Use it for
/// sensitive operations.
#[derive(Debug, Clone)]
pub struct Fresh<T>(pub T);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::Unavailable(reason) => {
                tracing::warn!(%reason, "refused a request: guildhall is unavailable");
                "the identity service cannot be reached; try again shortly".to_owned()
            }
            Self::NotConfigured => {
                tracing::error!("an extractor ran without GuildhallLayer; add .layer(GuildhallLayer::new(..))");
                "authentication is not configured".to_owned()
            }
            other => {
                tracing::debug!(code = other.code(), "refused a request");
                other.to_string()
            }
        };
        let challenge = match &self {
            Self::MissingToken => Some("Bearer"),
            Self::Invalid(TokenError::NotAUserToken) | Self::Forbidden { .. } => {
                Some(r#"Bearer error="insufficient_scope""#)
            }
            Self::Invalid(_) => Some(r#"Bearer error="invalid_token""#),
            Self::Unavailable(_) | Self::NotConfigured => None,
        };
        let body = axum::Json(serde_json::json!({ "error": self.code(), "detail": detail }));
        let mut response = (status, body).into_response();
        if let Some(challenge) = challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// The bearer token of a request; `None` without an `Authorization: Bearer` header.
pub fn bearer_token(parts: &Parts) -> Option<Result<&str, Error>> {
    let value = parts.headers.get(header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err(TokenError::Malformed.into()));
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    Some(if token.is_empty() {
        Err(TokenError::Malformed.into())
    } else {
        Ok(token)
    })
}

fn guildhall(parts: &Parts) -> Result<Guildhall, Error> {
    parts.extensions.get::<Guildhall>().cloned().ok_or(Error::NotConfigured)
}

fn token(parts: &Parts) -> Result<String, Error> {
    bearer_token(parts).ok_or(Error::MissingToken)?.map(str::to_owned)
}

impl<S: Send + Sync> FromRequestParts<S> for UserContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        if let Some(known) = parts.extensions.get::<UserContext>() {
            return Ok(known.clone());
        }
        let user = guildhall(parts)?.user(&token(parts)?).await?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for UserContext {
    type Rejection = Error;

    /// `None` without a bearer token; a token that does not verify is still refused.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Error> {
        if bearer_token(parts).is_none() {
            return Ok(None);
        }
        <Self as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Fresh<UserContext> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        if let Some(known) = parts.extensions.get::<UserContext>()
            && known.source == Source::Validated
        {
            return Ok(Fresh(known.clone()));
        }
        let user = guildhall(parts)?.user_fresh(&token(parts)?).await?;
        parts.extensions.insert(user.clone());
        Ok(Fresh(user))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        if let Some(known) = parts.extensions.get::<UserContext>() {
            return Ok(Principal::User(known.clone()));
        }
        let principal = guildhall(parts)?.verify(&token(parts)?).await?;
        if let Principal::User(user) = &principal {
            parts.extensions.insert(user.clone());
        }
        Ok(principal)
    }
}
