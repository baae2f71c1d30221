//! Anti-automation on the open password routes (OWASP ASVS V2.2.1): brute-force protection for
//! password logins, and pacing of password-reset mail (`MailPacer`, below).
//!
//! Logins, as Keycloak's "brute force detection" does it with temporary lockout:
//! - what is counted is the account (its email and its username share one counter), or the name
//!   itself when no account has it, so a lock says nothing about which accounts exist;
//! - an attempt counts as a failure from the moment it starts until it succeeds: a guess in
//!   flight is a failure, so thousands sent at once still get `max_failures` tries, not
//!   thousands;
//! - once `max_failures` have started without a success, the subject is locked for `lockout`;
//!   every further failure after a lock doubles it, up to 15 minutes;
//! - while locked, attempts are refused before the password is checked (no argon2 work) and do
//!   not count; a successful login forgets the failures; so do 12 hours without one.
//!
//! The counters live in memory on SQLite (one process) and in the `login_attempts` table on
//! PostgreSQL, so every replica behind a load balancer shares them (one row lock per attempt).
//! Keys are SHA-256 digests: bounded in size, and no addresses kept. Client addresses are not
//! counted: behind a proxy or a NAT one address is many people.
use crate::config::ThrottlePolicy;
use crate::service::{Result, ServiceError};
use crate::store::{self, Db};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// The longest lock.
const MAX_LOCKOUT: Duration = Duration::minutes(15);

/// How long failures are remembered after the last one.
const FAILURE_MEMORY: Duration = Duration::hours(12);

/// Subjects tracked at most in memory; past this, those that are not locked are forgotten first.
const MAX_TRACKED: usize = 100_000;

type NameDigest = [u8; 32];

fn digest(name: &str) -> NameDigest {
    crate::crypto::sha256(name.as_bytes())
}

/// Who an attempt is counted against.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An account: its email and its username are one subject.
    Account(Uuid),
    /// A login name no account has (counted the same, so locks reveal nothing).
    Name(&'a str),
}

impl Subject<'_> {
    fn key(&self) -> NameDigest {
        match self {
            Self::Account(id) => digest(&format!("account:{id}")),
            Self::Name(name) => digest(&format!("name:{name}")),
        }
    }
}

pub use crate::store::throttle::Failures;

/// Seconds to wait, rounded up: a client that waits exactly this long is let in.
fn wait(until: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    ((until - now).num_milliseconds() + 999).div_euclid(1000)
}

/// Starts an attempt on a subject's failures: `Err(seconds)` while locked; otherwise the attempt
/// is counted (and, at the limit, the lock starts now).
pub fn start(
    policy: ThrottlePolicy,
    before: Option<Failures>,
    now: DateTime<Utc>,
) -> std::result::Result<Failures, i64> {
    let mut failures = before.unwrap_or(Failures {
        count: 0,
        last: now,
        locked_until: None,
    });
    if let Some(until) = failures.locked_until.filter(|until| *until > now) {
        return Err(wait(until, now));
    }
    if now - failures.last > FAILURE_MEMORY {
        failures.count = 0;
    }
    failures.count = failures.count.saturating_add(1);
    failures.last = now;
    if let Some(over) = failures.count.checked_sub(policy.max_failures) {
        let lock = policy
            .lockout
            .checked_mul(1i32.checked_shl(over.min(20)).unwrap_or(i32::MAX))
            .map_or(MAX_LOCKOUT, |d| d.min(MAX_LOCKOUT));
        failures.locked_until = Some(now + lock);
    }
    Ok(failures)
}

/// Where the counters live.
enum Counters {
    Memory(Mutex<HashMap<NameDigest, Failures>>),
    /// PostgreSQL: shared by every replica.
    Shared(Db),
}

pub struct LoginThrottle {
    policy: Option<ThrottlePolicy>,
    counters: Counters,
}

impl LoginThrottle {
    /// In memory (one process).
    pub fn new(policy: Option<ThrottlePolicy>) -> Self {
        Self {
            policy,
            counters: Counters::Memory(Mutex::default()),
        }
    }

