//! What every service shares: the database, configuration, clock, keys, password hasher and the
//! access cache, with the operations that keep the cache true: loading a user's context,
//! revoking sessions, and invalidating after a change.
use super::cache::{AccessCache, ContextResult, Denial};
use super::tree::DomainTree;
use super::{Result, ServiceError};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::password::Hasher;
use crate::model::{MembershipContext, ServiceAccount};
use crate::store::{self, Conn, Db};
use crate::token::verify::LEEWAY_SECONDS;
use crate::token::{AccessClaims, KeyStore, Verifier, VerifyError};
use chrono::Duration;
use std::sync::Arc;
use uuid::Uuid;

pub struct Core {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub keys: Arc<KeyStore>,
    pub verifier: Verifier,
    pub hasher: Arc<Hasher>,
    pub cache: AccessCache,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User { user_id: Uuid, session_id: Uuid },
    Service { account_id: Uuid },
}

/// A verified access token whose session is live.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: Subject,
    pub org_id: Uuid,
    pub claims: AccessClaims,
}

impl Core {
    pub fn new(db: Db, config: Arc<Config>, clock: SharedClock, keys: Arc<KeyStore>, hasher: Arc<Hasher>) -> Self {
        let verifier = Verifier::new(&config.issuer, &config.audience);
        Self {
            db,
            config,
            clock,
            keys,
            verifier,
            hasher,
            cache: AccessCache::default(),
        }
    }

    /// Loads the sessions revoked recently enough that their tokens may still be presented.
    pub async fn warm(&self) -> Result<()> {
        let now = self.clock.now();
        let window = self.config.access_token_ttl + Duration::seconds(LEEWAY_SECONDS);
        for (id, revoked_at) in store::sessions::revoked_since(&self.db, now - window).await? {
            self.cache.revoke(&[id], revoked_at + window);
        }
        Ok(())
    }

    /// Verifies a token and checks its session or service account, without the database in the
    /// common case.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        let now = self.clock.now();
        let ring = self.keys.current();
        let claims = self.verifier.verify(&ring, token, now.timestamp())?;
        let subject = match (&claims.client_id, claims.sid) {
            (Some(_), _) => {
                let account = self.service_account(claims.sub).await?;
                if !account.is_some_and(|a| a.active && a.org_id == claims.org.id) {
                    return Err(VerifyError::SessionRevoked.into());
                }
                Subject::Service { account_id: claims.sub }
            }
            (None, Some(sid)) => {
                if self.cache.is_revoked(sid) {
                    return Err(VerifyError::SessionRevoked.into());
                }
                Subject::User {
                    user_id: claims.sub,
                    session_id: sid,
                }
            }
            (None, None) => return Err(VerifyError::Malformed.into()),
        };
        Ok(Principal {
            subject,
            org_id: claims.org.id,
            claims,
        })
    }

    pub async fn service_account(&self, id: Uuid) -> Result<Option<ServiceAccount>> {
        if let Some(hit) = self.cache.account(id) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let account = store::service_accounts::by_id(&self.db, id).await?;
        self.cache.store_account(id, account.clone(), generation);
        Ok(account)
    }

    /// The user's current context in the organisation, from the cache or loaded once.
    pub async fn context(&self, user_id: Uuid, org_id: Uuid) -> Result<ContextResult> {
        if let Some(hit) = self.cache.context(user_id, org_id) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let loaded = load_context(&self.db, user_id, org_id).await?;
        let value = loaded.map(Arc::new);
        self.cache.store_context(user_id, org_id, value.clone(), generation);
        Ok(value)
    }

    /// Marks sessions revoked in memory (the database write is the caller's).
    pub fn forget_sessions(&self, sessions: &[Uuid]) {
        let until = self.clock.now() + self.config.access_token_ttl + Duration::seconds(LEEWAY_SECONDS);
        self.cache.revoke(sessions, until);
    }

    /// After a committed change to some users' memberships in an organisation.
    pub fn changed_members(&self, org_id: Uuid, users: &[Uuid]) {
        self.cache.invalidate_users(org_id, users);
    }

    /// After a committed change to a user's account (all organisations).
    pub fn changed_user(&self, user_id: Uuid) {
        self.cache.invalidate_user(user_id);
    }

    /// After a committed change that touches every member of an organisation.
    pub fn changed_org(&self, org_id: Uuid) {
        self.cache.invalidate_org(org_id);
    }
}

/// Reads a user's context in an organisation from the database.
pub async fn load_context<C: Conn>(
    c: &C,
    user_id: Uuid,
    org_id: Uuid,
) -> Result<std::result::Result<MembershipContext, Denial>> {
    let Some(user) = store::users::find(c, user_id).await? else {
        return Ok(Err(Denial::UserNotFound));
    };
    if !user.active {
        return Ok(Err(Denial::UserInactive));
    }
    let Some(org) = store::orgs::find(c, org_id).await?.filter(|o| o.active) else {
        return Ok(Err(Denial::OrgInactive));
    };
    let Some(membership) = store::orgs::membership(c, org_id, user_id).await? else {
        return Ok(Err(Denial::NotAMember));
    };
    let teams = store::teams::grants(c, org_id, user_id).await?;
    let assigned = store::domains::assigned(c, org_id, user_id).await?;
    let (domains, expanded_domains) = if assigned.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        DomainTree::new(store::domains::list(c, org_id).await?).grants(&assigned)
    };
    Ok(Ok(MembershipContext {
        user,
        org,
        roles: membership.roles,
        permissions: membership.permissions,
        mv: membership.mv,
        teams,
        domains,
        expanded_domains,
    }))
}

/// A denial as the error an authenticated route answers.
pub fn denied(denial: Denial) -> ServiceError {
    match denial {
        Denial::NotAMember | Denial::OrgInactive => {
            ServiceError::Forbidden("not_a_member", "not a member of this organisation")
        }
        Denial::UserNotFound | Denial::UserInactive => ServiceError::InvalidToken(VerifyError::SessionRevoked),
    }
}
