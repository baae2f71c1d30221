//! What every service shares: the database, configuration, clock, keys, password hasher and the
//! access cache, with the operations that keep the cache true: loading a user's context,
//! revoking sessions, and invalidating after a change.
use super::cache::{AccessCache, ContextResult, Denial, TokenDigest};
use super::journal::{Invalidation, Journal};
use super::notify;
use super::tree::DomainTree;
use super::{Result, ServiceError};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::password::Hasher;
use crate::model::{MembershipContext, ServiceAccount};
use crate::store::{self, Conn, Db, Tx};
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
        let digest = TokenDigest::of(token);
        let verified = match self.cache.verified(&digest) {
            // Remembered by its exact bytes: the signature and claims were checked; time still moves.
            Some(verified) if verified.exp > now.timestamp() - LEEWAY_SECONDS => verified,
            _ => {
                let ring = self.keys.current();
                let verified = self.verifier.verify(&ring, token, now.timestamp())?;
                self.cache.remember_verified(digest, verified);
                verified
            }
        };

        let subject = match (verified.service, verified.sid) {
            (true, _) => {
                let account = self.service_account(verified.sub).await?;
                if !account.is_some_and(|a| a.active && a.org_id == verified.org_id) {
                    return Err(VerifyError::SessionRevoked.into());
                }
                Subject::Service {
                    account_id: verified.sub,
                }
            }
            (false, Some(sid)) => {
                if self.cache.is_revoked(sid) {
                    return Err(VerifyError::SessionRevoked.into());
                }
                Subject::User {
                    user_id: verified.sub,
                    session_id: sid,
                }
            }
            (false, None) => return Err(VerifyError::Malformed.into()),
        };
        Ok(Principal {
            subject,
            org_id: verified.org_id,
        })
    }

    /// A token's principal and its claims as signed, for introspection. The claims are read
    /// from the very bytes `authenticate` accepted (the cache keeps only what authenticating
    /// needs), so reading them again needs no second signature check.
    pub async fn authenticate_with_claims(&self, token: &str) -> Result<(Principal, AccessClaims)> {
        let principal = self.authenticate(token).await?;
        let claims = jsonwebtoken::dangerous::insecure_decode_claims::<AccessClaims>(token)
            .map_err(|_| ServiceError::from(VerifyError::Malformed))?;
        Ok((principal, claims))
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

    /// The invalidation for revoking sessions now.
    pub fn revoked(&self, ids: Vec<Uuid>) -> Invalidation {
        let until = self.clock.now() + self.config.access_token_ttl + Duration::seconds(LEEWAY_SECONDS);
        Invalidation::Sessions { ids, until }
    }

    /// Revokes sessions inside a change: the rows, a `session.invalidated` event each, and the
    /// invalidation every replica applies once the change commits.
    pub async fn end_sessions<C: Conn>(
        &self,
        c: &C,
        journal: &mut Journal,
        ids: Vec<Uuid>,
        reason: &str,
    ) -> Result<u64> {
        let mut ended = Vec::new();
        for id in ids {
            if store::sessions::revoke(c, id, reason, journal.now()).await? {
                journal.event(
                    None,
                    "session",
                    id,
                    "invalidated",
                    "SessionInvalidated",
                    serde_json::json!({"session_id": id, "reason": reason}),
                );
                ended.push(id);
            }
        }
        let count = ended.len() as u64;
        if !ended.is_empty() {
            journal.invalidate(self.revoked(ended));
        }
        Ok(count)
    }

    /// A journal for a change made now.
    pub fn journal(&self) -> Journal {
        Journal::new(self.clock.now(), &self.config.issuer)
    }

    /// Writes the journal's events and audit entries into the transaction, commits, then makes
    /// every replica forget what the change invalidated.
    pub async fn commit(&self, tx: Tx, journal: Journal) -> Result<()> {
        for event in &journal.events {
            store::events::insert(&tx, event).await?;
        }
        for entry in &journal.audit {
            store::audit::insert(&tx, entry).await?;
        }
        store::commit(tx).await?;
        self.broadcast(journal.invalidations).await;
        Ok(())
    }

    /// Writes audit entries on their own (failed logins: nothing else is written).
    pub async fn record(&self, journal: Journal) -> Result<()> {
        let tx = store::begin(&self.db).await?;
        self.commit(tx, journal).await
    }

    /// Applies invalidations here and tells the other replicas (PostgreSQL NOTIFY).
    pub async fn broadcast(&self, invalidations: Vec<Invalidation>) {
        for invalidation in &invalidations {
            self.apply(invalidation);
        }
        if let Err(error) = notify::send(&self.db, &invalidations).await {
            tracing::warn!(error = format!("{error:#}"), "cannot notify the other replicas");
        }
    }

    /// Forgets what an invalidation names.
    pub fn apply(&self, invalidation: &Invalidation) {
        match invalidation {
            Invalidation::Sessions { ids, until } => self.cache.revoke(ids, *until),
            Invalidation::Members { org, users } => self.cache.invalidate_users(*org, users),
            Invalidation::User { user } => self.cache.invalidate_user(*user),
            Invalidation::Org { org } => self.cache.invalidate_org(*org),
            Invalidation::Account { id } => self.cache.invalidate_account(*id),
        }
    }

    /// After notifications may have been missed: forget every cached context and re-read the
    /// revoked sessions.
    pub async fn resync(&self) -> Result<()> {
        self.cache.clear();
        self.warm().await
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
        rendered: Default::default(),
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
