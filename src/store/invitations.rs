//! Invitations to an organisation. Every query is filtered by organisation, except the lookup by
//! token digest (the token is the capability). Accepting and revoking are conditional updates:
//! exactly one of several racing calls changes the row.
use super::{Conn, Result, page};
use crate::model::{Invitation, InvitationStatus, Page, PageRequest};
use chrono::{DateTime, Utc};
use entity::invitation;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, Select};
use std::collections::BTreeMap;
use uuid::Uuid;

impl From<invitation::Model> for Invitation {
    fn from(m: invitation::Model) -> Self {
        Self {
            id: m.id,
            org_id: m.org_id,
            email: m.email,
            roles: serde_json::from_str(&m.roles).unwrap_or_default(),
            teams: serde_json::from_str::<BTreeMap<String, String>>(&m.teams).unwrap_or_default(),
            domains: serde_json::from_str(&m.domains).unwrap_or_default(),
            invited_by: m.invited_by,
            inviter_name: m.inviter_name,
            created_at: m.created_at,
            expires_at: m.expires_at,
            sent_at: m.sent_at,
            accepted_at: m.accepted_at,
            accepted_by: m.accepted_by,
            revoked_at: m.revoked_at,
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Writes a new invitation with the digest of its token.
pub async fn insert<C: Conn>(c: &C, new: &Invitation, digest: String) -> Result<Invitation> {
    Ok(invitation::ActiveModel {
        id: Set(new.id),
        org_id: Set(new.org_id),
        email: Set(new.email.clone()),
        roles: Set(json(&new.roles)),
        teams: Set(json(&new.teams)),
        domains: Set(json(&new.domains)),
        token_hash: Set(digest),
        invited_by: Set(new.invited_by),
        inviter_name: Set(new.inviter_name.clone()),
        created_at: Set(new.created_at),
        expires_at: Set(new.expires_at),
        sent_at: Set(new.sent_at),
        accepted_at: Set(None),
        accepted_by: Set(None),
        revoked_at: Set(None),
    }
    .insert(c)
    .await?
    .into())
}

pub async fn find<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<Option<Invitation>> {
    Ok(invitation::Entity::find_by_id(id)
        .filter(invitation::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(Invitation::from))
}

/// The pending (neither accepted, revoked nor expired) invitation whose token has this digest.
pub async fn pending_by_digest<C: Conn>(c: &C, digest: &str, now: DateTime<Utc>) -> Result<Option<Invitation>> {
    Ok(pending(invitation::Entity::find(), now)
        .filter(invitation::Column::TokenHash.eq(digest))
        .one(c)
        .await?
        .map(Invitation::from))
}

/// The pending invitation of an organisation for an address, if any.
pub async fn pending_for<C: Conn>(c: &C, org_id: Uuid, email: &str, now: DateTime<Utc>) -> Result<Option<Invitation>> {
    Ok(pending(invitation::Entity::find(), now)
        .filter(invitation::Column::OrgId.eq(org_id))
        .filter(invitation::Column::Email.eq(email))
        .one(c)
        .await?
        .map(Invitation::from))
}

fn pending<Q: QueryFilter>(query: Q, now: DateTime<Utc>) -> Q {
    query
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now))
}

fn with_status(
    query: Select<invitation::Entity>,
    status: InvitationStatus,
    now: DateTime<Utc>,
) -> Select<invitation::Entity> {
    match status {
        InvitationStatus::Pending => pending(query, now),
        InvitationStatus::Accepted => query.filter(invitation::Column::AcceptedAt.is_not_null()),
        InvitationStatus::Revoked => query.filter(invitation::Column::RevokedAt.is_not_null()),
        InvitationStatus::Expired => query
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::RevokedAt.is_null())
            .filter(invitation::Column::ExpiresAt.lte(now)),
    }
}

/// An organisation's invitations, oldest first, optionally only those in one status.
pub async fn list<C: Conn>(
    c: &C,
    org_id: Uuid,
    status: Option<InvitationStatus>,
    now: DateTime<Utc>,
    request: PageRequest,
) -> Result<Page<Invitation>> {
    let mut base = invitation::Entity::find().filter(invitation::Column::OrgId.eq(org_id));
    if let Some(status) = status {
        base = with_status(base, status, now);
    }
    page::paginate(c, base, invitation::Column::Id, request, Invitation::from, |i| i.id).await
}

/// Accepts a pending invitation: true for exactly one of several racing callers (the others
/// wait for its row lock, then see `accepted_at` set).
pub async fn accept<C: Conn>(c: &C, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let done = pending(invitation::Entity::update_many(), now)
        .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records who accepted an invitation (once `accept` let this caller through).
pub async fn accepted_by<C: Conn>(c: &C, id: Uuid, user_id: Uuid) -> Result<()> {
    invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedBy, Expr::value(user_id))
        .filter(invitation::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Revokes an invitation that is neither accepted nor revoked (an expired one may be revoked).
pub async fn revoke<C: Conn>(c: &C, org_id: Uuid, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let done = invitation::Entity::update_many()
        .col_expr(invitation::Column::RevokedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::OrgId.eq(org_id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Gives an invitation that is neither accepted nor revoked a new token (the old one stops
/// working) and a new expiry; false when it is no longer open.
pub async fn renew<C: Conn>(
    c: &C,
    org_id: Uuid,
    id: Uuid,
    digest: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool> {
    let done = invitation::Entity::update_many()
        .col_expr(invitation::Column::TokenHash, Expr::value(digest))
        .col_expr(invitation::Column::SentAt, Expr::value(now))
        .col_expr(invitation::Column::ExpiresAt, Expr::value(expires_at))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::OrgId.eq(org_id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}
