//! Accounts and their sessions — everything that issues tokens: registration (`register`, which
//! mails a verification token),
//! password login with brute-force protection (`login`, `throttle`), refresh rotation with reuse
//! detection (`refresh`), sessions and logout (`sessions`), password reset (`passwords`).
//! Turning a token back into a caller is the `Authenticator`'s job (`service::authn`).
mod login;
pub mod passwords;
mod refresh;
mod register;
mod sessions;
pub mod throttle;

pub use login::{Checked, Login};
pub use register::Registration;
pub use sessions::SessionStart;

use super::authn::Authenticator;
use super::change::{Changes, Group};
use super::consent::verification::EmailVerification;
use super::mfa::MfaService;
use crate::config::Config;
use crate::crypto::password::Hasher;
use crate::metrics::Metrics;
use crate::model::{MembershipContext, Session};
use crate::store::{self, Db};
use crate::token::Issuer;
use std::sync::Arc;
use throttle::LoginThrottle;

/// Tokens for one session in one organisation.
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub context: MembershipContext,
    /// The session the tokens belong to (a compatibility route re-mints the access token).
    pub session: Session,
}

pub struct AuthService {
    db: Db,
    changes: Changes,
    authn: Arc<Authenticator>,
    tokens: Arc<Issuer>,
    hasher: Arc<Hasher>,
    config: Arc<Config>,
    /// Every password login goes through `login`, so this one guard covers them all (ours, the
    /// OAuth password grant and the seed services' routes).
    throttle: LoginThrottle,
    /// Registration mails a verification token.
    verification: Arc<EmailVerification>,
    /// Logins by outcome.
    metrics: Arc<Metrics>,
    /// Second factors: a login of an account with one takes two steps.
    mfa: Arc<MfaService>,
    /// Refresh rotations, committed in groups on SQLite (`refresh`).
    rotations: Group<refresh::Rotation>,
}

/// What the auth service is made of.
pub struct Parts {
    pub db: Db,
    pub changes: Changes,
    pub authn: Arc<Authenticator>,
    pub tokens: Arc<Issuer>,
    pub hasher: Arc<Hasher>,
    pub config: Arc<Config>,
    pub verification: Arc<EmailVerification>,
    pub metrics: Arc<Metrics>,
    pub mfa: Arc<MfaService>,
}

impl AuthService {
    pub fn new(parts: Parts) -> Self {
        Self {
            throttle: LoginThrottle::for_database(parts.config.login_throttle, &parts.db),
            metrics: parts.metrics,
            rotations: Group::new(&parts.changes),
            db: parts.db,
            changes: parts.changes,
            authn: parts.authn,
            tokens: parts.tokens,
            hasher: parts.hasher,
            config: parts.config,
            verification: parts.verification,
            mfa: parts.mfa,
        }
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ready(&self) -> super::Result<()> {
        store::ping(&self.db)
            .await
            .map_err(|e| super::ServiceError::Unavailable(e.into()))
    }
}
