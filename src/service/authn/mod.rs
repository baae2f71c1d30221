//! The read path: how a request becomes a caller. One `Authenticator` owns everything it takes —
//! token verification (signature and claims in memory), the verified-token cache, revoked
//! sessions, each user's membership context per organisation, service accounts, the global
//! provider's own tokens (`AUTH_OIDC_ISSUER`) and seed 003's development headers — so
//! `/auth/validate`, `/auth/me`, introspection and the extractors each make one call here.
//! In the common case none of it touches the database; `change` keeps the caches true.
pub mod context;
pub mod home;
pub mod listener;

use super::authz::Caller;
use super::cache::{AccessCache, ContextResult, TokenDigest};
use super::compat::dev::DevHeaders;
use super::oidc::external::ExternalTokens;
use super::{Result, ServiceError};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::model::{AuthMethods, MembershipContext, ServiceAccount};
use crate::store::{self, Db};
use crate::token::verify::LEEWAY_SECONDS;
use crate::token::{AccessClaims, KeyStore, Verifier, VerifyError};
use chrono::Duration;
pub use context::denied;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use uuid::Uuid;

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User {
        user_id: Uuid,
        session_id: Uuid,
        /// How the user authenticated (the token's `amr`).
        methods: AuthMethods,
    },
    Service {
        account_id: Uuid,
    },
    /// An application's own token (client credentials).
    Application {
        app_id: Uuid,
    },
}

/// A verified access token whose session (or service account) is live.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: Subject,
    pub org_id: Uuid,
}

/// What a request presents.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    Bearer(&'a str),
    /// Seed 003's `X-User-Email` (and `X-User-Name`), honoured only in development.
    DevHeaders {
        email: &'a str,
        name: Option<&'a str>,
    },
    None,
}

/// `/auth/validate`'s answer: the user's current context, or the stable reason for refusing.
pub type Verdict = std::result::Result<(Arc<MembershipContext>, AuthMethods), &'static str>;

/// An active token as introspection reports it (RFC 7662).
pub struct Introspected {
    pub claims: AccessClaims,
    /// The user's current context (user tokens only).
    pub context: Option<Arc<MembershipContext>>,
}

const NOT_AUTHENTICATED: ServiceError = ServiceError::Unauthenticated;

pub struct Authenticator {
    db: Db,
    clock: SharedClock,
    keys: Arc<KeyStore>,
    verifier: Verifier,
    cache: Arc<AccessCache>,
    /// How long revoked sessions are remembered: an access token's lifetime plus leeway.
    revocation_window: Duration,
    external: Option<ExternalTokens>,
    dev: Option<DevHeaders>,
    /// When the revoked sessions were last read from the database (seconds since the epoch).
    revocations_read: AtomicI64,
    /// Cache hits and misses, validations by outcome.
    metrics: Arc<Metrics>,
}

/// What the authenticator is made of.
pub struct Parts {
    pub db: Db,
    pub clock: SharedClock,
    pub keys: Arc<KeyStore>,
    pub verifier: Verifier,
    pub cache: Arc<AccessCache>,
    pub revocation_window: Duration,
    pub external: Option<ExternalTokens>,
    pub dev: Option<DevHeaders>,
    pub metrics: Arc<Metrics>,
}

impl Authenticator {
    pub fn new(parts: Parts) -> Self {
        Self {
            db: parts.db,
            clock: parts.clock,
            keys: parts.keys,
            verifier: parts.verifier,
            cache: parts.cache,
            revocation_window: parts.revocation_window,
            external: parts.external,
            dev: parts.dev,
            revocations_read: AtomicI64::new(0),
            metrics: parts.metrics,
        }
    }

    /// What this replica counts (the listener counts its losses here too).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Loads the sessions revoked recently enough that their tokens may still be presented.
    pub async fn warm(&self) -> Result<()> {
        let now = self.clock.now();
        self.revocations_read.store(now.timestamp(), Ordering::Relaxed);
        for (id, revoked_at) in store::sessions::revoked_since(&self.db, now - self.revocation_window).await? {
            self.cache.revoke(&[id], revoked_at + self.revocation_window);
        }
        Ok(())
    }

    /// After notifications may have been missed: forgets every cached context and re-reads the
    /// revoked sessions.
    pub async fn resync(&self) -> Result<()> {
        self.cache.clear();
        self.warm().await
    }

    /// Forgets revocations and verified tokens whose tokens have all expired.
    pub fn prune(&self) {
        let now = self.clock.now();
        self.cache.prune(now);
        self.cache.prune_tokens(now.timestamp() - LEEWAY_SECONDS);
    }

