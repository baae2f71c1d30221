//! Settings of the brute-force protection on password logins (`service::throttle`).
use super::{ConfigError, seconds};
use chrono::Duration;
use clap::Args;

#[derive(Args, Clone)]
pub struct ThrottleSettings {
    /// Failed logins in a row after which a login name is locked for a while; 0 turns the protection off
    #[arg(long, env = "AUTH_LOGIN_MAX_FAILURES", default_value_t = 5, global = true)]
    pub login_max_failures: u32,
    /// First lockout in seconds; each further failure doubles it, up to 15 minutes
    #[arg(long, env = "AUTH_LOGIN_LOCKOUT_SECONDS", default_value_t = 60, global = true)]
    pub login_lockout_seconds: u64,
}

/// When a login name is locked (`AUTH_LOGIN_MAX_FAILURES`, `AUTH_LOGIN_LOCKOUT_SECONDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub lockout: Duration,
}

impl ThrottleSettings {
    /// `None` when the protection is off.
    pub fn validate(&self) -> Result<Option<ThrottlePolicy>, ConfigError> {
        let lockout = seconds("AUTH_LOGIN_LOCKOUT_SECONDS", self.login_lockout_seconds)?;
        Ok((self.login_max_failures > 0).then_some(ThrottlePolicy {
            max_failures: self.login_max_failures,
            lockout,
        }))
    }
}
