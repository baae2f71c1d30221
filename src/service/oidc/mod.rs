//! Logging in through external OpenID Connect providers.
//!
//! - **Providers** are an organisation's (`/orgs/{id}/identity-providers`, looked up by slug) or
//!   the global one from `AUTH_OIDC_*` (slug `default`, provisioning into the default
//!   organisation).
//! - **Code flow** (`flow`): authorization code with PKCE (S256), `state` and `nonce`, both single
//!   use and valid ten minutes; the `state` is also bound to the browser that started the login
//!   by a cookie, so a callback URL cannot be replayed into someone else's browser. The ID token is
//!   verified with the provider's JWKS (asymmetric algorithms only: `none` and HMAC are refused
//!   whatever the provider advertises), `iss`, `aud`, `exp` and `nonce`.
//! - **Accounts** (`provision`): an identity is linked by (issuer, subject). An unknown identity is
//!   linked to an existing account by email only when the provider asserts `email_verified` and
//!   the provider allows it; otherwise a new account is created when the provider provisions just
//!   in time, with its group mapping applied as the membership is created.
//! - **Hand-over**: tokens never travel in a URL. The frontend gets a one-time code (valid a
//!   minute) on its exactly-matched `redirect_uri` and exchanges it at `POST /auth/oidc/exchange`
//!   (`AuthService::exchange_oidc_code`, which starts the session).
//! - **External tokens** (`external`): with `AUTH_OIDC_ISSUER` set, `/auth/me` and
//!   `/auth/validate` also accept that provider's own JWTs (seed 003's enterprise mode); the
//!   `Authenticator` asks `ExternalTokens` when its own verification refuses a token.
pub mod external;
mod flow;
pub mod http;
pub mod provision;

pub use flow::{Callback, ConnectionCheck, OidcService, Started};

use super::ServiceError;
use crate::config::{Config, GLOBAL_PROVIDER};
use crate::crypto::seal::Sealer;
use crate::model::ClaimMapping;
use crate::model::input::{Email, Problems};
use crate::store::{self, Db};
use secrecy::ExposeSecret;
use std::sync::Arc;
use uuid::Uuid;

/// What can go wrong in an external login.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// 400: the request cannot be tied to a login (missing, unknown, replayed or foreign state;
    /// a `redirect_uri` that is not allowed).
    #[error("{1}")]
    Invalid(&'static str, &'static str),
    /// 502: the provider cannot be reached or answers nonsense.
    #[error("identity provider unavailable")]
    Unreachable(#[source] anyhow::Error),
    /// 502: the provider would have the browser log in over plain http (outside development and
    /// this machine).
    #[error("the identity provider's authorization endpoint is not https")]
    Insecure,
    /// The login failed after its state was verified: the frontend is told through its
    /// `redirect_uri` (`?error=...&error_description=...`).
    #[error("{error}: {description}")]
    Redirect {
        to: String,
        client_state: Option<String>,
        error: &'static str,
        description: String,
    },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<store::StoreError> for OidcError {
    fn from(e: store::StoreError) -> Self {
        Self::Service(e.into())
    }
}

/// A provider, organisation's or global, as the login uses it.
#[derive(Debug, Clone)]
pub struct Provider {
    pub slug: String,
    pub org_id: Uuid,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    pub email_domains: Vec<String>,
    pub jit: bool,
    pub link_by_email: bool,
    pub groups_claim: String,
    pub mappings: Vec<ClaimMapping>,
    /// Configured by the operator (`AUTH_OIDC_*`) rather than by an organisation's admins.
    pub operator: bool,
}

/// A provider that serves an email's domain (home-realm discovery).
#[derive(Debug, Clone)]
pub struct Served {
    pub slug: String,
    pub name: String,
    pub organization: String,
    pub login_url: String,
}

/// The providers logins can go through: the organisations' (by slug) and the operator's.
pub struct Directory {
    db: Db,
    config: Arc<Config>,
    sealer: Arc<Sealer>,
}

impl Directory {
    pub fn new(db: Db, config: Arc<Config>, sealer: Arc<Sealer>) -> Self {
        Self { db, config, sealer }
    }

    /// The active provider with this slug, with its organisation active too.
    pub async fn provider(&self, slug: &str) -> Result<Provider, OidcError> {
        const UNKNOWN: OidcError = OidcError::Service(ServiceError::NotFound("identity provider not found"));
        if slug == GLOBAL_PROVIDER {
            let global = self.config.oidc.global.as_ref().ok_or(UNKNOWN)?;
            // Without a client id only external tokens work; their audience stands in.
            let client_id = global.client_id.clone().unwrap_or_else(|| global.audience.clone());
            let org = store::orgs::find_by_slug(&self.db, &self.config.default_org)
                .await?
                .filter(|o| o.active)
                .ok_or(UNKNOWN)?;
            return Ok(Provider {
                slug: GLOBAL_PROVIDER.to_owned(),
                org_id: org.id,
                issuer: global.issuer.clone(),
                client_id,
                client_secret: global.client_secret.as_ref().map(|s| s.expose_secret().to_owned()),
                scopes: vec!["openid".into(), "email".into(), "profile".into()],
                email_domains: Vec::new(),
                jit: global.jit,
                link_by_email: global.link_by_email,
                groups_claim: "groups".into(),
                mappings: Vec::new(),
                operator: true,
            });
        }
        let found = store::identity_providers::by_slug(&self.db, slug)
            .await?
            .filter(|p| p.active);
        let p = found.ok_or(UNKNOWN)?;
        if !store::orgs::find(&self.db, p.org_id).await?.is_some_and(|o| o.active) {
            return Err(UNKNOWN);
        }
        let client_secret = store::identity_providers::secret_of(&self.db, &self.sealer, p.id)
            .await?
            .map(|s| s.expose_secret().to_owned());
        Ok(Provider {
            slug: p.slug,
            org_id: p.org_id,
            issuer: p.issuer,
            client_id: p.client_id,
            client_secret,
            scopes: p.scopes,
            email_domains: p.email_domains,
            jit: p.jit,
            link_by_email: p.link_by_email,
            groups_claim: p.groups_claim,
            mappings: p.mappings,
            operator: false,
        })
    }

    /// Home-realm discovery: the active providers that serve this email's domain.
    pub async fn discover(&self, email: &str) -> super::Result<Vec<Served>> {
        let mut problems = Problems::default();
        let email = problems.parse::<Email>("email", email);
        let (email,) = problems.done((email,))?;
        let mut served = Vec::new();
        for (provider, org) in store::identity_providers::serving(&self.db, email.domain()).await? {
            served.push(Served {
                login_url: format!("{}/auth/oidc/{}/login", self.config.oidc.public_url, provider.slug),
                slug: provider.slug,
                name: provider.name,
                organization: org,
            });
        }
        Ok(served)
    }
}
