//! Webhooks (the signing secret sealed with the `Sealer`, opened only to sign), the outbox
//! events not yet fanned out to them, and their deliveries: made by the fan-out, claimed for an
//! attempt (a lease, so replicas never send one twice at once), recorded after it.
use super::{Conn, Result, StoreError, page};
use crate::crypto::seal::{Purpose, Sealer};
use crate::model::{Delivery, DeliveryStatus, Page, PageRequest, StoredEvent, Webhook};
use chrono::{DateTime, Utc};
use entity::{outbox_event, webhook, webhook_delivery};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use secrecy::SecretString;
use uuid::Uuid;

fn from_model(m: webhook::Model) -> Webhook {
    Webhook {
        id: m.id,
        org_id: m.org_id,
        url: m.url,
        event_types: serde_json::from_str(&m.event_types).unwrap_or_default(),
        active: m.active,
        disabled_reason: m.disabled_reason,
        failing_since: m.failing_since,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn delivery_from(m: webhook_delivery::Model) -> Delivery {
    Delivery {
        id: m.id,
        webhook_id: m.webhook_id,
        event_id: m.event_id,
        event_type: m.event_type,
        payload: m.payload,
        status: DeliveryStatus::parse(&m.status),
        attempts: m.attempts,
        last_status: m.last_status,
        last_error: m.last_error,
        next_attempt_at: m.next_attempt_at,
        last_attempt_at: m.last_attempt_at,
        created_at: m.created_at,
    }
}

fn types_json(types: &[String]) -> String {
    serde_json::to_string(types).unwrap_or_else(|_| "[]".into())
}

/// A webhook as created: its signing secret in plaintext (sealed here).
pub struct NewWebhook {
    pub org_id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub secret: String,
}

pub async fn insert<C: Conn>(c: &C, sealer: &Sealer, new: NewWebhook, now: DateTime<Utc>) -> Result<Webhook> {
    let id = Uuid::now_v7();
    let secret = sealer
        .seal(Purpose::WebhookSecret, &new.secret)
        .map_err(|e| StoreError::sealed(format!("webhook {id}"), e))?;
    let model = webhook::ActiveModel {
        id: Set(id),
        org_id: Set(new.org_id),
        url: Set(new.url),
        event_types: Set(types_json(&new.event_types)),
        secret: Set(secret),
        active: Set(true),
        disabled_reason: Set(None),
        failing_since: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(c)
    .await?;
    Ok(from_model(model))
}

/// The organisation's webhooks, oldest first.
pub async fn list<C: Conn>(c: &C, org_id: Uuid) -> Result<Vec<Webhook>> {
    Ok(webhook::Entity::find()
        .filter(webhook::Column::OrgId.eq(org_id))
        .order_by_asc(webhook::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(from_model)
        .collect())
}

pub async fn find<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<Option<Webhook>> {
    Ok(webhook::Entity::find_by_id(id)
        .filter(webhook::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(from_model))
}

/// What an update changes; `None` leaves a field.
#[derive(Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `Some(true)` enables (and forgets past failures); `Some(false)` disables by hand.
    pub active: Option<bool>,
}

pub async fn update<C: Conn>(c: &C, id: Uuid, changes: WebhookChanges, now: DateTime<Utc>) -> Result<Webhook> {
    let mut update = webhook::Entity::update_many()
        .col_expr(webhook::Column::UpdatedAt, Expr::value(now))
        .filter(webhook::Column::Id.eq(id));
    if let Some(url) = changes.url {
        update = update.col_expr(webhook::Column::Url, Expr::value(url));
    }
    if let Some(types) = changes.event_types {
        update = update.col_expr(webhook::Column::EventTypes, Expr::value(types_json(&types)));
    }
    if let Some(active) = changes.active {
        let reason = (!active).then_some("disabled_by_admin");
        update = update
            .col_expr(webhook::Column::Active, Expr::value(active))
            .col_expr(webhook::Column::DisabledReason, Expr::value(reason))
            .col_expr(webhook::Column::FailingSince, Expr::value(None::<DateTime<Utc>>));
    }
    update.exec(c).await?;
    let model = webhook::Entity::find_by_id(id)
        .one(c)
        .await?
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::RecordNotFound(format!("webhook {id}"))))?;
    Ok(from_model(model))
}

/// Deletes a webhook (its deliveries go with it); false if the organisation has none of that id.
pub async fn delete<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<bool> {
    Ok(webhook::Entity::delete_many()
        .filter(webhook::Column::Id.eq(id))
        .filter(webhook::Column::OrgId.eq(org_id))
        .exec(c)
        .await?
        .rows_affected
        == 1)
}

/// Webhooks by id with their signing secrets opened, for sending.
pub async fn with_secrets<C: Conn>(c: &C, sealer: &Sealer, ids: &[Uuid]) -> Result<Vec<(Webhook, SecretString)>> {
    let models = webhook::Entity::find()
        .filter(webhook::Column::Id.is_in(ids.iter().copied()))
        .all(c)
        .await?;
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        let secret = sealer
            .open(Purpose::WebhookSecret, &m.secret)
            .map_err(|e| StoreError::sealed(format!("webhook {}", m.id), e))?;
        out.push((from_model(m), secret));
    }
    Ok(out)
}

/// The oldest outbox events not fanned out yet; on PostgreSQL locked (skipping rows another
/// replica holds), so run this in a transaction.
pub async fn unfanned<C: Conn>(c: &C, limit: u64) -> Result<Vec<StoredEvent>> {
    let mut query = outbox_event::Entity::find()
        .filter(outbox_event::Column::WebhooksAt.is_null())
        .order_by_asc(outbox_event::Column::CreatedAt)
        .order_by_asc(outbox_event::Column::Id)
        .limit(limit);
    if c.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(query
        .all(c)
        .await?
        .into_iter()
        .map(|m| StoredEvent {
            id: m.id,
            org_id: m.org_id,
            subject: m.subject,
            event_type: m.event_type,
            payload: m.payload,
            created_at: m.created_at,
            published_at: m.published_at,
            attempts: m.attempts,
        })
        .collect())
}

pub async fn mark_fanned<C: Conn>(c: &C, ids: &[Uuid], now: DateTime<Utc>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    outbox_event::Entity::update_many()
        .col_expr(outbox_event::Column::WebhooksAt, Expr::value(now))
        .filter(outbox_event::Column::Id.is_in(ids.iter().copied()))
        .exec(c)
        .await?;
    Ok(())
}

/// The active webhooks of these organisations (each named once in the query, however often it
/// comes; none named, no query).
pub async fn active_in<C: Conn>(c: &C, orgs: impl IntoIterator<Item = Uuid>) -> Result<Vec<Webhook>> {
    let orgs: std::collections::BTreeSet<Uuid> = orgs.into_iter().collect();
    if orgs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(webhook::Entity::find()
        .filter(webhook::Column::OrgId.is_in(orgs))
        .filter(webhook::Column::Active.eq(true))
        .all(c)
        .await?
        .into_iter()
        .map(from_model)
        .collect())
}

/// Stores new deliveries; one already made for the same event and webhook is kept as it is.
pub async fn insert_deliveries<C: Conn>(c: &C, deliveries: Vec<Delivery>) -> Result<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let rows = deliveries.into_iter().map(|d| webhook_delivery::ActiveModel {
        id: Set(d.id),
        webhook_id: Set(d.webhook_id),
        event_id: Set(d.event_id),
        event_type: Set(d.event_type),
        payload: Set(d.payload),
        status: Set(d.status.as_str().to_owned()),
        attempts: Set(d.attempts),
        last_status: Set(d.last_status),
        last_error: Set(d.last_error),
        next_attempt_at: Set(d.next_attempt_at),
        last_attempt_at: Set(d.last_attempt_at),
        created_at: Set(d.created_at),
    });
    webhook_delivery::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([webhook_delivery::Column::WebhookId, webhook_delivery::Column::EventId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Pending deliveries whose next attempt is due, oldest first.
pub async fn due<C: Conn>(c: &C, now: DateTime<Utc>, limit: u64) -> Result<Vec<Delivery>> {
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(delivery_from)
        .collect())
}

/// Takes a due delivery for one attempt, until `lease`: false if another replica took it first.
pub async fn claim<C: Conn>(c: &C, delivery: &Delivery, now: DateTime<Utc>, lease: DateTime<Utc>) -> Result<bool> {
    let done = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(lease))
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// How an attempt went.
pub struct Attempt {
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

pub async fn record<C: Conn>(c: &C, id: Uuid, attempt: Attempt) -> Result<()> {
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(attempt.status.as_str()))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempt.attempts))
        .col_expr(webhook_delivery::Column::LastStatus, Expr::value(attempt.last_status))
        .col_expr(webhook_delivery::Column::LastError, Expr::value(attempt.last_error))
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(attempt.next_attempt_at),
        )
        .col_expr(webhook_delivery::Column::LastAttemptAt, Expr::value(attempt.at))
        .filter(webhook_delivery::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Records whether a webhook is failing: since `since` (kept when already failing), or not at
/// all (`None`, after a success).
pub async fn set_failing<C: Conn>(c: &C, id: Uuid, since: Option<DateTime<Utc>>) -> Result<()> {
    let mut update = webhook::Entity::update_many()
        .col_expr(webhook::Column::FailingSince, Expr::value(since))
        .filter(webhook::Column::Id.eq(id));
    if since.is_some() {
        update = update.filter(webhook::Column::FailingSince.is_null());
    }
    update.exec(c).await?;
    Ok(())
}

/// Disables an active webhook and gives up its pending deliveries; the webhook as it is now, or
/// `None` when it was not active (another replica did it, or an admin).
pub async fn disable<C: Conn>(c: &C, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<Option<Webhook>> {
    let done = webhook::Entity::update_many()
        .col_expr(webhook::Column::Active, Expr::value(false))
        .col_expr(webhook::Column::DisabledReason, Expr::value(reason))
        .col_expr(webhook::Column::UpdatedAt, Expr::value(now))
        .filter(webhook::Column::Id.eq(id))
        .filter(webhook::Column::Active.eq(true))
        .exec(c)
        .await?;
    if done.rows_affected != 1 {
        return Ok(None);
    }
    give_up_pending(c, id, "the webhook was disabled").await?;
    Ok(webhook::Entity::find_by_id(id).one(c).await?.map(from_model))
}

/// Marks a webhook's pending deliveries failed.
pub async fn give_up_pending<C: Conn>(c: &C, id: Uuid, why: &str) -> Result<u64> {
    Ok(webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(DeliveryStatus::Failed.as_str()),
        )
        .col_expr(webhook_delivery::Column::LastError, Expr::value(why))
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .exec(c)
        .await?
        .rows_affected)
}

/// A webhook's deliveries, oldest first, a page at a time.
pub async fn deliveries<C: Conn>(c: &C, webhook_id: Uuid, request: PageRequest) -> Result<Page<Delivery>> {
    let base = webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(webhook_id));
    page::paginate(c, base, webhook_delivery::Column::Id, request, delivery_from, |d| d.id).await
}

/// Deliveries waiting for an attempt, everywhere.
pub async fn pending_count<C: Conn>(c: &C) -> Result<u64> {
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .count(c)
        .await?)
}

/// Deletes finished deliveries made before `before`.
pub async fn prune<C: Conn>(c: &C, before: DateTime<Utc>) -> Result<u64> {
    Ok(webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::Status.ne(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::CreatedAt.lt(before))
        .exec(c)
        .await?
        .rows_affected)
}
