//! `/orgs/{id}/webhooks`: an organisation's webhooks (the signing secret is in the creating
//! answer only) and their deliveries.
use super::dto::{PageOf, PageQuery};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::state::AppState;
use crate::model::input::{Invalid, Problems};
use crate::model::{Delivery, OrgId, Webhook, WebhookId};
use crate::service::webhooks::{WebhookInput, WebhookPatch, destination, parse_event_types};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub is_active: bool,
    /// Why it is disabled: `persistent_failure` (its deliveries failed for the retry window) or
    /// `disabled_by_admin`.
    pub disabled_reason: Option<String>,
    /// Since when its attempts have failed; null after a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `whsec_...`, in the answer that creates the webhook only: verify deliveries with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            org_id: w.org_id,
            url: w.url,
            event_types: w.event_types,
            is_active: w.active,
            disabled_reason: w.disabled_reason,
            failing_since: w.failing_since,
            created_at: w.created_at,
            updated_at: w.updated_at,
            secret: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    /// The event's id: the `webhook-id` header, the same on every attempt.
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i32,
    /// The receiver's last HTTP status; null when it did not answer.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The body as sent.
    pub payload: Value,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            payload: serde_json::from_str(&d.payload).unwrap_or(Value::Null),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An `http(s)` URL; private, loopback and link-local destinations are refused.
    pub url: String,
    /// CloudEvents types (`guildhall.user.created`), `guildhall.<object>.*`, or `*`.
    pub event_types: Vec<String>,
}

impl CreateWebhook {
    fn parse(self) -> Result<WebhookInput, Invalid> {
        let mut problems = Problems::default();
        let url = problems.check("url", destination::parse(&self.url));
        let event_types = problems.check("event_types", parse_event_types(&self.event_types));
        let (url, event_types) = problems.done((url, event_types))?;
        Ok(WebhookInput { url, event_types })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// `true` enables a disabled webhook (its past failures are forgotten); `false` disables it.
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl UpdateWebhook {
    fn parse(self) -> Result<WebhookPatch, Invalid> {
        let mut problems = Problems::default();
        let url = match self.url.as_deref() {
            Some(raw) => problems.check("url", destination::parse(raw)).map(Some),
            None => Some(None),
        };
        let event_types = match self.event_types.as_deref() {
            Some(types) => problems.check("event_types", parse_event_types(types)).map(Some),
            None => Some(None),
        };
        let (url, event_types) = problems.done((url, event_types))?;
        Ok(WebhookPatch {
            url,
            event_types,
            active: self.is_active,
        })
    }
}

#[utoipa::path(get, path = "/orgs/{id}/webhooks", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<WebhookView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
) -> ApiResult<Json<Vec<WebhookView>>> {
    let hooks = state.webhooks.list(&caller, id).await?;
    Ok(Json(hooks.into_iter().map(WebhookView::from).collect()))
}

/// Creates a webhook; the answer's `secret` is shown this once.
#[utoipa::path(post, path = "/orgs/{id}/webhooks", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = CreateWebhook,
    responses((status = 201, body = WebhookView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let (webhook, secret) = state.webhooks.create(&caller, id, body.parse()?).await?;
    let view = WebhookView {
        secret: Some(secret),
        ..webhook.into()
    };
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/orgs/{id}/webhooks/{webhook_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("webhook_id" = Uuid, Path)),
    responses((status = 200, body = WebhookView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, webhook_id)): ApiPath<(OrgId, WebhookId)>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(state.webhooks.get(&caller, id, webhook_id).await?.into()))
}

#[utoipa::path(patch, path = "/orgs/{id}/webhooks/{webhook_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("webhook_id" = Uuid, Path)), request_body = UpdateWebhook,
    responses((status = 200, body = WebhookView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, webhook_id)): ApiPath<(OrgId, WebhookId)>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> ApiResult<Json<WebhookView>> {
    let patch = body.parse()?;
    Ok(Json(
        state.webhooks.update(&caller, id, webhook_id, patch).await?.into(),
    ))
}

#[utoipa::path(delete, path = "/orgs/{id}/webhooks/{webhook_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("webhook_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, webhook_id)): ApiPath<(OrgId, WebhookId)>,
) -> ApiResult<StatusCode> {
    state.webhooks.delete(&caller, id, webhook_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The webhook's deliveries, oldest first: status, attempts, the last answer, the next attempt.
#[utoipa::path(get, path = "/orgs/{id}/webhooks/{webhook_id}/deliveries", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("webhook_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = PageOf<DeliveryView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, webhook_id)): ApiPath<(OrgId, WebhookId)>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageOf<DeliveryView>>> {
    let page = state
        .webhooks
        .deliveries(&caller, id, webhook_id, page.request()?)
        .await?;
    Ok(Json(PageOf::map(page, DeliveryView::from)))
}
