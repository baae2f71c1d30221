//! Password policy and argon2id hashing. Hashing runs on the blocking pool with bounded
//! concurrency, so a flood of logins queues here instead of starving the async workers.
//! Unknown users verify a dummy hash, so every credential failure costs the same.
use crate::config::{HashSettings, PasswordPolicy};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use tokio::sync::Semaphore;
use tracing::Instrument;

/// Longest password accepted, in characters (OWASP ASVS 2.1.2 asks for at least 64).
pub const MAX_PASSWORD_CHARS: usize = 1024;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Checks a new password against the policy: length only (no composition rules, ASVS 2.1.9),
/// taken exactly as received, and not on the list of common passwords.
pub fn check_policy(policy: &PasswordPolicy, password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < policy.min_length {
        return Err(format!("must be at least {} characters", policy.min_length));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    if policy.blocklist && COMMON.contains(password.to_lowercase().as_str()) {
        return Err("is too common; choose another".into());
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("password hashing task failed")]
    Join(#[from] tokio::task::JoinError),
    #[error("password hashing is shut down")]
    Closed,
}

/// argon2id with the configured cost, `concurrency` hashes at a time.
pub struct Hasher {
    argon: Argon2<'static>,
    permits: Semaphore,
    dummy: String,
}

impl Hasher {
    pub fn new(settings: HashSettings) -> Result<Arc<Self>, HashError> {
        let params = Params::new(settings.memory_kib, settings.iterations, settings.parallelism, None)
            .map_err(|e| HashError::Hash(e.into()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let dummy = argon
            .hash_password(b"guildhall dummy password", &salt)
            .map_err(HashError::Hash)?
            .to_string();
        Ok(Arc::new(Self {
            argon,
            permits: Semaphore::new(settings.concurrency),
            dummy,
        }))
    }

    /// The PHC string of a new hash of `password`.
    pub async fn hash(self: &Arc<Self>, password: SecretString) -> Result<String, HashError> {
        let this = Arc::clone(self);
        self.blocking(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            this.argon
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(HashError::Hash)
        })
        .await
    }

    /// Whether `password` matches `hash`; with no hash (unknown user, OIDC-only user) a dummy
    /// hash is verified and the answer is false.
    pub async fn verify(self: &Arc<Self>, password: SecretString, hash: Option<String>) -> Result<bool, HashError> {
        let this = Arc::clone(self);
        self.blocking(move || {
            let known = hash.is_some();
            let phc = hash.unwrap_or_else(|| this.dummy.clone());
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return Ok(false);
            };
            let ok = this
                .argon
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok();
            Ok(ok && known)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError::Closed)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(work))
            .instrument(tracing::Span::current())
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PasswordPolicy = PasswordPolicy {
        min_length: 8,
        blocklist: true,
    };

    #[test]
    fn policy_is_length_and_blocklist_only() {
        let long = "x".repeat(1025);
        let cases: &[(&str, bool)] = &[
            ("short", false),
            ("password", false),
            ("PassWord123", false),
            ("correct horse battery staple", true),
            ("alllowercaseletters", true),
            ("ééééééééé", true),
            (long.as_str(), false),
        ];
        for (password, ok) in cases {
            assert_eq!(check_policy(&POLICY, password).is_ok(), *ok, "{password:.20}");
        }
        let relaxed = PasswordPolicy {
            min_length: 4,
            blocklist: false,
        };
        assert!(check_policy(&relaxed, "password").is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_fail() {
        let hasher = Hasher::new(HashSettings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            concurrency: 1,
        })
        .unwrap();
        let hash = hasher.hash("s3cret-enough".to_string().into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(
            hasher
                .verify("s3cret-enough".to_string().into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("s3cret-enough ".to_string().into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("guildhall dummy password".to_string().into(), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn default_parameters_are_the_owasp_minimum() {
        let settings = HashSettings {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            concurrency: 1,
        };
        let hasher = Hasher::new(settings).unwrap();
        let hash = hasher.hash("s3cret-enough".to_string().into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    }
}
