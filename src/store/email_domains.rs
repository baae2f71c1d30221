//! Email domains organisations claim and prove. `verified_domain` is set to the domain when it is
//! proven; its unique index refuses a second organisation (a `StoreError::Conflict`).
use super::{Conn, Result};
use crate::model::{EmailDomain, JoinPolicy};
use chrono::{DateTime, Utc};
use entity::email_domain;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

const AUTO_JOIN: &str = "auto_join";
const INVITE_ONLY: &str = "invite_only";

impl From<email_domain::Model> for EmailDomain {
    fn from(m: email_domain::Model) -> Self {
        let policy = if m.join_policy == AUTO_JOIN {
            JoinPolicy::AutoJoin {
                roles: serde_json::from_str(&m.join_roles).unwrap_or_default(),
            }
        } else {
            JoinPolicy::InviteOnly
        };
        Self {
            id: m.id,
            org_id: m.org_id,
            domain: m.domain,
            challenge: m.challenge,
            verified_at: m.verified_at,
            policy,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn policy_columns(policy: &JoinPolicy) -> (String, String) {
    match policy {
        JoinPolicy::InviteOnly => (INVITE_ONLY.to_owned(), "[]".to_owned()),
        JoinPolicy::AutoJoin { roles } => (
            AUTO_JOIN.to_owned(),
            serde_json::to_string(roles).unwrap_or_else(|_| "[]".into()),
        ),
    }
}

/// Records a claim (verified at once when `verified_at` is given: the operator's seed).
pub async fn insert<C: Conn>(
    c: &C,
    org_id: Uuid,
    domain: &str,
    challenge: &str,
    policy: &JoinPolicy,
    verified_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<EmailDomain> {
    let (join_policy, join_roles) = policy_columns(policy);
    Ok(email_domain::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        domain: Set(domain.to_owned()),
        challenge: Set(challenge.to_owned()),
        verified_at: Set(verified_at),
        verified_domain: Set(verified_at.map(|_| domain.to_owned())),
        join_policy: Set(join_policy),
        join_roles: Set(join_roles),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(c)
    .await?
    .into())
}

pub async fn find<C: Conn>(c: &C, org_id: Uuid, domain: &str) -> Result<Option<EmailDomain>> {
    Ok(email_domain::Entity::find()
        .filter(email_domain::Column::OrgId.eq(org_id))
        .filter(email_domain::Column::Domain.eq(domain))
        .one(c)
        .await?
        .map(EmailDomain::from))
}

/// An organisation's claims, by domain.
pub async fn list<C: Conn>(c: &C, org_id: Uuid) -> Result<Vec<EmailDomain>> {
    Ok(email_domain::Entity::find()
        .filter(email_domain::Column::OrgId.eq(org_id))
        .order_by_asc(email_domain::Column::Domain)
        .all(c)
        .await?
        .into_iter()
        .map(EmailDomain::from)
        .collect())
}

/// The organisation's claim on `domain` that is verified, if any (any organisation when `None`).
pub async fn verified<C: Conn>(c: &C, org_id: Option<Uuid>, domain: &str) -> Result<Option<EmailDomain>> {
    let mut query = email_domain::Entity::find().filter(email_domain::Column::VerifiedDomain.eq(domain));
    if let Some(org_id) = org_id {
        query = query.filter(email_domain::Column::OrgId.eq(org_id));
    }
    Ok(query.one(c).await?.map(EmailDomain::from))
}

/// Marks a claim verified; `Conflict` when another organisation verified the domain first.
pub async fn mark_verified<C: Conn>(c: &C, id: Uuid, domain: &str, now: DateTime<Utc>) -> Result<()> {
    email_domain::Entity::update_many()
        .col_expr(email_domain::Column::VerifiedAt, Expr::value(now))
        .col_expr(email_domain::Column::VerifiedDomain, Expr::value(domain))
        .col_expr(email_domain::Column::UpdatedAt, Expr::value(now))
        .filter(email_domain::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn set_policy<C: Conn>(c: &C, id: Uuid, policy: &JoinPolicy, now: DateTime<Utc>) -> Result<()> {
    let (join_policy, join_roles) = policy_columns(policy);
    email_domain::Entity::update_many()
        .col_expr(email_domain::Column::JoinPolicy, Expr::value(join_policy))
        .col_expr(email_domain::Column::JoinRoles, Expr::value(join_roles))
        .col_expr(email_domain::Column::UpdatedAt, Expr::value(now))
        .filter(email_domain::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn delete<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<bool> {
    let done = email_domain::Entity::delete_many()
        .filter(email_domain::Column::OrgId.eq(org_id))
        .filter(email_domain::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(done.rows_affected > 0)
}
