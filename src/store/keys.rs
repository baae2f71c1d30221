//! Stored signing keys.
use super::{Conn, Result};
use crate::token::KeyMaterial;
use chrono::{DateTime, Utc};
use entity::signing_key;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// Every stored key, newest first; keys of an unknown algorithm are skipped.
pub async fn list<C: Conn>(c: &C) -> Result<Vec<KeyMaterial>> {
    Ok(signing_key::Entity::find()
        .order_by_desc(signing_key::Column::CreatedAt)
        .order_by_desc(signing_key::Column::Kid)
        .all(c)
        .await?
        .into_iter()
        .filter_map(|m| {
            Some(KeyMaterial {
                algorithm: m.algorithm.parse().ok()?,
                kid: m.kid,
                private_key: m.private_key,
                created_at: m.created_at,
                retired_at: m.retired_at,
            })
        })
        .collect())
}

pub async fn insert<C: Conn>(c: &C, key: &KeyMaterial) -> Result<()> {
    signing_key::ActiveModel {
        kid: Set(key.kid.clone()),
        algorithm: Set(key.algorithm.as_str().to_owned()),
        private_key: Set(key.private_key.clone()),
        created_at: Set(key.created_at),
        retired_at: Set(key.retired_at),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Retires every unretired key except `keep`: they stop signing but stay published until the
/// tokens they signed have expired.
pub async fn retire_all_except<C: Conn>(c: &C, keep: Option<&str>, now: DateTime<Utc>) -> Result<u64> {
    let mut update = signing_key::Entity::update_many()
        .col_expr(signing_key::Column::RetiredAt, Expr::value(now))
        .filter(signing_key::Column::RetiredAt.is_null());
    if let Some(kid) = keep {
        update = update.filter(signing_key::Column::Kid.ne(kid));
    }
    Ok(update.exec(c).await?.rows_affected)
}
