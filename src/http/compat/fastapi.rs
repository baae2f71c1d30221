//! Seed 002's error bodies, exactly as FastAPI writes them, for seed 002's routes only
//! (`/users/*`, `/auth/token/refresh`, and `/auth/token` form logins without a `grant_type`):
//! `{"detail": "Not authenticated"}` (401, with `WWW-Authenticate: Bearer`), `{"detail": "Not
//! enough permissions"}` (403), `{"detail": "User not found"}` (404), a taken username `400
//! {"detail": "Username already registered"}`, and a 422 as FastAPI's list of problems
//! `{"detail": [{"loc": ["body", "<field>"], "msg", "type"}]}`. Anything else is `{"detail":
//! "<guildhall's sentence>"}` with guildhall's status. Never another key: its clients compare
//! bodies for equality.
use super::FormOrJson;
use crate::http::error::ApiError;
use crate::http::extract::Auth;
use crate::http::state::AppState;
use crate::model::input::Invalid;
use crate::service::ServiceError;
use crate::service::authz::Caller;
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// One entry of FastAPI's 422 list.
#[derive(Debug, Serialize)]
pub struct Problem {
    pub loc: [String; 2],
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl Problem {
    /// A problem with a field of `location` (`body` or `query`), typed as pydantic would.
    pub fn new(location: &str, field: &str, message: &str) -> Self {
        let missing = message == "is required" || message == "field required";
        let (msg, kind) = if missing {
            ("field required".to_owned(), "value_error.missing")
        } else {
            (message.to_owned(), "value_error")
        };
        Self {
            loc: [location.to_owned(), field.to_owned()],
            msg,
            kind: kind.to_owned(),
        }
    }

    pub fn typed(location: &str, field: &str, msg: &str, kind: &str) -> Self {
        Self {
            loc: [location.to_owned(), field.to_owned()],
            msg: msg.to_owned(),
            kind: kind.to_owned(),
        }
    }
}

/// An error of a seed 002 route.
#[derive(Debug)]
pub enum ClError {
    /// guildhall's error, its field problems (if any) located in the body.
    Api(ApiError),
    /// A 422 with problems located by the route.
    Problems(Vec<Problem>),
}

impl From<ApiError> for ClError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<ServiceError> for ClError {
    fn from(e: ServiceError) -> Self {
        Self::Api(e.into())
    }
}

impl From<Invalid> for ClError {
    fn from(e: Invalid) -> Self {
        Self::Api(e.into())
    }
}

impl IntoResponse for ClError {
    fn into_response(self) -> Response {
        let api = match self {
            Self::Problems(problems) => {
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "detail": problems }))).into_response();
            }
            Self::Api(api) => api,
        };
        let status = api.status();
        let retry_after = match &api {
            ApiError::TooManyRequests(wait) => HeaderValue::from_str(&wait.to_string()).ok(),
            ApiError::Overloaded => Some(HeaderValue::from_static("2")),
            _ => None,
        };
        let (status, body) = match api {
            ApiError::Unauthorized(..) => (status, json!({"detail": "Not authenticated"})),
            ApiError::Forbidden(..) => (status, json!({"detail": "Not enough permissions"})),
            ApiError::NotFound(_) => (status, json!({"detail": "User not found"})),
            ApiError::Conflict("user_exists", _) => (
                StatusCode::BAD_REQUEST,
                json!({"detail": "Username already registered"}),
            ),
            ApiError::Validation(errors) => {
                let problems: Vec<Problem> = errors
                    .iter()
                    .map(|e| Problem::new("body", &e.field, &e.message))
                    .collect();
                (status, json!({ "detail": problems }))
            }
            other => (status, json!({"detail": other.body().1})),
        };
        let mut response = (status, Json(body)).into_response();
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

/// `extract::Auth` with seed 002's errors.
pub struct ClAuth(pub Caller);

impl FromRequestParts<AppState> for ClAuth {
    type Rejection = ClError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ClError> {
        Ok(Self(Auth::from_request_parts(parts, state).await?.0))
    }
}

/// `FormOrJson` with seed 002's errors.
pub struct ClForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ClForm<T> {
    type Rejection = ClError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ClError> {
        Ok(Self(FormOrJson::<T>::from_request(req, state).await?.0))
    }
}
