//! Anti-automation on the open password routes (OWASP ASVS V2.2.1): brute-force protection for
//! password logins, and pacing of password-reset mail (`MailPacer`, below).
//!
//! Logins, as Keycloak's "brute force detection" does it with temporary lockout:
//! - after `max_failures` failed logins in a row for one login name, that name is locked for
//!   `lockout`; every further failure doubles the lock, up to 15 minutes;
//! - while a name is locked, its logins are refused before the password is checked (so guessing
//!   stops, and a flood of them costs no argon2 work) and do not count as failures;
//! - a successful login forgets the name's failures; so do 12 hours without one;
//! - attempts already past the check when a lock starts still finish, so concurrent guesses can
//!   overshoot the limit by what is in flight (bounded by the hashing queue).
//!
//! Names are counted whether or not an account has them, so a lock says nothing about which
//! accounts exist. They are kept as SHA-256 digests: bounded in size, and no addresses in memory.
//! Per replica and in memory: behind a load balancer an attacker gets `max_failures` tries per
//! replica before the locks start. Client addresses are not counted: behind a proxy or a NAT one
//! address is many people, and a lock per address would lock them all out.
use crate::config::ThrottlePolicy;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// The longest lock.
const MAX_LOCKOUT: Duration = Duration::minutes(15);

/// How long failures are remembered after the last one.
const FAILURE_MEMORY: Duration = Duration::hours(12);

/// Names tracked at most; past this, names that are not locked are forgotten first.
const MAX_TRACKED: usize = 100_000;

type NameDigest = [u8; 32];

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

pub struct LoginThrottle {
    policy: Option<ThrottlePolicy>,
    names: Mutex<HashMap<NameDigest, Failures>>,
}

fn digest(name: &str) -> NameDigest {
    crate::crypto::sha256(name.as_bytes())
}

impl LoginThrottle {
    pub fn new(policy: Option<ThrottlePolicy>) -> Self {
        Self {
            policy,
            names: Mutex::default(),
        }
    }

    fn names(&self) -> std::sync::MutexGuard<'_, HashMap<NameDigest, Failures>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(seconds to wait)` while `name` (normalised) is locked.
    pub fn check(&self, name: &str, now: DateTime<Utc>) -> Result<(), i64> {
        if self.policy.is_none() {
            return Ok(());
        }
        match self.names().get(&digest(name)).and_then(|f| f.locked_until) {
            // Rounded up: a client that waits exactly this long is let in.
            Some(until) if until > now => Err(((until - now).num_milliseconds() + 999).div_euclid(1000)),
            _ => Ok(()),
        }
    }

    /// Counts a failed login; `Some(seconds)` when it locks the name.
    pub fn failed(&self, name: &str, now: DateTime<Utc>) -> Option<i64> {
        let policy = self.policy?;
        let mut names = self.names();
        if names.len() >= MAX_TRACKED {
            names.retain(|_, f| f.locked_until.is_some_and(|until| until > now));
            if names.len() >= MAX_TRACKED {
                return None;
            }
        }
        let entry = names.entry(digest(name)).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: None,
        });
        if now - entry.last > FAILURE_MEMORY {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        let over = entry.count.checked_sub(policy.max_failures)?;
        let lock = policy
            .lockout
            .checked_mul(1i32.checked_shl(over.min(20)).unwrap_or(i32::MAX))
            .map_or(MAX_LOCKOUT, |d| d.min(MAX_LOCKOUT));
        entry.locked_until = Some(now + lock);
        Some(lock.num_seconds())
    }

    /// A successful login forgets the name's failures.
    pub fn succeeded(&self, name: &str) {
        if self.policy.is_some() {
            self.names().remove(&digest(name));
        }
    }
}

/// The shortest time between two password-reset mails to one address.
pub const RESET_MAIL_INTERVAL: Duration = Duration::minutes(1);

/// At most one password-reset mail per address per `RESET_MAIL_INTERVAL`: `forgot` is open to
/// anyone, and without this it would mail a victim as fast as it is called. Requests in between
/// get the same answer and send nothing. When `MAX_TRACKED` addresses were mailed within one
/// interval, new addresses are not paced until some age out (mail keeps working).
#[derive(Default)]
pub struct MailPacer {
    sent: Mutex<HashMap<NameDigest, DateTime<Utc>>>,
}

impl MailPacer {
    /// Whether a mail to `address` (normalised) may go now; if so, it counts as sent.
    pub fn allow(&self, address: &str, now: DateTime<Utc>) -> bool {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let key = digest(address);
        if sent.get(&key).is_some_and(|at| now - *at < RESET_MAIL_INTERVAL) {
            return false;
        }
        if sent.len() >= MAX_TRACKED {
            sent.retain(|_, at| now - *at < RESET_MAIL_INTERVAL);
        }
        if sent.len() < MAX_TRACKED {
            sent.insert(key, now);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn throttle(max_failures: u32) -> LoginThrottle {
        LoginThrottle::new(Some(ThrottlePolicy {
            max_failures,
            lockout: Duration::seconds(60),
        }))
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_900_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn locks_after_the_limit_and_doubles_up_to_fifteen_minutes() {
        let t = throttle(3);
        assert_eq!(t.failed("ada", at(0)), None);
        assert_eq!(t.failed("ada", at(1)), None);
        assert_eq!(t.check("ada", at(1)), Ok(()));
        assert_eq!(t.failed("ada", at(2)), Some(60));
        assert_eq!(t.check("ada", at(2)), Err(60));
        assert_eq!(t.check("ada", at(61)), Err(1));
        assert_eq!(t.check("ada", at(62)), Ok(()));
        assert_eq!(t.check("bob", at(2)), Ok(()), "other names are not affected");
        let locks: Vec<_> = (0..6).map(|i| t.failed("ada", at(100 + i))).collect();
        assert_eq!(locks, [120, 240, 480, 900, 900, 900].map(Some));
    }

    #[test]
    fn success_and_time_forget_failures() {
        let t = throttle(2);
        t.failed("ada", at(0));
        t.succeeded("ada");
        assert_eq!(t.failed("ada", at(1)), None, "counting starts again after a success");
        assert_eq!(t.failed("ada", at(1 + 12 * 3600 + 1)), None, "and after 12 quiet hours");
        assert_eq!(t.failed("ada", at(1 + 12 * 3600 + 2)), Some(60));
    }

    #[test]
    fn reset_mail_is_paced_per_address() {
        let pacer = MailPacer::default();
        assert!(pacer.allow("ada", at(0)));
        assert!(!pacer.allow("ada", at(59)));
        assert!(pacer.allow("bob", at(59)), "per address");
        assert!(pacer.allow("ada", at(60)));
        assert!(!pacer.allow("ada", at(61)));
    }

    #[test]
    fn off_means_off() {
        let t = LoginThrottle::new(None);
        for i in 0..50 {
            assert_eq!(t.failed("ada", at(i)), None);
        }
        assert_eq!(t.check("ada", at(50)), Ok(()));
    }
}
