//! `GET /metrics`: the Prometheus text format, on the API's router or, with `AUTH_METRICS_ADDR`,
//! on a listener of its own (`metrics_router`) so that it need not be public.
use super::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// Prometheus metrics of this replica (names in the README, "Metrics").
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state
        .metrics
        .refresh(&state.db, state.hasher.queued(), state.changes.now())
        .await;
    let content_type = HeaderValue::from_static(crate::metrics::CONTENT_TYPE);
    ([(header::CONTENT_TYPE, content_type)], state.metrics.render())
}

/// The router of a metrics-only listener.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}
