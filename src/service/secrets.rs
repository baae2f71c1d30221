//! Secrets at rest across the database (`crypto::seal`): at start every stored secret must open
//! with the configured master key, and with one, what was stored before it was set is sealed in
//! place; `guildhall keys rewrap` moves every secret to a new master key.
use super::{Result, ServiceError};
use crate::crypto::seal::{SealError, Sealer};
use crate::store::secrets::StoredSecret;
use crate::store::{self, Db};
use secrecy::ExposeSecret;

fn refused(secret: &StoredSecret, error: SealError) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!("{}: {error}", secret.at))
}

/// Opens `secret` with `current` and seals it with `next`.
fn reseal(secret: &StoredSecret, current: &Sealer, next: &Sealer) -> Result<String> {
    let purpose = secret.at.purpose();
    let plaintext = current.open(purpose, &secret.stored).map_err(|e| refused(secret, e))?;
    next.seal(purpose, plaintext.expose_secret())
        .map_err(|e| refused(secret, e))
}

/// At start: every stored secret must open with the configured master key (or, without one, be
/// unsealed), so a missing or wrong key stops start-up instead of failing a login later. With a
/// master key, secrets stored before it was set are sealed in place; a value is replaced only
/// while it still holds the plaintext read, so replicas starting together do the work once.
/// Answers how many it sealed.
pub async fn prepare(db: &Db, sealer: &Sealer) -> Result<u64> {
    let mut sealed = 0;
    for secret in store::secrets::all(db).await? {
        if Sealer::is_sealed(&secret.stored) || sealer.master_key_id().is_none() {
            sealer
                .open(secret.at.purpose(), &secret.stored)
                .map_err(|e| refused(&secret, e))?;
            continue;
        }
        let value = reseal(&secret, sealer, sealer)?;
        if store::secrets::replace(db, &secret, &value).await? {
            sealed += 1;
        }
    }
    if sealed > 0 {
        tracing::info!(
            sealed,
            master_key = sealer.master_key_id(),
            "sealed the secrets stored before the master key was set"
        );
    }
    Ok(sealed)
}

/// `guildhall keys rewrap`: every stored secret, opened with `current` (plaintext ones too) and
/// sealed with `next`, in one transaction; answers how many.
pub async fn rewrap(db: &Db, current: &Sealer, next: &Sealer) -> Result<u64> {
    let tx = store::begin(db).await?;
    let mut rewrapped = 0;
    for secret in store::secrets::all(&tx).await? {
        let value = reseal(&secret, current, next)?;
        if store::secrets::replace(&tx, &secret, &value).await? {
            rewrapped += 1;
        }
    }
    store::commit(tx).await?;
    Ok(rewrapped)
}
