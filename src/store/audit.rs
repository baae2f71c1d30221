//! The audit log.
use super::{Conn, Result, page};
use crate::model::{AuditEntry, Page, PageRequest};
use chrono::{DateTime, Utc};
use entity::audit_entry;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Writes many entries in multi-row inserts.
pub async fn insert_many<C: Conn>(c: &C, entries: &[AuditEntry]) -> Result<()> {
    let rows: Vec<_> = entries
        .iter()
        .map(|e| audit_entry::ActiveModel {
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
        })
        .collect();
    super::insert_rows(c, rows).await
}

pub async fn list<C: Conn>(c: &C, org_id: Option<Uuid>, request: PageRequest) -> Result<Page<AuditEntry>> {
    list_filtered(c, org_id, &AuditFilter::default(), request).await
}

/// What an audit list is narrowed to: an actor (email or client id, a part of it), an action
/// (its beginning, such as `login` or `org.member`), a time range.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

pub async fn list_filtered<C: Conn>(
    c: &C,
    org_id: Option<Uuid>,
    filter: &AuditFilter,
    request: PageRequest,
) -> Result<Page<AuditEntry>> {
    use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
    let mut base = audit_entry::Entity::find();
    if let Some(org) = org_id {
        base = base.filter(audit_entry::Column::OrgId.eq(org));
    }
    if let Some(actor) = filter.actor.as_deref().filter(|a| !a.is_empty()) {
        let pattern = format!("%{}%", super::like_literal(&actor.to_lowercase()));
        base = base.filter(
            Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(audit_entry::Column::Actor)))
                .like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(action) = filter.action.as_deref().filter(|a| !a.is_empty()) {
        let pattern = format!("{}%", super::like_literal(action));
        base = base.filter(Expr::col(audit_entry::Column::Action).like(LikeExpr::new(pattern).escape('\\')));
    }
    if let Some(since) = filter.since {
        base = base.filter(audit_entry::Column::CreatedAt.gte(since));
    }
    if let Some(until) = filter.until {
        base = base.filter(audit_entry::Column::CreatedAt.lt(until));
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
