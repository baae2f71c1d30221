//! Second factors: a user's authenticator-app secret (sealed with the `Sealer`, opened only to
//! check a code), recovery codes (digests), and the challenges between a password step and its
//! second factor (digests of single-use tokens). What must happen once (a TOTP time step, a
//! recovery code, a challenge) is claimed by one conditional UPDATE, so of two racing requests
//! only one wins.
use super::{Conn, Result, StoreError};
use crate::crypto::seal::{Purpose, Sealer};
use chrono::{DateTime, Utc};
use entity::{mfa_challenge, mfa_recovery_code, mfa_totp};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use secrecy::SecretString;
use uuid::Uuid;

/// A user's authenticator app, its secret opened.
pub struct Totp {
    pub secret: SecretString,
    pub confirmed_at: Option<DateTime<Utc>>,
}

pub async fn totp<C: Conn>(c: &C, sealer: &Sealer, user_id: Uuid) -> Result<Option<Totp>> {
    let Some(m) = mfa_totp::Entity::find_by_id(user_id).one(c).await? else {
        return Ok(None);
    };
    let secret = sealer
        .open(Purpose::TotpSecret, &m.secret)
        .map_err(|e| StoreError::sealed(format!("the authenticator-app secret of user {user_id}"), e))?;
    Ok(Some(Totp {
        secret,
        confirmed_at: m.confirmed_at,
    }))
}

/// Whether the user has a confirmed authenticator app.
pub async fn has_totp<C: Conn>(c: &C, user_id: Uuid) -> Result<bool> {
    Ok(mfa_totp::Entity::find_by_id(user_id)
        .filter(mfa_totp::Column::ConfirmedAt.is_not_null())
        .count(c)
        .await?
        > 0)
}

/// Whether the user has a second factor: a confirmed authenticator app or a passkey.
pub async fn has_factor<C: Conn>(c: &C, user_id: Uuid) -> Result<bool> {
    Ok(has_totp(c, user_id).await? || super::passkeys::count(c, user_id).await? > 0)
}

