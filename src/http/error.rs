//! The one error type of the HTTP layer. Every error answers
//! `{"error": code, "detail": message, "request_id": id}` (+ `errors` on 422); internal causes go
//! to the log, never to the client.
use crate::model::input::Invalid;
use crate::service::{FieldError, ServiceError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The seconds a 503 asks the client to wait (`Retry-After`): long enough for a database restart
/// or a failover to begin, short enough that a client does not give up.
pub const RETRY_UNAVAILABLE_SECONDS: u32 = 5;

tokio::task_local! {
    /// The id of the request being handled, for error bodies.
    pub static REQUEST_ID: String;
}

#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not well-formed (`malformed_json`, `malformed_form`, `bad_request`).
    BadRequest(&'static str, String),
    /// 401 with `WWW-Authenticate: Bearer`: missing or invalid credentials or token.
    Unauthorized(&'static str, String),
    /// 403: authenticated but not allowed.
    Forbidden(&'static str, String),
    /// 404: no such thing, or not visible to the caller.
    NotFound(String),
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 409: conflicts with existing data.
    Conflict(&'static str, String),
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 429: too many failed logins for the name; the seconds to wait (also in `Retry-After`).
    TooManyRequests(i64),
    /// 429 `mail_paced`: a message went to this address moments ago; the seconds to wait (also in
    /// `Retry-After`).
    Paced(i64),
    /// 415: the body is not of the expected content type.
    UnsupportedMediaType(&'static str),
    /// 422: fields failed validation.
    Validation(Vec<FieldError>),
    /// 502: an upstream service (an identity provider) cannot be reached or answers nonsense.
    BadGateway(&'static str, String),
    /// 503 with `Retry-After` (`RETRY_UNAVAILABLE_SECONDS`): a dependency (the database) does not
    /// answer.
    Unavailable,
    /// 503 with `Retry-After`: too much work queued (password hashing); try again shortly.
    Overloaded,
    /// 401 `mfa_required` or 403 `mfa_enrollment_required`, with the token to go on with.
    SecondFactor(crate::service::SecondFactor),
    /// 500: anything else; the cause is logged.
    Internal,
}

/// The error body, as documented in the OpenAPI description.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub error: String,
    /// Human-readable message.
    pub detail: String,
    /// The request's id (also in the `x-request-id` header).
    pub request_id: String,
    /// Per-field problems, on 422 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldErrorBody>>,
    /// On `mfa_required` and `mfa_enrollment_required` only: the single-use token (5 minutes)
    /// for `POST /auth/mfa/verify`, or for enrolling a second factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// On `mfa_required` only: the second factors the account has (`totp`, `recovery_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(..) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            Self::SecondFactor(crate::service::SecondFactor::Required { .. }) => StatusCode::UNAUTHORIZED,
            Self::SecondFactor(crate::service::SecondFactor::EnrollmentRequired { .. }) => StatusCode::FORBIDDEN,
            Self::Forbidden(..) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(..) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests(_) | Self::Paced(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(..) => StatusCode::BAD_GATEWAY,
            Self::Unavailable | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn body(self) -> (String, String, Option<Vec<FieldErrorBody>>) {
        let (code, detail) = match self {
            Self::BadRequest(code, detail)
            | Self::Unauthorized(code, detail)
            | Self::Forbidden(code, detail)
            | Self::Conflict(code, detail)
            | Self::BadGateway(code, detail) => (code, detail),
            Self::NotFound(detail) => ("not_found", detail),
            Self::MethodNotAllowed => ("method_not_allowed", "Method not allowed".into()),
            Self::PayloadTooLarge => ("payload_too_large", "the request body is larger than 64 KiB".into()),
            Self::UnsupportedMediaType(expected) => {
                ("unsupported_media_type", format!("the request body must be {expected}"))
            }
            Self::Validation(errors) => {
                let fields = errors
                    .into_iter()
                    .map(|e| FieldErrorBody {
                        field: e.field,
                        message: e.message,
                    })
                    .collect();
                return (
                    "validation_failed".into(),
                    "the request has invalid fields".into(),
                    Some(fields),
                );
            }
            Self::TooManyRequests(wait) => (
                "too_many_attempts",
                format!("too many failed logins for this account; try again in {wait} seconds"),
            ),
            Self::Paced(wait) => (
                "mail_paced",
                format!("a message went to this address moments ago; try again in {wait} seconds"),
            ),
            Self::Unavailable => ("unavailable", "the service is temporarily unavailable".into()),
            Self::Overloaded => ("overloaded", "the server is busy; try again in a few seconds".into()),
            Self::SecondFactor(crate::service::SecondFactor::Required { .. }) => (
                "mfa_required",
                "the password is right; give a second factor with POST /auth/mfa/verify".into(),
            ),
            Self::SecondFactor(crate::service::SecondFactor::EnrollmentRequired { .. }) => (
                "mfa_enrollment_required",
                "the organisation requires a second factor: enrol one with the mfa_token (POST /auth/mfa/totp)".into(),
            ),
            Self::Internal => ("internal_error", "an internal error occurred".into()),
        };
        (code.to_owned(), detail, None)
    }
}

/// The id of the request being handled (empty outside one): error bodies carry it, and so do
/// the warnings and errors logged for a request (the per-request span is at debug level).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match self {
            Self::TooManyRequests(wait) | Self::Paced(wait) => HeaderValue::from_str(&wait.to_string()).ok(),
            Self::Overloaded => Some(HeaderValue::from_static("2")),
            Self::Unavailable => Some(HeaderValue::from(RETRY_UNAVAILABLE_SECONDS)),
            _ => None,
        };
        let (mfa_token, methods) = match &self {
            Self::SecondFactor(crate::service::SecondFactor::Required { token, methods }) => {
                (Some(token.clone()), Some(methods.clone()))
            }
            Self::SecondFactor(crate::service::SecondFactor::EnrollmentRequired { token }) => {
                (Some(token.clone()), None)
            }
            _ => (None, None),
        };
        let (error, detail, errors) = self.body();
        let request_id = current_request_id();
        let mut response = (
            status,
            axum::Json(ErrorBody {
                error,
                detail,
                request_id,
                errors,
                mfa_token,
                methods,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(wait) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, wait);
        }
        response
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::Validation(e.0)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Validation(errors) => Self::Validation(errors),
            ServiceError::Unauthenticated => Self::Unauthorized("not_authenticated", "Not authenticated".into()),
            ServiceError::Unauthorized(code, detail) => Self::Unauthorized(code, detail.into()),
            ServiceError::ExternalTokenRefused(reason) => Self::Unauthorized(reason, "the token is not valid".into()),
            ServiceError::InvalidCredentials => {
                Self::Unauthorized("invalid_credentials", "Incorrect email/username or password".into())
            }
            ServiceError::TooManyAttempts(wait) => Self::TooManyRequests(wait),
            ServiceError::InvalidToken(reason) => Self::Unauthorized("invalid_token", reason.to_string()),
            ServiceError::InvalidGrant(detail) => Self::Unauthorized("invalid_grant", detail.into()),
            ServiceError::InvalidClient => Self::Unauthorized("invalid_client", "client authentication failed".into()),

            ServiceError::Forbidden(code, detail) => Self::Forbidden(code, detail.into()),
            ServiceError::NotFound(detail) => Self::NotFound(detail.into()),
            ServiceError::Conflict(code, detail) => Self::Conflict(code, detail.into()),
            ServiceError::Overloaded => Self::Overloaded,
            ServiceError::SecondFactor(next) => Self::SecondFactor(next),
            ServiceError::Paced(wait) => Self::Paced(wait),
            ServiceError::Upstream(code, detail) => Self::BadGateway(code, detail.into()),
            ServiceError::Unavailable(cause) => {
                tracing::warn!(
                    error = format!("{cause:#}"),
                    request_id = current_request_id(),
                    "dependency unavailable"
                );
                Self::Unavailable
            }
            ServiceError::Internal(cause) => {
                tracing::error!(
                    error = format!("{cause:#}"),
                    request_id = current_request_id(),
                    "internal error"
                );
                Self::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::VerifyError;

    #[test]
    fn service_errors_map_to_their_statuses_and_hide_internal_causes() {
        let cases: Vec<(ServiceError, StatusCode, &str)> = vec![
            (
                ServiceError::Validation(vec![]),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                ServiceError::InvalidCredentials,
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
            ),
            (
                ServiceError::TooManyAttempts(60),
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
            ),
            (
                ServiceError::InvalidToken(VerifyError::Expired),
                StatusCode::UNAUTHORIZED,
                "invalid_token",
            ),
            (
                ServiceError::InvalidGrant("x"),
                StatusCode::UNAUTHORIZED,
                "invalid_grant",
            ),
            (ServiceError::Forbidden("nope", "x"), StatusCode::FORBIDDEN, "nope"),
            (ServiceError::NotFound("x"), StatusCode::NOT_FOUND, "not_found"),
            (ServiceError::Conflict("dup", "x"), StatusCode::CONFLICT, "dup"),
            (
                ServiceError::Unavailable(anyhow::anyhow!("db down")),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
            (
                ServiceError::Internal(anyhow::anyhow!("secret cause")),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status(), status);
            let (got, detail, _) = api.body();
            assert_eq!(got, code);
            assert!(!detail.contains("secret cause") && !detail.contains("db down"));
        }
    }

    #[test]
    fn waits_are_in_retry_after() {
        let cases = [
            (ApiError::Unavailable, Some("5")),
            (ApiError::TooManyRequests(60), Some("60")),
            (ApiError::Internal, None),
        ];
        for (error, wait) in cases {
            let response = error.into_response();
            let got = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap());
            assert_eq!(got, wait, "{}", response.status());
        }
    }
}
