//! Which keys sign and verify. Keys live in the database so every replica signs with the same
//! key; the newest unretired key of the configured algorithm signs; retired keys keep verifying
//! (and stay in the JWKS) until the last token they signed has expired. Private keys are sealed
//! with the `Sealer` when stored and opened when loaded.
use super::{Result, ServiceError};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::seal::Sealer;
use crate::store::{self, Db};
use crate::token::verify::LEEWAY_SECONDS;
use crate::token::{Algorithm, Key, KeyMaterial, KeyRing};
use chrono::Duration;
use secrecy::ExposeSecret;
use std::sync::Arc;

/// At start: retires keys of other algorithms, generates a key if none signs, and loads the ring.
pub async fn ensure(db: &Db, sealer: &Sealer, config: &Config, clock: &dyn Clock) -> Result<KeyRing> {
    let now = clock.now();
    let stored = store::keys::list(db, sealer).await?;
    let live_of_alg = stored
        .iter()
        .find(|k| k.algorithm == config.algorithm && k.retired_at.is_none());
    if config.algorithm != Algorithm::HS256 {
        let keep = match live_of_alg {
            Some(k) => k.kid.clone(),
            None => {
                let key = KeyMaterial::generate(config.algorithm, now).map_err(|e| ServiceError::Internal(e.into()))?;
                store::keys::insert(db, sealer, &key).await?;
                tracing::info!(kid = %key.kid, algorithm = %key.algorithm, "generated a signing key");
                key.kid
            }
        };
        let other_algorithms: Vec<&KeyMaterial> = stored
            .iter()
            .filter(|k| k.algorithm != config.algorithm && k.retired_at.is_none())
            .collect();
        if !other_algorithms.is_empty() {
            store::keys::retire_all_except(db, Some(&keep), now).await?;
        }
    } else if stored.iter().any(|k| k.retired_at.is_none()) {
        store::keys::retire_all_except(db, None, now).await?;
    }
    load(db, sealer, config, clock).await
}

/// The ring as the database has it now.
pub async fn load(db: &Db, sealer: &Sealer, config: &Config, clock: &dyn Clock) -> Result<KeyRing> {
    let now = clock.now();
    let grace = config.access_token_ttl + Duration::seconds(LEEWAY_SECONDS);
    let mut keys = Vec::new();
    let mut signing = None;
    for material in store::keys::list(db, sealer).await? {
        let in_force = material.retired_at.is_none_or(|at| at + grace > now);
        if !in_force {
            continue;
        }
        let key = Arc::new(Key::from_material(&material).map_err(|e| ServiceError::Internal(e.into()))?);
        if signing.is_none() && material.retired_at.is_none() && material.algorithm == config.algorithm {
            signing = Some(Arc::clone(&key));
        }
        keys.push(key);
    }
    let signing = match (config.algorithm, &config.jwt_secret, signing) {
        (Algorithm::HS256, Some(secret), _) => Arc::new(Key::hmac(secret.expose_secret().as_bytes())),
        (_, _, Some(key)) => key,
        // Another process retired the key this one signed with and has not stored a new one.
        _ => {
            return Err(ServiceError::Internal(anyhow::anyhow!(
                "no signing key of {} is stored",
                config.algorithm
            )));
        }
    };
    Ok(KeyRing::new(signing, keys))
}

/// `guildhall keys rotate`: a new key signs from now on; the others are retired.
pub async fn rotate(db: &Db, sealer: &Sealer, config: &Config, clock: &dyn Clock) -> Result<KeyMaterial> {
    if config.algorithm == Algorithm::HS256 {
        return Err(ServiceError::Forbidden(
            "hs256_rotation",
            "HS256 keys are rotated by changing AUTH_JWT_SECRET",
        ));
    }
    let now = clock.now();
    let key = KeyMaterial::generate(config.algorithm, now).map_err(|e| ServiceError::Internal(e.into()))?;
    let tx = store::begin(db).await?;
    store::keys::insert(&tx, sealer, &key).await?;
    store::keys::retire_all_except(&tx, Some(&key.kid), now).await?;
    store::commit(tx).await?;
    Ok(key)
}