    /// In memory on SQLite, in the database on PostgreSQL.
    pub fn for_database(policy: Option<ThrottlePolicy>, db: &Db) -> Self {
        if store::notify::is_postgres(db) {
            Self {
                policy,
                counters: Counters::Shared(db.clone()),
            }
        } else {
            Self::new(policy)
        }
    }

    /// Starts an attempt: `TooManyAttempts` while the subject is locked, otherwise counted as a
    /// failure until `succeeded`. Returns whether this attempt starts a lock.
    pub async fn start(&self, subject: Subject<'_>, now: DateTime<Utc>) -> Result<bool> {
        let Some(policy) = self.policy else {
            return Ok(false);
        };
        let key = subject.key();
        let counted = match &self.counters {
            Counters::Memory(names) => {
                let mut names = names.lock().unwrap_or_else(|p| p.into_inner());
                if names.len() >= MAX_TRACKED {
                    names.retain(|_, f| f.locked_until.is_some_and(|until| until > now));
                }
                let counted = start(policy, names.get(&key).copied(), now);
                if let Ok(failures) = counted
                    && names.len() < MAX_TRACKED
                {
                    names.insert(key, failures);
                }
                counted
            }
            Counters::Shared(db) => store::throttle::count(db, &hex(&key), |before| start(policy, before, now)).await?,
        };
        counted
            .map(|failures| failures.locked_until.is_some())
            .map_err(ServiceError::TooManyAttempts)
    }

    /// The attempt that just started was right but the login is not over (a second factor is
    /// due): it no longer counts, and the failures before it stay (so a known password does not
    /// buy unlimited guesses at the second factor).
    /// `locked`: whether this attempt started a lock (`start`'s answer), which goes with it.
    pub async fn forgive(&self, subject: Subject<'_>, locked: bool) -> Result<()> {
        if self.policy.is_none() {
            return Ok(());
        }
        let key = subject.key();
        let less = move |f: Failures| Failures {
            count: f.count.saturating_sub(1),
            locked_until: f.locked_until.filter(|_| !locked),
            ..f
        };
        let one_less = |before: Option<Failures>| {
            Ok::<_, std::convert::Infallible>(match before {
                Some(f) => less(f),
                None => Failures {
                    count: 0,
                    last: DateTime::UNIX_EPOCH,
                    locked_until: None,
                },
            })
        };
        match &self.counters {
            Counters::Memory(names) => {
                let mut names = names.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(failures) = names.get_mut(&key) {
                    *failures = less(*failures);
                }
            }
            Counters::Shared(db) => {
                let _ = store::throttle::count(db, &hex(&key), one_less).await?;
            }
        }
        Ok(())
    }

    /// A successful login forgets the subject's failures.
    pub async fn succeeded(&self, subject: Subject<'_>) -> Result<()> {
        if self.policy.is_none() {
            return Ok(());
        }
        let key = subject.key();
        match &self.counters {
            Counters::Memory(names) => {
                names.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            }
            Counters::Shared(db) => store::throttle::forget(db, &hex(&key)).await?,
        }
        Ok(())
    }
}

fn hex(key: &NameDigest) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// The shortest time between two password-reset mails to one address.
pub const RESET_MAIL_INTERVAL: Duration = Duration::minutes(1);

/// At most one mail of a kind per address per `RESET_MAIL_INTERVAL` (each service that mails
/// keeps its own pacer: password resets, email verifications, invitations): `forgot` is open to
/// anyone, and without this it would mail a victim as fast as it is called. Requests in between
/// get the same answer and send nothing (or, where the caller is an admin, a 429 saying how long
/// to wait). When `MAX_TRACKED` addresses were mailed within one interval, new addresses are not
/// paced until some age out (mail keeps working).
#[derive(Default)]
pub struct MailPacer {
    sent: Mutex<HashMap<NameDigest, DateTime<Utc>>>,
}

impl MailPacer {
    /// Whether a mail to `address` (normalised) may go now; if so, it counts as sent.
    pub fn allow(&self, address: &str, now: DateTime<Utc>) -> bool {
        self.check(address, now).is_ok()
    }

