//! Bounds on what requests can make the server hold or wait for: hashing admission, live sessions
//! per user, how long cached answers are trusted, how long the audit log is kept, how long a
//! browser stays logged in.
use super::{ConfigError, bad, seconds};
use chrono::Duration;
use clap::Args;

#[derive(Args, Clone)]
pub struct LimitSettings {
    /// Milliseconds a password hash may wait for a hashing thread before the request is refused
    /// with 503 overloaded
    #[arg(long, env = "AUTH_HASH_MAX_WAIT_MS", default_value_t = 3000, global = true)]
    pub hash_max_wait_ms: u64,
    /// Live sessions a user may have; starting one more ends the oldest
    #[arg(long, env = "AUTH_MAX_SESSIONS_PER_USER", default_value_t = 100, global = true)]
    pub max_sessions_per_user: u64,
    /// Seconds a replica trusts a cached context, service account or revocation list before it
    /// re-reads the database (a bound on what a lost invalidation can keep alive)
    #[arg(long, env = "AUTH_CACHE_MAX_AGE", default_value_t = 300, global = true)]
    pub cache_max_age: u64,
    /// Users' contexts (per organisation) a replica keeps in memory, and as many rendered
    /// `/auth/validate` answers; past it the cache starts over (memory: about 2 KB each, see `bench footprint`)
    #[arg(long, env = "AUTH_CACHE_MAX_CONTEXTS", default_value_t = 200_000, global = true)]
    pub cache_max_contexts: usize,
    /// Verified access tokens a replica remembers (so a signature is checked once); past it
    /// new tokens are verified each time until the remembered ones expire
    #[arg(long, env = "AUTH_CACHE_MAX_TOKENS", default_value_t = 100_000, global = true)]
    pub cache_max_tokens: usize,
    /// Seconds the audit log keeps its entries (default 90 days)
    #[arg(long, env = "AUTH_AUDIT_RETENTION", default_value_t = 7_776_000, global = true)]
    pub audit_retention: u64,
    /// Seconds a browser stays logged in to guildhall's hosted pages (single sign-on across
    /// applications) after it logs in
    #[arg(long, env = "AUTH_BROWSER_SESSION_TTL", default_value_t = 43_200, global = true)]
    pub browser_session_ttl: u64,
}

/// Validated limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub hash_max_wait: std::time::Duration,
    pub max_sessions_per_user: u64,
    pub cache_max_age: Duration,
    pub cache_max_contexts: usize,
    pub cache_max_tokens: usize,
    pub audit_retention: Duration,
    pub browser_session_ttl: Duration,
}

impl LimitSettings {
    pub fn validate(&self) -> Result<Limits, ConfigError> {
        if !(1..=600_000).contains(&self.hash_max_wait_ms) {
            return Err(bad("AUTH_HASH_MAX_WAIT_MS must be between 1 and 600000"));
        }
        if self.cache_max_contexts == 0 || self.cache_max_tokens == 0 {
            return Err(bad(
                "AUTH_CACHE_MAX_CONTEXTS and AUTH_CACHE_MAX_TOKENS must be at least 1",
            ));
        }
        if self.max_sessions_per_user == 0 {
            return Err(bad("AUTH_MAX_SESSIONS_PER_USER must be at least 1"));
        }
        Ok(Limits {
            hash_max_wait: std::time::Duration::from_millis(self.hash_max_wait_ms),
            max_sessions_per_user: self.max_sessions_per_user,
            cache_max_age: seconds("AUTH_CACHE_MAX_AGE", self.cache_max_age)?,
            cache_max_contexts: self.cache_max_contexts,
            cache_max_tokens: self.cache_max_tokens,
            audit_retention: seconds("AUTH_AUDIT_RETENTION", self.audit_retention)?,
            browser_session_ttl: seconds("AUTH_BROWSER_SESSION_TTL", self.browser_session_ttl)?,
        })
    }
}