    /// One of our access tokens for guildhall's own audience, verified, with its session or
    /// service account live.
    pub async fn principal(&self, token: &str) -> Result<Principal> {
        self.principal_with(token, false).await
    }

    /// Like `principal`, also accepting tokens an application got for one of its resources
    /// (RFC 8707): userinfo and introspection take those.
    pub async fn principal_for_any_audience(&self, token: &str) -> Result<Principal> {
        self.principal_with(token, true).await
    }

    async fn principal_with(&self, token: &str, any_audience: bool) -> Result<Principal> {
        let now = self.clock.now();
        self.reread_revocations_if_stale(now.timestamp()).await;
        let digest = TokenDigest::of(token);
        let verified = match self.cache.verified(&digest) {
            // Remembered by its exact bytes: the signature and claims were checked; time still moves.
            Some(verified) if verified.exp > now.timestamp() - LEEWAY_SECONDS => {
                self.metrics.verified_token_cache(true);
                verified
            }
            _ => {
                self.metrics.verified_token_cache(false);
                let verified = self.verifier.verify(&self.keys.current(), token, now.timestamp())?;
                self.cache.remember_verified(digest, verified);
                verified
            }
        };
        if verified.resource && !any_audience {
            return Err(VerifyError::Audience.into());
        }
        let subject = match (verified.service, verified.sid) {
            (true, _) => match self.service_account(verified.sub).await? {
                Some(a) if a.active && a.org_id == verified.org_id => Subject::Service {
                    account_id: verified.sub,
                },
                Some(_) => return Err(VerifyError::SessionRevoked.into()),
                None => match store::apps::by_id(&self.db, verified.sub).await? {
                    Some(app) if app.active && app.org_id == verified.org_id => Subject::Application { app_id: app.id },
                    _ => return Err(VerifyError::SessionRevoked.into()),
                },
            },
            (false, Some(sid)) if self.cache.is_revoked(sid) => return Err(VerifyError::SessionRevoked.into()),
            (false, Some(sid)) => Subject::User {
                user_id: verified.sub,
                session_id: sid,
                methods: verified.methods,
            },
            (false, None) => return Err(VerifyError::Malformed.into()),
        };
        Ok(Principal {
            subject,
            org_id: verified.org_id,
        })
    }

    /// The user a request acts for: a user's access token of a live session, or (development
    /// only) the user the development headers name.
    pub async fn caller(&self, credential: Credential<'_>) -> Result<Caller> {
        let (context, session_id) = self.resolve(credential).await?;
        Ok(Caller::new(&context, session_id))
    }

    /// `/auth/me`: the caller's current context; a bearer our verification refuses may still be
    /// the global provider's own token.
    pub async fn me(&self, credential: Credential<'_>) -> Result<Arc<MembershipContext>> {
        let refused = match self.resolve(credential).await {
            Ok((context, _)) => return Ok(context),
            Err(refused) => refused,
        };
        if let Credential::Bearer(token) = credential
            && let Some(verdict) = self.external(token).await?
        {
            return verdict.map(|(c, _)| c).map_err(ServiceError::ExternalTokenRefused);
        }
        Err(refused)
    }

    /// The current context and session a credential stands for.
    async fn resolve(&self, credential: Credential<'_>) -> Result<(Arc<MembershipContext>, Uuid)> {
        match credential {
            Credential::Bearer(token) => {
                let principal = self.principal(token).await?;
                let Subject::User {
                    user_id, session_id, ..
                } = principal.subject
                else {
                    return Err(ServiceError::Forbidden(
                        "user_token_required",
                        "this route needs a user's token",
                    ));
                };
                Ok((self.current(user_id, principal.org_id).await?, session_id))
            }
            // Development headers have no session: its id is nil.
            Credential::DevHeaders { email, name } => match &self.dev {
                Some(dev) => {
                    let (user_id, org_id) = dev.identify(email, name).await?;
                    Ok((self.current(user_id, org_id).await?, Uuid::nil()))
                }
                None => Err(NOT_AUTHENTICATED),
            },
            Credential::None => Err(NOT_AUTHENTICATED),
        }
    }

    /// `/auth/validate`: the token's user with their *current* memberships, or the stable reason
    /// the token is refused.
    pub async fn validate(&self, token: &str) -> Result<Verdict> {
        let verdict = self.verdict(token).await?;
        self.metrics.validation(verdict.as_ref().err().copied());
        Ok(verdict)
    }