    /// Like `allow`, with the seconds to wait when not.
    pub fn check(&self, address: &str, now: DateTime<Utc>) -> std::result::Result<(), i64> {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let key = digest(address);
        if let Some(at) = sent.get(&key).filter(|at| now - **at < RESET_MAIL_INTERVAL) {
            return Err(wait(*at + RESET_MAIL_INTERVAL, now));
        }
        if sent.len() >= MAX_TRACKED {
            sent.retain(|_, at| now - *at < RESET_MAIL_INTERVAL);
        }
        if sent.len() < MAX_TRACKED {
            sent.insert(key, now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const POLICY: ThrottlePolicy = ThrottlePolicy {
        max_failures: 3,
        lockout: Duration::seconds(60),
    };

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_900_000_000 + seconds, 0).unwrap()
    }

    /// Starts `n` attempts that all fail, from `state`; returns the state and each answer.
    fn fail(mut state: Option<Failures>, times: &[i64]) -> (Option<Failures>, Vec<std::result::Result<bool, i64>>) {
        let mut answers = Vec::new();
        for t in times {
            match start(POLICY, state, at(*t)) {
                Ok(f) => {
                    answers.push(Ok(f.locked_until.is_some()));
                    state = Some(f);
                }
                Err(wait) => answers.push(Err(wait)),
            }
        }
        (state, answers)
    }

    #[test]
    fn attempts_count_from_their_start_and_lock_at_the_limit() {
        // Three attempts in flight at once: the third starts the lock, the fourth is refused.
        let (state, answers) = fail(None, &[0, 0, 0, 0]);
        assert_eq!(answers, [Ok(false), Ok(false), Ok(true), Err(60)]);
        assert_eq!(
            start(POLICY, state, at(61)).map(|f| f.count),
            Ok(4),
            "unlocked after the wait"
        );
    }

    #[test]
    fn further_failures_double_the_lock_up_to_fifteen_minutes() {
        let (mut state, _) = fail(None, &[0, 1, 2]);
        let mut locks = Vec::new();
        let mut t = 2;
        for _ in 0..6 {
            t += 1000;
            let f = start(POLICY, state, at(t)).unwrap();
            locks.push((f.locked_until.unwrap() - at(t)).num_seconds());
            state = Some(f);
        }
        assert_eq!(locks, [120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn twelve_quiet_hours_forget_failures() {
        let (state, _) = fail(None, &[0, 1]);
        let later = start(POLICY, state, at(1 + 12 * 3600 + 1)).unwrap();
        assert_eq!(later.count, 1);
    }

    #[tokio::test]
    async fn an_account_is_one_subject_and_success_forgets() {
        let t = LoginThrottle::new(Some(POLICY));
        let ada = Subject::Account(Uuid::nil());
        assert!(!t.start(ada, at(0)).await.unwrap());
        assert!(!t.start(ada, at(1)).await.unwrap());
        t.succeeded(ada).await.unwrap();
        for i in 0..2 {
            assert!(!t.start(ada, at(2 + i)).await.unwrap(), "counting starts again");
        }
        assert!(
            t.start(Subject::Name("ada"), at(5)).await.is_ok(),
            "a name is another subject"
        );
        assert!(t.start(ada, at(5)).await.unwrap(), "the third starts the lock");
        assert!(matches!(
            t.start(ada, at(6)).await,
            Err(ServiceError::TooManyAttempts(59))
        ));
    }

    #[test]
    fn reset_mail_is_paced_per_address() {
        let pacer = MailPacer::default();
        assert!(pacer.allow("ada", at(0)));
        assert!(!pacer.allow("ada", at(59)));
        assert!(pacer.allow("bob", at(59)), "per address");
        assert!(pacer.allow("ada", at(60)));
        assert!(!pacer.allow("ada", at(61)));
        assert_eq!(pacer.check("ada", at(70)), Err(50), "how long to wait");
    }

    #[tokio::test]
    async fn off_means_off() {
        let t = LoginThrottle::new(None);
        for i in 0..50 {
            assert!(!t.start(Subject::Name("ada"), at(i)).await.unwrap());
        }
    }
}
