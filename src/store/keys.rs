//! Stored signing keys. The private key is sealed (`crypto::seal`) when stored and opened when
//! read; one stored before a master key was set reads as it is.
use super::{Conn, Result, StoreError};
use crate::crypto::seal::{Purpose, Sealer};
use crate::token::KeyMaterial;
use chrono::{DateTime, Utc};
use entity::signing_key;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use secrecy::ExposeSecret;

/// Every stored key, newest first; keys of an unknown algorithm are skipped.
pub async fn list<C: Conn>(c: &C, sealer: &Sealer) -> Result<Vec<KeyMaterial>> {
    let stored = signing_key::Entity::find()
        .order_by_desc(signing_key::Column::CreatedAt)
        .order_by_desc(signing_key::Column::Kid)
        .all(c)
        .await?;
    let mut keys = Vec::with_capacity(stored.len());
    for m in stored {
        let Ok(algorithm) = m.algorithm.parse() else {
            continue;
        };
        let private_key = sealer
            .open(Purpose::SigningKey, &m.private_key)
            .map_err(|e| StoreError::sealed(format!("signing key {}", m.kid), e))?;
        keys.push(KeyMaterial {
            algorithm,
            kid: m.kid,
            private_key: private_key.expose_secret().to_owned(),
            created_at: m.created_at,
            retired_at: m.retired_at,
        });
    }
    Ok(keys)
}

pub async fn insert<C: Conn>(c: &C, sealer: &Sealer, key: &KeyMaterial) -> Result<()> {
    let private_key = sealer
        .seal(Purpose::SigningKey, &key.private_key)
        .map_err(|e| StoreError::sealed(format!("signing key {}", key.kid), e))?;
    signing_key::ActiveModel {
        kid: Set(key.kid.clone()),
        algorithm: Set(key.algorithm.as_str().to_owned()),
        private_key: Set(private_key),
        created_at: Set(key.created_at),
        retired_at: Set(key.retired_at),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Retires every unretired key except those in `keep`: they stop signing but stay published
/// until the tokens they signed have expired.
pub async fn retire_all_except<C: Conn>(c: &C, keep: &[String], now: DateTime<Utc>) -> Result<u64> {
    let update = signing_key::Entity::update_many()
        .col_expr(signing_key::Column::RetiredAt, Expr::value(now))
        .filter(signing_key::Column::RetiredAt.is_null())
        .filter(signing_key::Column::Kid.is_not_in(keep.iter().cloned()));
    Ok(update.exec(c).await?.rows_affected)
}
