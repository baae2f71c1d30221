//! Routes that keep the seed services' documented clients working unchanged: seed 000's
//! `/api/auth/*`, seed 001's `/login`, `/logout`, `/me`, seed 002's `/auth/token/refresh` and
//! `/users/*`. Seed 003 needs no routes of its own (its shapes are the native API; its
//! development headers are in `extract::Auth`), nor does seed 004 (`/auth/password/*` is native).
pub mod cl;
pub mod daarion;
pub mod edd;
pub mod fastapi;

use super::error::ApiError;
use super::extract::{ApiForm, parse_json};
use super::state::AppState;
use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(daarion::register))
        .route("/api/auth/login", post(daarion::login))
        .route("/api/auth/refresh", post(daarion::refresh))
        .route("/api/auth/logout", post(daarion::logout))
        .route("/api/auth/me", get(daarion::me))
        .route("/api/auth/introspect", post(daarion::introspect))
        .route("/login", post(edd::login))
        .route("/logout", post(edd::logout))
        .route("/me", get(edd::me))
        .route("/auth/token/refresh", post(cl::refresh))
        .route("/users/me", get(cl::me))
        .route("/users/", get(cl::list).post(cl::create))
        .route("/users", get(cl::list).post(cl::create))
        .route("/users/{user_id}", get(cl::get).put(cl::update).delete(cl::delete))
}

/// A body sent as a form or as JSON (seed 002 documents forms; its Python example posts JSON).
pub struct FormOrJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormOrJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
        if json {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|_| ApiError::BadRequest("bad_request", "the request body could not be read".into()))?;
            return parse_json(&bytes).map(Self);
        }
        ApiForm::<T>::from_request(req, state).await.map(|f| Self(f.0))
    }
}
