//! `POST /admin/seed`: apply (or with `?dry_run=true`, plan) a seed document; superusers only.
use super::error::{ApiError, ErrorBody};
use super::extract::Auth;
use super::state::AppState;
use crate::service::seeding::{Action, Change, SeedOptions};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Largest seed document accepted over HTTP.
pub const SEED_BODY_LIMIT: usize = 8 * 1024 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SeedQuery {
    /// Plan only: report what would change, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Also delete what the document no longer names inside the organisations it lists.
    #[serde(default)]
    pub prune: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeedChange {
    /// `create`, `update`, `unchanged` or `delete`.
    #[schema(value_type = String)]
    pub action: Action,
    pub object: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeedSummary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeedResponse {
    pub dry_run: bool,
    pub summary: SeedSummary,
    pub changes: Vec<SeedChange>,
}

#[utoipa::path(post, path = "/admin/seed", tag = "admin", security(("bearer" = [])), params(SeedQuery),
    request_body(content = String, content_type = "application/yaml", description = "A seed document (YAML or JSON)"),
    responses((status = 200, body = SeedResponse), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(query): Query<SeedQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SeedResponse>, ApiError> {
    caller.superuser()?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let accepted = [
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/x-yaml",
        "application/json",
        "text/plain",
    ];
    if !accepted.iter().any(|t| content_type.starts_with(t)) {
        return Err(ApiError::UnsupportedMediaType("application/yaml or application/json"));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("bad_request", "the document is not UTF-8".into()))?;
    let document = state.seeds.parse(text)?;
    let options = SeedOptions {
        dry_run: query.dry_run,
        prune: query.prune,
    };
    let plan = state.seeds.apply(&caller.actor(), &document, options).await?;
    let summary = SeedSummary {
        create: plan.count(Action::Create),
        update: plan.count(Action::Update),
        delete: plan.count(Action::Delete),
        unchanged: plan.count(Action::Unchanged),
    };
    let changes = plan
        .changes
        .into_iter()
        .map(|Change { action, object }| SeedChange { action, object })
        .collect();
    Ok(Json(SeedResponse {
        dry_run: query.dry_run,
        summary,
        changes,
    }))
}
