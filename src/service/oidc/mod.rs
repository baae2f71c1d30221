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
//!   minute) on its exactly-matched `redirect_uri` and exchanges it at `POST /auth/oidc/exchange`.
//! - **External tokens** (`external`): with `AUTH_OIDC_ISSUER` set, `/auth/me` and
//!   `/auth/validate` also accept that provider's own JWTs (seed 003's enterprise mode).
mod external;
mod flow;
mod provision;

pub use flow::{Callback, Started};

use super::ServiceError;
use super::auth::AuthService;
use super::core::Core;
use crate::config::GLOBAL_PROVIDER;
use crate::model::ClaimMapping;
use crate::store;
use openidconnect::core::CoreProviderMetadata;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse, IssuerUrl};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a provider's discovery document (and keys) are trusted before they are fetched again.
const METADATA_TTL: Duration = Duration::from_secs(300);
/// Largest response read from a provider.
const MAX_RESPONSE: usize = 1024 * 1024;

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

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
    #[error("response larger than {MAX_RESPONSE} bytes")]
    TooLarge,
}

/// The HTTP client `openidconnect` talks to providers with: no redirects followed, bounded
/// time and response size.
pub struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_RESPONSE {
                    return Err(HttpError::TooLarge);
                }
            }
            Ok(builder.body(bytes)?)
        })
    }
}

pub struct OidcService {
    core: Arc<Core>,
    auth: Arc<AuthService>,
    http: Http,
    metadata: Mutex<HashMap<String, (Instant, Arc<CoreProviderMetadata>)>>,
    external: external::ExternalKeys,
}

impl OidcService {
    pub fn new(core: Arc<Core>, auth: Arc<AuthService>) -> std::result::Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            // Following redirects would let a provider's answer point us anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            core,
            auth,
            http: Http(http),
            metadata: Mutex::new(HashMap::new()),
            external: external::ExternalKeys::default(),
        })
    }

    /// The provider's discovery document and keys, cached for a few minutes. `fresh` skips the
    /// cache (a token signed with a key we do not know yet).
    async fn metadata(&self, issuer: &str, fresh: bool) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        if !fresh {
            let cached = self.metadata.lock().ok().and_then(|m| m.get(issuer).cloned());
            if let Some((_, metadata)) = cached.filter(|(at, _)| at.elapsed() < METADATA_TTL) {
                return Ok(metadata);
            }
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| OidcError::Unreachable(e.into()))?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| OidcError::Unreachable(anyhow::anyhow!("discovery of {issuer} failed: {e}")))?;
        let metadata = Arc::new(metadata);
        if let Ok(mut cache) = self.metadata.lock() {
            cache.insert(issuer.to_owned(), (Instant::now(), Arc::clone(&metadata)));
        }
        Ok(metadata)
    }

    /// The active provider with this slug, with its organisation active too.
    pub async fn provider(&self, slug: &str) -> Result<Provider, OidcError> {
        const UNKNOWN: OidcError = OidcError::Service(ServiceError::NotFound("identity provider not found"));
        let db = &self.core.db;
        if slug == GLOBAL_PROVIDER {
            let global = self.core.config.oidc.global.as_ref().ok_or(UNKNOWN)?;
            // Without a client id only external tokens work; their audience stands in.
            let client_id = global.client_id.clone().unwrap_or_else(|| global.audience.clone());
            let org = store::orgs::find_by_slug(db, &self.core.config.default_org)
                .await?
                .filter(|o| o.active)
                .ok_or(UNKNOWN)?;
            return Ok(Provider {
                slug: GLOBAL_PROVIDER.to_owned(),
                org_id: org.id,
                issuer: global.issuer.clone(),
                client_id,
                client_secret: global
                    .client_secret
                    .as_ref()
                    .map(|s| secrecy::ExposeSecret::expose_secret(s).to_owned()),
                scopes: vec!["openid".into(), "email".into(), "profile".into()],
                email_domains: Vec::new(),
                jit: global.jit,
                link_by_email: global.link_by_email,
                groups_claim: "groups".into(),
                mappings: Vec::new(),
                operator: true,
            });
        }
        let found = store::identity_providers::by_slug(db, slug).await?.filter(|p| p.active);
        let p = found.ok_or(UNKNOWN)?;
        if !store::orgs::find(db, p.org_id).await?.is_some_and(|o| o.active) {
            return Err(UNKNOWN);
        }
        let client_secret = store::identity_providers::secret_of(db, p.id).await?;
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
        let mut problems = super::validate::Problems::default();
        let email = problems.check("email", super::validate::email(email));
        problems.finish()?;
        let email = email.unwrap_or_default();
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let db = &self.core.db;
        let mut served = Vec::new();
        for (provider, org) in store::identity_providers::serving(db, domain).await? {
            served.push(Served {
                login_url: format!("{}/auth/oidc/{}/login", self.core.config.oidc.public_url, provider.slug),
                slug: provider.slug,
                name: provider.name,
                organization: org,
            });
        }
        Ok(served)
    }
}
