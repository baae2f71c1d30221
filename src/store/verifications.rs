//! Email-verification tokens, stored as SHA-256 digests; each proves one address of one account.
use super::{Conn, Result};
use chrono::{DateTime, Utc};
use entity::email_verification;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter};
use uuid::Uuid;

pub async fn insert<C: Conn>(
    c: &C,
    user_id: Uuid,
    email: &str,
    digest: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    email_verification::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        email: Set(email.to_owned()),
        token_hash: Set(digest),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Spends the unused, unexpired token with this digest: its account and address for exactly one
/// caller, however many race for it; `None` for everyone else.
pub async fn spend<C: Conn>(c: &C, digest: &str, now: DateTime<Utc>) -> Result<Option<(Uuid, String)>> {
    let Some(found) = email_verification::Entity::find()
        .filter(email_verification::Column::TokenHash.eq(digest))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    let done = email_verification::Entity::update_many()
        .col_expr(email_verification::Column::UsedAt, Expr::value(now))
        .filter(email_verification::Column::Id.eq(found.id))
        .filter(email_verification::Column::UsedAt.is_null())
        .filter(email_verification::Column::ExpiresAt.gt(now))
        .exec(c)
        .await?;
    Ok((done.rows_affected == 1).then_some((found.user_id, found.email)))
}

/// Spends every outstanding token of an account (its address changed, or it was proven).
pub async fn spend_all_of<C: Conn>(c: &C, user_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    email_verification::Entity::update_many()
        .col_expr(email_verification::Column::UsedAt, Expr::value(now))
        .filter(email_verification::Column::UserId.eq(user_id))
        .filter(email_verification::Column::UsedAt.is_null())
        .exec(c)
        .await?;
    Ok(())
}

/// Deletes tokens that expired or were used before `before`.
pub async fn prune<C: Conn>(c: &C, before: DateTime<Utc>) -> Result<u64> {
    Ok(email_verification::Entity::delete_many()
        .filter(
            Condition::any()
                .add(email_verification::Column::ExpiresAt.lt(before))
                .add(email_verification::Column::UsedAt.lt(before)),
        )
        .exec(c)
        .await?
        .rows_affected)
}