/// Replaces the user's authenticator app with a new, unconfirmed one.
pub async fn put_totp<C: Conn>(c: &C, sealer: &Sealer, user_id: Uuid, secret: &str, now: DateTime<Utc>) -> Result<()> {
    let sealed = sealer
        .seal(Purpose::TotpSecret, secret)
        .map_err(|e| StoreError::sealed(format!("the authenticator-app secret of user {user_id}"), e))?;
    mfa_totp::Entity::delete_by_id(user_id).exec(c).await?;
    mfa_totp::ActiveModel {
        user_id: Set(user_id),
        secret: Set(sealed),
        confirmed_at: Set(None),
        last_step: Set(None),
        created_at: Set(now),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Claims the TOTP time `step` for the user: true once, for a step later than any accepted
/// before (RFC 6238 §5.2: a code is accepted once).
pub async fn accept_step<C: Conn>(c: &C, user_id: Uuid, step: i64) -> Result<bool> {
    let done = mfa_totp::Entity::update_many()
        .col_expr(mfa_totp::Column::LastStep, Expr::value(step))
        .filter(mfa_totp::Column::UserId.eq(user_id))
        .filter(
            mfa_totp::Column::LastStep
                .is_null()
                .or(mfa_totp::Column::LastStep.lt(step)),
        )
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Confirms the user's authenticator app (its first code was right): true if it was unconfirmed.
pub async fn confirm_totp<C: Conn>(c: &C, user_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let done = mfa_totp::Entity::update_many()
        .col_expr(mfa_totp::Column::ConfirmedAt, Expr::value(now))
        .filter(mfa_totp::Column::UserId.eq(user_id))
        .filter(mfa_totp::Column::ConfirmedAt.is_null())
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Removes the user's authenticator app; whether there was one.
pub async fn delete_totp<C: Conn>(c: &C, user_id: Uuid) -> Result<bool> {
    Ok(mfa_totp::Entity::delete_by_id(user_id).exec(c).await?.rows_affected > 0)
}

/// Replaces the user's recovery codes with these digests.
pub async fn replace_recovery_codes<C: Conn>(
    c: &C,
    user_id: Uuid,
    digests: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    delete_recovery_codes(c, user_id).await?;
    let rows: Vec<mfa_recovery_code::ActiveModel> = digests
        .iter()
        .map(|d| mfa_recovery_code::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id),
            code_hash: Set(d.clone()),
            used_at: Set(None),
            created_at: Set(now),
        })
        .collect();
    if !rows.is_empty() {
        mfa_recovery_code::Entity::insert_many(rows).exec(c).await?;
    }
    Ok(())
}

pub async fn delete_recovery_codes<C: Conn>(c: &C, user_id: Uuid) -> Result<u64> {
    Ok(mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::UserId.eq(user_id))
        .exec(c)
        .await?
        .rows_affected)
}

/// Spends the recovery code with this digest: true once.
pub async fn use_recovery_code<C: Conn>(c: &C, user_id: Uuid, digest: &str, now: DateTime<Utc>) -> Result<bool> {
    let done = mfa_recovery_code::Entity::update_many()
        .col_expr(mfa_recovery_code::Column::UsedAt, Expr::value(now))
        .filter(mfa_recovery_code::Column::UserId.eq(user_id))
        .filter(mfa_recovery_code::Column::CodeHash.eq(digest))
        .filter(mfa_recovery_code::Column::UsedAt.is_null())
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// How many of the user's recovery codes are unused.
pub async fn recovery_codes_left<C: Conn>(c: &C, user_id: Uuid) -> Result<u64> {
    Ok(mfa_recovery_code::Entity::find()
        .filter(mfa_recovery_code::Column::UserId.eq(user_id))
        .filter(mfa_recovery_code::Column::UsedAt.is_null())
        .count(c)
        .await?)
}

/// A challenge between a password step and its second factor.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: Uuid,
    pub user_id: Uuid,
    /// `verify` or `enroll`.
    pub purpose: String,
    /// `api`, or `hosted:<login request handle>`.
    pub flow: String,
    pub organization: Option<String>,
    pub methods: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

fn challenge(m: mfa_challenge::Model) -> Challenge {
    Challenge {
        id: m.id,
        user_id: m.user_id,
        purpose: m.purpose,
        flow: m.flow,
        organization: m.organization,
        methods: m
            .methods
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        expires_at: m.expires_at,
    }
}

pub async fn insert_challenge<C: Conn>(c: &C, digest: &str, new: &Challenge, now: DateTime<Utc>) -> Result<()> {
    mfa_challenge::ActiveModel {
        id: Set(new.id),
        token_hash: Set(digest.to_owned()),
        user_id: Set(new.user_id),
        purpose: Set(new.purpose.clone()),
        flow: Set(new.flow.clone()),
        organization: Set(new.organization.clone()),
        methods: Set(new.methods.join(" ")),
        expires_at: Set(new.expires_at),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// The live (unspent, unexpired) challenge with this token digest.
pub async fn live_challenge<C: Conn>(c: &C, digest: &str, now: DateTime<Utc>) -> Result<Option<Challenge>> {
    Ok(mfa_challenge::Entity::find()
        .filter(mfa_challenge::Column::TokenHash.eq(digest))
        .filter(mfa_challenge::Column::UsedAt.is_null())
        .filter(mfa_challenge::Column::ExpiresAt.gt(now))
        .one(c)
        .await?
        .map(challenge))
}

/// Spends a challenge: true once.
pub async fn spend_challenge<C: Conn>(c: &C, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let done = mfa_challenge::Entity::update_many()
        .col_expr(mfa_challenge::Column::UsedAt, Expr::value(now))
        .filter(mfa_challenge::Column::Id.eq(id))
        .filter(mfa_challenge::Column::UsedAt.is_null())
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Ends every live challenge of the user (their second factors were reset).
pub async fn spend_challenges_of<C: Conn>(c: &C, user_id: Uuid, now: DateTime<Utc>) -> Result<u64> {
    Ok(mfa_challenge::Entity::update_many()
        .col_expr(mfa_challenge::Column::UsedAt, Expr::value(now))
        .filter(mfa_challenge::Column::UserId.eq(user_id))
        .filter(mfa_challenge::Column::UsedAt.is_null())
        .exec(c)
        .await?
        .rows_affected)
}

/// Deletes challenges that expired before `cutoff` (housekeeping).
pub async fn prune_challenges<C: Conn>(c: &C, cutoff: DateTime<Utc>) -> Result<u64> {
    Ok(mfa_challenge::Entity::delete_many()
        .filter(mfa_challenge::Column::ExpiresAt.lt(cutoff))
        .exec(c)
        .await?
        .rows_affected)
}
