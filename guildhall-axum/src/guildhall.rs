//! [`Guildhall`]: the verifier a service keeps for its lifetime. One call turns a bearer token
//! into a caller: locally against the cached JWKS, through `/auth/validate` when the token says
//! `ctx: validate` or the caller wants fresh memberships.
use crate::clock::{Clock, unix_seconds};
use crate::config::{self, Builder};
use crate::context::{Principal, ServiceContext, Source, UserContext};
use crate::error::{BuildError, Error, TokenError};
use crate::jwks::{Alg, Key};
use crate::keys::{KeyStore, KeyStoreConfig};
use crate::remote;
use crate::stats::{Counters, Stats};
use crate::token::{Claims, Expectations, Parts};
use jsonwebtoken::DecodingKey;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Verifies guildhall access tokens. Cheap to clone (one `Arc`); build one per service.
#[derive(Clone)]
pub struct Guildhall {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: String,
    leeway: i64,
    validate_url: String,
    always_validate: bool,
    hs256: Option<Key>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    keys: Arc<KeyStore>,
    counters: Arc<Counters>,
}

impl fmt::Debug for Guildhall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guildhall")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("always_validate", &self.inner.always_validate)
            .finish_non_exhaustive()
    }
}

impl Guildhall {
    /// Starts configuring a verifier for tokens `issuer` (guildhall's `AUTH_ISSUER`) signs.
    pub fn builder(issuer: impl Into<String>) -> Builder {
        Builder::new(issuer.into())
    }

    pub(crate) fn from_builder(b: Builder) -> Result<Self, BuildError> {
        // With only the aws_lc_rs feature jsonwebtoken picks it anyway; this makes it certain.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let base_url = config::base(b.base_url.as_deref().unwrap_or(&b.issuer))?;
        config::base(&b.issuer)?;
        let client = reqwest::Client::builder()
            .timeout(b.timeout)
            .connect_timeout(b.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("guildhall-axum/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(BuildError::Http)?;
        let counters = Arc::new(Counters::default());
        let keys = KeyStore::new(
            KeyStoreConfig {
                issuer: b.issuer.clone(),
                base_url: base_url.clone(),
                min_refresh_interval: b.min_refresh_interval,
                failure_backoff: b.failure_backoff,
                max_key_age: b.max_key_age,
            },
            client.clone(),
            Arc::clone(&b.clock),
            Arc::clone(&counters),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: b.issuer,
                audience: b.audience,
                leeway: i64::try_from(b.leeway.as_secs()).unwrap_or(i64::MAX),
                validate_url: format!("{base_url}/auth/validate"),
                always_validate: b.always_validate,
                hs256: b.hs256_secret.map(|secret| Key {
                    alg: Alg::Hs256,
                    decoding: DecodingKey::from_secret(&secret),
                }),
                client,
                clock: b.clock,
                keys: Arc::new(keys),
                counters,
            }),
        })
    }

    /// The `iss` tokens must carry.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The `aud` tokens must carry.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// Fetches discovery and the JWKS now (say, at start-up, to fail early on a wrong issuer).
    pub async fn discover(&self) -> Result<(), Error> {
        self.inner.keys.refresh().await
    }

    /// Requests made to guildhall so far.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// The caller of `token`, a user or a service account. Users' tokens with `ctx: validate`,
    /// or every user token with [`Builder::always_validate`], go through `/auth/validate`;
    /// service accounts' are verified locally only (`/auth/validate` is for users).
    pub async fn verify(&self, token: &str) -> Result<Principal, Error> {
        if self.inner.always_validate {
            let parts = Parts::split(token)?;
            let claims = self.claims(&parts)?;
            if claims.client_id.is_none() {
                return self.validate(token, &claims).await.map(Principal::User);
            }
        }
        let claims = self.verify_locally(token).await?;
        match claims.client_id.clone() {
            Some(client_id) => Ok(Principal::Service(service(claims, client_id))),
            None if claims.needs_validate() => self.validate(token, &claims).await.map(Principal::User),
            None => Ok(Principal::User(local_user(claims)?)),
        }
    }

    /// The user of `token`; a service account's token is refused with `not_a_user_token`.
    pub async fn user(&self, token: &str) -> Result<UserContext, Error> {
        match self.verify(token).await? {
            Principal::User(user) => Ok(user),
            Principal::Service(_) => Err(TokenError::NotAUserToken.into()),
        }
    }

    /// The user of `token` as guildhall sees them now (`POST /auth/validate`): current roles,
    /// teams and domains, and a logged-out session refused with `session_revoked`.
    pub async fn user_fresh(&self, token: &str) -> Result<UserContext, Error> {
        let parts = Parts::split(token)?;
        let claims = self.claims(&parts)?;
        if claims.client_id.is_some() {
            return Err(TokenError::NotAUserToken.into());
        }
        self.validate(token, &claims).await
    }

    /// Signature and claims checked here, against the cached keys.
    async fn verify_locally(&self, token: &str) -> Result<Claims, Error> {
        let parts = Parts::split(token)?;
        let alg = parts.alg()?;
        let fetched;
        let key = match (alg, &self.inner.hs256) {
            (Alg::Hs256, Some(secret)) => secret,
            (Alg::Hs256, None) => return Err(TokenError::Algorithm.into()),
            _ => {
                let kid = parts.header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
                fetched = self.inner.keys.key(kid).await?;
                fetched.as_ref()
            }
        };
        parts.verify_signature(key)?;
        Ok(self.claims(&parts)?)
    }

    /// The claims, checked against the pinned issuer and audience at the clock's time.
    fn claims(&self, parts: &Parts<'_>) -> Result<Claims, TokenError> {
        let expected = Expectations {
            issuer: &self.inner.issuer,
            audience: &self.inner.audience,
            leeway: self.inner.leeway,
        };
        parts.claims(&expected, unix_seconds(self.inner.clock.now()))
    }

    async fn validate(&self, token: &str, claims: &Claims) -> Result<UserContext, Error> {
        self.inner.counters.validate_calls.fetch_add(1, Ordering::Relaxed);
        let result = remote::validate(&self.inner.client, &self.inner.validate_url, token, claims).await;
        if let Err(Error::Unavailable(reason)) = &result {
            tracing::warn!(%reason, "guildhall's /auth/validate failed");
        }
        result
    }
}

fn local_user(claims: Claims) -> Result<UserContext, TokenError> {
    Ok(UserContext {
        user_id: claims.sub,
        session_id: claims.sid.ok_or(TokenError::Malformed)?,
        email: claims.email.unwrap_or_default(),
        name: claims.name.unwrap_or_default(),
        username: claims.preferred_username,
        org: claims.org,
        roles: claims.roles,
        permissions: claims.permissions,
        teams: claims.teams.unwrap_or_default(),
        domains: claims.domains.unwrap_or_default(),
        mv: claims.mv,
        source: Source::Local,
    })
}

fn service(claims: Claims, client_id: String) -> ServiceContext {
    ServiceContext {
        account_id: claims.sub,
        client_id,
        name: claims.name,
        org: claims.org,
        permissions: claims.permissions,
    }
}
