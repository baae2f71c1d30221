//! guildhall as an OpenID Provider: applications send the browser to `/oauth2/authorize`, the
//! user logs in on guildhall's hosted pages (or through their organisation's identity
//! provider), picks an organisation when the application serves several, consents when it is
//! a third party's, and the application gets a code it exchanges for an ID token, an access
//! token carrying the memberships of that organisation, and a refresh token.
//!
//! - `authorize`: validating an authorization request and walking it through login,
//!   account choice, organisation and consent to a code (or an error sent back to the client).
//! - `browser`: the browser session (single sign-on cookie).
//! - `client_auth`: who is calling the token, revocation, introspection and device endpoints.
//! - `grants`: the token endpoint's grants, ID tokens, userinfo, revocation, introspection.
//! - `device`: the device authorization grant (RFC 8628).
//! - `logout`: RP-initiated logout and back-channel logout tokens.
//!
//! What is stored is hashed: cookies, request handles, codes and device codes are kept as
//! SHA-256 digests, so a copy of the database does not let anyone resume a login.
mod authorize;
mod browser;
mod client_auth;
mod device;
mod grants;
mod logout;

pub use authorize::{
    Answer, AuthorizeQuery, Branding, ConsentView, EnrolView, LoginView, OrgChoice, ProviderButton, ResponseMode,
    SecondFactorView, Step,
};
pub use browser::CookieChange;
pub use client_auth::{Client, ClientCredentials};
pub use device::DeviceStart;
pub use grants::{TokenAnswer, TokenRequest, UserInfo};
pub use logout::{LogoutQuery, LogoutStep};

use super::ServiceError;
use super::auth::AuthService;
use super::authn::Authenticator;
use super::change::Changes;
use super::clients::ClientService;
use super::oidc::OidcService;
use crate::config::Config;
use crate::model::Application;
use crate::store::{self, Db};
use crate::token::{Issuer, KeyStore};
use std::borrow::Cow;
use std::sync::Arc;

/// How long a user has to finish an authorization request (login, organisation, consent).
const REQUEST_TTL_MINUTES: i64 = 10;
/// How long an authorization code may wait to be exchanged (single use).
const CODE_TTL_SECONDS: i64 = 60;

/// An OAuth error of a JSON endpoint (RFC 6749 §5.2), or a failure of the service behind it.
#[derive(Debug)]
pub enum OAuthError {
    Refused {
        error: &'static str,
        description: Cow<'static, str>,
    },
    Service(ServiceError),
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        Self::Refused {
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new("invalid_request", description)
    }

    fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new("invalid_grant", description)
    }

    fn invalid_client() -> Self {
        Self::new("invalid_client", "client authentication failed")
    }
}

impl From<ServiceError> for OAuthError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::InvalidGrant(d) => Self::invalid_grant(d),
            ServiceError::InvalidClient => Self::invalid_client(),
            ServiceError::InvalidCredentials => Self::invalid_grant("the credentials are wrong"),
            ServiceError::Forbidden(_, d) => Self::invalid_grant(d),
            ServiceError::Validation(_) => Self::invalid_request("the request has invalid fields"),
            e => Self::Service(e),
        }
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Service(e.into())
    }
}

type OAuthResult<T> = std::result::Result<T, OAuthError>;

/// Everything the provider needs.
pub struct Parts {
    pub db: Db,
    pub changes: Changes,
    pub authn: Arc<Authenticator>,
    pub auth: Arc<AuthService>,
    pub accounts: Arc<ClientService>,
    pub oidc: Arc<OidcService>,
    pub keys: Arc<KeyStore>,
    pub tokens: Arc<Issuer>,
    pub config: Arc<Config>,
}

pub struct OpenIdProvider {
    db: Db,
    changes: Changes,
    authn: Arc<Authenticator>,
    auth: Arc<AuthService>,
    accounts: Arc<ClientService>,
    oidc: Arc<OidcService>,
    keys: Arc<KeyStore>,
    tokens: Arc<Issuer>,
    config: Arc<Config>,
    /// Back-channel logout requests.
    http: reqwest::Client,
}

impl OpenIdProvider {
    pub fn new(parts: Parts) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            db: parts.db,
            changes: parts.changes,
            authn: parts.authn,
            auth: parts.auth,
            accounts: parts.accounts,
            oidc: parts.oidc,
            keys: parts.keys,
            tokens: parts.tokens,
            config: parts.config,
            http,
        })
    }

    pub fn issuer(&self) -> &str {
        self.config.issuer.trim_end_matches('/')
    }

    /// An endpoint's URL.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer())
    }

    /// Whether cookies must be `Secure`: always, unless the issuer is plain http on this machine.
    pub fn secure_cookies(&self) -> bool {
        match url::Url::parse(&self.config.issuer) {
            Ok(url) => url.scheme() != "http" || !seed::rules::is_loopback(&url),
            Err(_) => true,
        }
    }

    /// An active application by its `client_id`.
    async fn app(&self, client_id: &str) -> super::Result<Option<Application>> {
        Ok(store::apps::by_client_id(&self.db, client_id)
            .await?
            .filter(|a| a.active))
    }

    /// What pages of `app` show: its name, its organisation's name and logo.
    async fn branding(&self, app: &Application) -> super::Result<Branding> {
        let org = store::orgs::find(&self.db, app.org_id).await?;
        let mut form_targets: Vec<String> = app
            .redirect_uris
            .iter()
            .chain(&app.post_logout_redirect_uris)
            .map(|u| form_origin(u))
            .collect();
        form_targets.sort();
        form_targets.dedup();
        Ok(Branding {
            client_name: app.name.clone(),
            org_name: org.as_ref().map(|o| o.name.clone()).unwrap_or_default(),
            logo_url: org.and_then(|o| o.logo_url),
            form_targets,
        })
    }
}

/// The CSP source a form may submit (or be redirected) to for this URI: its origin (any port on
/// loopback), or its private-use scheme.
pub fn form_origin(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            let host = url.host_str().unwrap_or_default();
            let loopback = seed::rules::is_loopback(&url);
            match (loopback, url.port()) {
                (true, _) => format!("{}://{host}:*", url.scheme()),
                (false, Some(port)) => format!("{}://{host}:{port}", url.scheme()),
                (false, None) => format!("{}://{host}", url.scheme()),
            }
        }
        Ok(url) => format!("{}:", url.scheme()),
        Err(_) => "'none'".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_targets_are_origins() {
        assert_eq!(form_origin("https://app.example/cb?x=1"), "https://app.example");
        assert_eq!(form_origin("https://app.example:8443/cb"), "https://app.example:8443");
        assert_eq!(form_origin("http://127.0.0.1/cb"), "http://127.0.0.1:*");
        assert_eq!(form_origin("com.example.app:/oauth"), "com.example.app:");
    }
}
