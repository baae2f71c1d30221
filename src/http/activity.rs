//! `/admin/events` and `/admin/audit`.
use super::dto::{PageOf, PageQuery};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiQuery, Auth};
use super::state::AppState;
use crate::model::{AuditEntry, StoredEvent};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    /// The NATS subject.
    pub subject: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub org_id: Option<Uuid>,
    /// The CloudEvent as published.
    pub event: Value,
    pub created_at: DateTime<Utc>,
    /// When NATS took it; null while it waits in the outbox.
    pub published_at: Option<DateTime<Utc>>,
}

impl From<StoredEvent> for EventView {
    fn from(e: StoredEvent) -> Self {
        Self {
            event: serde_json::from_str(&e.payload).unwrap_or(Value::Null),
            id: e.id,
            subject: e.subject,
            event_type: e.event_type,
            org_id: e.org_id,
            created_at: e.created_at,
            published_at: e.published_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
    pub detail: Option<Value>,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditView {
    fn from(a: AuditEntry) -> Self {
        Self {
            id: a.id,
            org_id: a.org_id,
            actor_id: a.actor_id,
            actor: a.actor,
            action: a.action,
            target_type: a.target_type,
            target_id: a.target_id,
            ip: a.ip,
            outcome: a.outcome,
            detail: a.detail,
            created_at: a.created_at,
        }
    }
}

#[utoipa::path(get, path = "/admin/events", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageOf<EventView>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<PageOf<EventView>>, ApiError> {
    Ok(Json(PageOf::map(
        state.activity.events(&caller, page.request()?).await?,
        EventView::from,
    )))
}

#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageOf<AuditView>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn audit(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<PageOf<AuditView>>, ApiError> {
    Ok(Json(PageOf::map(
        state.activity.audit(&caller, page.request()?).await?,
        AuditView::from,
    )))
}
