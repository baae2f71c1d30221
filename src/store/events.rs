//! The event outbox: written in the transaction of the change, read by the relay.
use super::{Conn, Result, page};
use crate::model::{Page, PageRequest, StoredEvent};
use chrono::{DateTime, Utc};
use entity::outbox_event;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

fn from_model(m: outbox_event::Model) -> StoredEvent {
    StoredEvent {
        id: m.id,
        org_id: m.org_id,
        subject: m.subject,
        event_type: m.event_type,
        payload: m.payload,
        created_at: m.created_at,
        published_at: m.published_at,
        attempts: m.attempts,
    }
}

/// Writes many events in multi-row inserts (a bulk change: one statement per 1,000 events). An
/// event `fanned_out` says is done with is written fanned out (at its creation), so it never
/// enters the webhook dispatcher's queue.
pub async fn insert_many<C: Conn>(
    c: &C,
    events: Vec<StoredEvent>,
    fanned_out: impl Fn(&StoredEvent) -> bool,
) -> Result<()> {
    let rows: Vec<_> = events
        .into_iter()
        .map(|e| outbox_event::ActiveModel {
            webhooks_at: Set(fanned_out(&e).then_some(e.created_at)),
            id: Set(e.id),
            org_id: Set(e.org_id),
            subject: Set(e.subject),
            event_type: Set(e.event_type),
            payload: Set(e.payload),
            created_at: Set(e.created_at),
            published_at: Set(None),
            attempts: Set(0),
        })
        .collect();
    super::insert_rows(c, rows).await
}

/// The oldest unpublished events; on PostgreSQL the rows are locked (skipping rows another
/// replica holds), so run this in a transaction and publish before it ends.
pub async fn claim_pending<C: Conn>(c: &C, limit: u64) -> Result<Vec<StoredEvent>> {
    let mut query = outbox_event::Entity::find()
        .filter(outbox_event::Column::PublishedAt.is_null())
        .order_by_asc(outbox_event::Column::CreatedAt)
        .order_by_asc(outbox_event::Column::Id)
        .limit(limit);
    if c.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(query.all(c).await?.into_iter().map(from_model).collect())
}

/// How many events are unpublished, and when the oldest of them was committed.
pub async fn unpublished<C: Conn>(c: &C) -> Result<(u64, Option<DateTime<Utc>>)> {
    let pending = outbox_event::Entity::find().filter(outbox_event::Column::PublishedAt.is_null());
    let count = pending.clone().count(c).await?;
    let oldest = pending
        .order_by_asc(outbox_event::Column::CreatedAt)
        .one(c)
        .await?
        .map(|m| m.created_at);
    Ok((count, oldest))
}

pub async fn mark_published<C: Conn>(c: &C, ids: &[Uuid], now: DateTime<Utc>) -> Result<()> {
    outbox_event::Entity::update_many()
        .col_expr(outbox_event::Column::PublishedAt, Expr::value(now))
        .filter(outbox_event::Column::Id.is_in(ids.iter().copied()))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn count_attempt<C: Conn>(c: &C, id: Uuid) -> Result<()> {
    outbox_event::Entity::update_many()
        .col_expr(
            outbox_event::Column::Attempts,
            Expr::col(outbox_event::Column::Attempts).add(1),
        )
        .filter(outbox_event::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Events, newest last; only the organisation's when given.
pub async fn list<C: Conn>(c: &C, org_id: Option<Uuid>, request: PageRequest) -> Result<Page<StoredEvent>> {
    let mut base = outbox_event::Entity::find();
    if let Some(org) = org_id {
        base = base.filter(outbox_event::Column::OrgId.eq(org));
    }
    page::paginate(c, base, outbox_event::Column::Id, request, from_model, |e| e.id).await
}

/// Deletes published events older than `before` (and unpublished ones too when asked: with no
/// relay, nothing ever publishes them).
pub async fn prune<C: Conn>(c: &C, before: DateTime<Utc>, unpublished_too: bool) -> Result<u64> {
    let mut delete = outbox_event::Entity::delete_many();
    if !unpublished_too {
        delete = delete.filter(outbox_event::Column::PublishedAt.is_not_null());
    }
    Ok(delete
        .filter(outbox_event::Column::CreatedAt.lt(before))
        .exec(c)
        .await?
        .rows_affected)
}
