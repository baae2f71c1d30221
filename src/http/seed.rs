//! `POST /admin/seed`: apply (or with `?dry_run=true`, plan) a seed document; superusers only.
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiQuery, Auth};
use super::state::AppState;
use crate::service::seeding::{Action, Plan, SeedOptions, Step};
use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Largest seed document accepted over HTTP.
pub const SEED_BODY_LIMIT: usize = 8 * 1024 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeedQuery {
    /// Plan only: report what would change, change nothing.
    #[serde(default)]
    #[param(required = false)]
    pub dry_run: bool,
    /// Also delete what the document no longer names inside the organisations it lists.
    #[serde(default)]
    #[param(required = false)]
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

impl SeedResponse {
    fn new(plan: Plan, dry_run: bool) -> Self {
        let summary = SeedSummary {
            create: plan.count(Action::Create),
            update: plan.count(Action::Update),
            delete: plan.count(Action::Delete),
            unchanged: plan.count(Action::Unchanged),
        };
        let changes = plan
            .changes
            .into_iter()
            .map(|Step { action, object }| SeedChange { action, object })
            .collect();
        Self {
            dry_run,
            summary,
            changes,
        }
    }
}

/// A seed document as text: YAML or JSON, UTF-8.
pub struct SeedDocument(String);

/// What the description says of a seed document: an object of organisations (`seed/schema.json`
/// has the whole of it; the seed crate checks it, and the references inside it, on apply).
impl utoipa::PartialSchema for SeedDocument {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some("A seed document (`seed/schema.json`): the organisations with their roles, teams, nested domains, users, memberships and service accounts."))
            .property(
                "orgs",
                ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::Object)),
            )
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for SeedDocument {}

impl<S: Send + Sync> FromRequest<S> for SeedDocument {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
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
        let body = String::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("bad_request", "the document is not UTF-8".into())
            }
        })?;
        Ok(Self(body))
    }
}

#[utoipa::path(post, path = "/admin/seed", tag = "admin", security(("bearer" = [])), params(SeedQuery),
    request_body(content((SeedDocument = "application/yaml"), (SeedDocument = "application/json")), description = "A seed document, in YAML or JSON"),
    responses((status = 200, body = SeedResponse), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(query): ApiQuery<SeedQuery>,
    SeedDocument(text): SeedDocument,
) -> Result<Json<SeedResponse>, ApiError> {
    let options = SeedOptions {
        dry_run: query.dry_run,
        prune: query.prune,
    };
    let plan = state.seeds.apply_as(&caller, &text, options).await?;
    Ok(Json(SeedResponse::new(plan, query.dry_run)))
}
