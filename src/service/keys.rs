//! Which keys sign and verify. Keys live in the database so every replica signs with the same
//! key; the newest unretired key of the configured algorithm signs access tokens; retired keys
//! keep verifying (and stay in the JWKS) until the last token they signed has expired. Private
//! keys are sealed with the `Sealer` when stored and opened when loaded.
//!
//! ID tokens are signed RS256 (OpenID Connect Core §15.1 requires OPs to support it and relying
//! parties expect it): with the access-token key when that is RS256, otherwise with an RS256 key
//! kept beside it (also under HS256, whose shared secret no relying party may hold). Access
//! tokens are never accepted when signed by that key alone: they must say `typ: at+jwt`, which
//! ID tokens do not.
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

/// The algorithms that need a live stored key: the access tokens' (unless HS256) and RS256.
fn wanted(config: &Config) -> Vec<Algorithm> {
    let mut algorithms = vec![Algorithm::RS256];
    if !matches!(config.algorithm, Algorithm::HS256 | Algorithm::RS256) {
        algorithms.insert(0, config.algorithm);
    }
    algorithms
}

/// At start: retires keys of algorithms no longer used, generates the keys that are missing, and
/// loads the ring.
pub async fn ensure(db: &Db, sealer: &Sealer, config: &Config, clock: &dyn Clock) -> Result<KeyRing> {
    let now = clock.now();
    let stored = store::keys::list(db, sealer).await?;
    let mut keep = Vec::new();
    for algorithm in wanted(config) {
        match stored
            .iter()
            .find(|k| k.algorithm == algorithm && k.retired_at.is_none())
        {
            Some(k) => keep.push(k.kid.clone()),
            None => {
                let key = KeyMaterial::generate(algorithm, now).map_err(|e| ServiceError::Internal(e.into()))?;
                store::keys::insert(db, sealer, &key).await?;
                tracing::info!(kid = %key.kid, algorithm = %key.algorithm, "generated a signing key");
                keep.push(key.kid);
            }
        }
    }
    let others = stored.iter().any(|k| k.retired_at.is_none() && !keep.contains(&k.kid));
    if others {
        store::keys::retire_all_except(db, &keep, now).await?;
    }
    load(db, sealer, config, clock).await
}

/// The ring as the database has it now.
pub async fn load(db: &Db, sealer: &Sealer, config: &Config, clock: &dyn Clock) -> Result<KeyRing> {
    let now = clock.now();
    let grace = config.access_token_ttl + Duration::seconds(LEEWAY_SECONDS);
    let mut keys = Vec::new();
    let mut signing = None;
    let mut id_tokens = None;
    for material in store::keys::list(db, sealer).await? {
        let in_force = material.retired_at.is_none_or(|at| at + grace > now);
        if !in_force {
            continue;
        }
        let key = Arc::new(Key::from_material(&material).map_err(|e| ServiceError::Internal(e.into()))?);
        let live = material.retired_at.is_none();
        if signing.is_none() && live && material.algorithm == config.algorithm {
            signing = Some(Arc::clone(&key));
        }
        if id_tokens.is_none() && live && material.algorithm == Algorithm::RS256 {
            id_tokens = Some(Arc::clone(&key));
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
    let id_tokens =
        id_tokens.ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("no RS256 key for ID tokens is stored")))?;
    Ok(KeyRing::new(signing, keys).with_id_token_key(id_tokens))
}

/// `guildhall keys rotate`: new keys sign from now on (access and ID tokens); the others are
/// retired.
pub async fn rotate(db: &Db, sealer: &Sealer, config: &Config, clock: &dyn Clock) -> Result<KeyMaterial> {
    if config.algorithm == Algorithm::HS256 {
        return Err(ServiceError::Forbidden(
            "hs256_rotation",
            "HS256 keys are rotated by changing AUTH_JWT_SECRET",
        ));
    }
    let now = clock.now();
    let mut fresh = Vec::new();
    for algorithm in wanted(config) {
        fresh.push(KeyMaterial::generate(algorithm, now).map_err(|e| ServiceError::Internal(e.into()))?);
    }
    let tx = store::begin(db).await?;
    for key in &fresh {
        store::keys::insert(&tx, sealer, key).await?;
    }
    let keep: Vec<String> = fresh.iter().map(|k| k.kid.clone()).collect();
    store::keys::retire_all_except(&tx, &keep, now).await?;
    store::commit(tx).await?;
    Ok(fresh.swap_remove(0))
}
