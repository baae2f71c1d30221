//! Password-reset tokens, stored as SHA-256 digests.
use super::{Conn, Result};
use chrono::{DateTime, Utc};
use entity::password_reset;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

pub async fn insert<C: Conn>(
    c: &C,
    user_id: Uuid,
    digest: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    password_reset::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        token_hash: Set(digest),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Whether an unused, unexpired token has this digest (nothing is spent).
pub async fn is_live<C: Conn>(c: &C, digest: &str, now: DateTime<Utc>) -> Result<bool> {
    Ok(password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(digest))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .one(c)
        .await?
        .is_some())
}

/// Deletes tokens that expired or were used before `before`.
pub async fn prune<C: Conn>(c: &C, before: DateTime<Utc>) -> Result<u64> {
    use sea_orm::Condition;
    Ok(password_reset::Entity::delete_many()
        .filter(
            Condition::any()
                .add(password_reset::Column::ExpiresAt.lt(before))
                .add(password_reset::Column::UsedAt.lt(before)),
        )
        .exec(c)
        .await?
        .rows_affected)
}

/// Spends the unused, unexpired token with this digest: its user for exactly one caller,
/// however many race for it; `None` for everyone else.
pub async fn spend<C: Conn>(c: &C, digest: &str, now: DateTime<Utc>) -> Result<Option<Uuid>> {
    let Some(found) = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(digest))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    let done = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(found.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .exec(c)
        .await?;
    Ok((done.rows_affected == 1).then_some(found.user_id))
}

/// Spends every outstanding token of a user (after a reset, older links stop working).
pub async fn spend_all_of<C: Conn>(c: &C, user_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::UserId.eq(user_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(c)
        .await?;
    Ok(())
}