    async fn verdict(&self, token: &str) -> Result<Verdict> {
        let verdict = match self.principal(token).await {
            Ok(Principal {
                subject: Subject::User { user_id, methods, .. },
                org_id,
            }) => {
                let context = self.context(user_id, org_id).await?.map_err(|d| d.code());
                return Ok(context.map(|c| (c, methods)));
            }
            Ok(_) => return Ok(Err("not_a_user_token")),
            Err(ServiceError::InvalidToken(reason)) => Err(reason.code()),
            Err(e) => return Err(e),
        };
        // Not ours: perhaps the global OpenID provider's (AUTH_OIDC_ISSUER).
        Ok(self.external(token).await?.unwrap_or(verdict))
    }

    /// Introspection (RFC 7662) of our access tokens, of organisation `org_id` only when given:
    /// `None` for anything not active or not of that organisation. The claims are read from the
    /// very bytes `principal` accepted (the cache keeps only what authenticating needs), so
    /// reading them needs no second signature check.
    pub async fn introspect(&self, token: &str, org_id: Option<Uuid>) -> Result<Option<Introspected>> {
        self.introspect_with(token, org_id, false).await
    }

    /// Introspection for applications' clients (`/oauth2/introspect`): tokens for any of the
    /// resources applications registered are reported too.
    pub async fn introspect_any_audience(&self, token: &str, org_id: Option<Uuid>) -> Result<Option<Introspected>> {
        self.introspect_with(token, org_id, true).await
    }

    async fn introspect_with(
        &self,
        token: &str,
        org_id: Option<Uuid>,
        any_audience: bool,
    ) -> Result<Option<Introspected>> {
        let principal = match self.principal_with(token, any_audience).await {
            Ok(principal) if org_id.is_none_or(|org| org == principal.org_id) => principal,
            Ok(_) | Err(ServiceError::InvalidToken(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Ok(claims) = jsonwebtoken::dangerous::insecure_decode_claims::<AccessClaims>(token) else {
            return Ok(None);
        };
        let context = match principal.subject {
            Subject::User { user_id, .. } => match self.context(user_id, principal.org_id).await? {
                Ok(context) => Some(context),
                Err(_) => return Ok(None),
            },
            Subject::Service { .. } | Subject::Application { .. } => None,
        };
        Ok(Some(Introspected { claims, context }))
    }

    /// The user's current context in the organisation, from the cache or loaded once.
    pub async fn context(&self, user_id: Uuid, org_id: Uuid) -> Result<ContextResult> {
        let now = self.clock.now().timestamp();
        if let Some(hit) = self.cache.context(user_id, org_id, now) {
            self.metrics.context_cache(true);
            return Ok(hit);
        }
        self.metrics.context_cache(false);
        let generation = self.cache.generation();
        let value = context::load(&self.db, user_id, org_id).await?.map(Arc::new);
        self.cache
            .store_context(user_id, org_id, value.clone(), generation, now);
        Ok(value)
    }

    /// The user's current context, or the error an authenticated route answers.
    pub async fn current(&self, user_id: Uuid, org_id: Uuid) -> Result<Arc<MembershipContext>> {
        self.context(user_id, org_id).await?.map_err(denied)
    }

    pub async fn service_account(&self, id: Uuid) -> Result<Option<ServiceAccount>> {
        let now = self.clock.now().timestamp();
        if let Some(hit) = self.cache.account(id, now) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let account = store::service_accounts::by_id(&self.db, id).await?;
        self.cache.store_account(id, account.clone(), generation, now);
        Ok(account)
    }

    /// Past the cache's maximum age, the revoked sessions are read again (by one request; the
    /// others go on with what is known): a lost notification cannot keep a revoked session alive
    /// for longer than that.
    async fn reread_revocations_if_stale(&self, now: i64) {
        let read = self.revocations_read.load(Ordering::Relaxed);
        let stale = now - read > self.cache.max_age().num_seconds();
        if stale
            && self
                .revocations_read
                .compare_exchange(read, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            && let Err(error) = self.warm().await
        {
            tracing::warn!(error = %error, "cannot re-read the revoked sessions; keeping what is known");
        }
    }

    /// The global provider's verdict on a token, `None` when it is not that provider's.
    async fn external(&self, token: &str) -> Result<Option<Verdict>> {
        let Some(external) = &self.external else {
            return Ok(None);
        };
        let Some(found) = external.identify(token).await? else {
            return Ok(None);
        };
        let identified = match found {
            Ok(identified) => identified,
            Err(reason) => return Ok(Some(Err(reason))),
        };
        let verdict = self
            .context(identified.user_id, identified.org_id)
            .await?
            .map_err(|d| d.code())
            .map(|c| (c, AuthMethods::default()));
        if verdict.is_err() {
            // The account may have gone; look the subject up again next time.
            external.forget(&identified.subject);
        }
        Ok(Some(verdict))
    }
}
