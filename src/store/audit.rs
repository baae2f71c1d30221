//! The audit log.
use super::{Conn, Result, page};
use crate::model::{AuditEntry, Page, PageRequest};
use entity::audit_entry;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

pub async fn insert<C: Conn>(c: &C, e: &AuditEntry) -> Result<()> {
    audit_entry::ActiveModel {
        id: Set(e.id),
        org_id: Set(e.org_id),
        actor_id: Set(e.actor_id),
        actor: Set(e.actor.clone()),
        action: Set(e.action.clone()),
        target_type: Set(e.target_type.clone()),
        target_id: Set(e.target_id.clone()),
        ip: Set(e.ip.clone()),
        outcome: Set(e.outcome.clone()),
        detail: Set(e.detail.as_ref().map(|d| d.to_string())),
        created_at: Set(e.created_at),
    }
    .insert(c)
    .await?;
    Ok(())
}

pub async fn list<C: Conn>(c: &C, org_id: Option<Uuid>, request: PageRequest) -> Result<Page<AuditEntry>> {
    let mut base = audit_entry::Entity::find();
    if let Some(org) = org_id {
        base = base.filter(audit_entry::Column::OrgId.eq(org));
    }
    page::paginate(
        c,
        base,
        audit_entry::Column::Id,
        request,
        |m| AuditEntry {
            id: m.id,
            org_id: m.org_id,
            actor_id: m.actor_id,
            actor: m.actor,
            action: m.action,
            target_type: m.target_type,
            target_id: m.target_id,
            ip: m.ip,
            outcome: m.outcome,
            detail: m.detail.and_then(|d| serde_json::from_str(&d).ok()),
            created_at: m.created_at,
        },
        |e| e.id,
    )
    .await
}

/// Deletes entries older than `before`.
pub async fn prune<C: Conn>(c: &C, before: chrono::DateTime<chrono::Utc>) -> Result<u64> {
    Ok(audit_entry::Entity::delete_many()
        .filter(audit_entry::Column::CreatedAt.lt(before))
        .exec(c)
        .await?
        .rows_affected)
}
