//! External logins: pending logins (by `state`), one-time exchange codes, and linked identities.
//! Pending logins and codes are claimed by deleting them, so each is used at most once even when
//! two requests race.
use super::{Conn, Result};
use chrono::{DateTime, Utc};
use entity::{oidc_code, oidc_login, user_identity};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

pub use entity::oidc_login::Model as PendingLogin;

pub async fn insert_login<C: Conn>(c: &C, login: PendingLogin) -> Result<()> {
    oidc_login::ActiveModel::from(login).insert(c).await?;
    Ok(())
}

/// Claims the pending login with this state digest: `None` when it is unknown, already claimed
/// or expired.
pub async fn take_login<C: Conn>(c: &C, state_digest: &str, now: DateTime<Utc>) -> Result<Option<PendingLogin>> {
    let Some(row) = oidc_login::Entity::find_by_id(state_digest.to_owned()).one(c).await? else {
        return Ok(None);
    };
    let done = oidc_login::Entity::delete_by_id(state_digest.to_owned())
        .exec(c)
        .await?;
    Ok((done.rows_affected == 1 && row.expires_at > now).then_some(row))
}

/// Who a one-time code stands for.
pub struct CodeGrant {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub provider_slug: String,
}

pub async fn insert_code<C: Conn>(
    c: &C,
    code_digest: String,
    grant: CodeGrant,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    oidc_code::ActiveModel {
        code_digest: Set(code_digest),
        user_id: Set(grant.user_id),
        org_id: Set(grant.org_id),
        provider_slug: Set(grant.provider_slug),
        expires_at: Set(expires_at),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Claims a one-time code: `None` when it is unknown, already used or expired.
pub async fn take_code<C: Conn>(c: &C, code_digest: &str, now: DateTime<Utc>) -> Result<Option<CodeGrant>> {
    let Some(row) = oidc_code::Entity::find_by_id(code_digest.to_owned()).one(c).await? else {
        return Ok(None);
    };
    let done = oidc_code::Entity::delete_by_id(code_digest.to_owned()).exec(c).await?;
    Ok((done.rows_affected == 1 && row.expires_at > now).then_some(CodeGrant {
        user_id: row.user_id,
        org_id: row.org_id,
        provider_slug: row.provider_slug,
    }))
}

/// The user an external identity is linked to.
pub async fn linked_user<C: Conn>(c: &C, issuer: &str, subject: &str) -> Result<Option<Uuid>> {
    Ok(user_identity::Entity::find()
        .filter(user_identity::Column::Issuer.eq(issuer))
        .filter(user_identity::Column::Subject.eq(subject))
        .one(c)
        .await?
        .map(|m| m.user_id))
}

/// An external identity to link to a user.
#[derive(Clone, Copy)]
pub struct NewIdentity<'a> {
    pub user_id: Uuid,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub provider_slug: &'a str,
    pub email: Option<&'a str>,
}

impl<'a> NewIdentity<'a> {
    /// This identity, for the account `user_id`.
    pub fn of(&self, user_id: Uuid) -> NewIdentity<'a> {
        NewIdentity { user_id, ..*self }
    }
}

pub async fn link<C: Conn>(c: &C, identity: NewIdentity<'_>, now: DateTime<Utc>) -> Result<()> {
    user_identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(identity.user_id),
        issuer: Set(identity.issuer.to_owned()),
        subject: Set(identity.subject.to_owned()),
        provider_slug: Set(identity.provider_slug.to_owned()),
        email: Set(identity.email.map(str::to_owned)),
        created_at: Set(now),
        last_login_at: Set(now),
    }
    .insert(c)
    .await?;
    Ok(())
}

pub async fn touch<C: Conn>(c: &C, issuer: &str, subject: &str, now: DateTime<Utc>) -> Result<()> {
    user_identity::Entity::update_many()
        .col_expr(user_identity::Column::LastLoginAt, sea_orm::sea_query::Expr::value(now))
        .filter(user_identity::Column::Issuer.eq(issuer))
        .filter(user_identity::Column::Subject.eq(subject))
        .exec(c)
        .await?;
    Ok(())
}

/// Deletes pending logins and codes that expired; returns how many.
pub async fn prune<C: Conn>(c: &C, now: DateTime<Utc>) -> Result<u64> {
    let logins = oidc_login::Entity::delete_many()
        .filter(oidc_login::Column::ExpiresAt.lte(now))
        .exec(c)
        .await?;
    let codes = oidc_code::Entity::delete_many()
        .filter(oidc_code::Column::ExpiresAt.lte(now))
        .exec(c)
        .await?;
    Ok(logins.rows_affected + codes.rows_affected)
}

/// Unlinks every external identity of an account (someone else proved the address it claimed).
pub async fn unlink_all<C: Conn>(c: &C, user_id: Uuid) -> Result<u64> {
    Ok(user_identity::Entity::delete_many()
        .filter(user_identity::Column::UserId.eq(user_id))
        .exec(c)
        .await?
        .rows_affected)
}

/// A user's linked identities at external issuers, oldest first.
pub async fn identities_of<C: Conn>(c: &C, user_id: Uuid) -> Result<Vec<crate::model::LinkedIdentity>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    Ok(entity::user_identity::Entity::find()
        .filter(entity::user_identity::Column::UserId.eq(user_id))
        .order_by_asc(entity::user_identity::Column::CreatedAt)
        .all(c)
        .await?
        .into_iter()
        .map(|m| crate::model::LinkedIdentity {
            id: m.id,
            provider: m.provider_slug,
            issuer: m.issuer,
            email: m.email,
            created_at: m.created_at,
            last_login_at: m.last_login_at,
        })
        .collect())
}

/// Removes one of the user's links; false when the user has no link with this id.
pub async fn unlink<C: Conn>(c: &C, user_id: Uuid, id: Uuid) -> Result<bool> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let done = entity::user_identity::Entity::delete_many()
        .filter(entity::user_identity::Column::Id.eq(id))
        .filter(entity::user_identity::Column::UserId.eq(user_id))
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}
