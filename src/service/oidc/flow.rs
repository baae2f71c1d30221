//! The authorization code flow: start (`/login`), come back (`/callback`), hand over
//! (`/exchange`).
use super::http::Discovery;
use super::provision::{Identity, Provisioner};
use super::{Directory, OidcError, Provider};
use crate::clock::SharedClock;
use crate::config::OidcConfig;
use crate::crypto;
use crate::service::{ServiceError, with_query};
use crate::store::{self, Db, oidc::PendingLogin};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use serde_json::Value;
use std::sync::Arc;

/// How long a started login may take at the provider.
const LOGIN_TTL_MINUTES: i64 = 10;
/// How long the frontend has to exchange its one-time code.
const CODE_TTL_SECONDS: i64 = 60;
/// The longest frontend `state` echoed back.
const MAX_CLIENT_STATE: usize = 512;

/// ID tokens must be signed with one of these; `none` and the HMAC family (keyed with the client
/// secret, which the provider's admins and every copy of the configuration know) are refused,
/// whatever the provider's discovery document advertises.
const ASYMMETRIC: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A login sent to the provider: where to send the browser, and the value of the cookie that
/// binds the login to it.
pub struct Started {
    pub location: String,
    pub browser: String,
}

/// What the provider sent back to the callback.
#[derive(Debug, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// RFC 9207: the issuer of the authorization response, when the provider sends it.
    pub iss: Option<String>,
}

/// A client built from discovery: authorization endpoint known, token and userinfo perhaps.
type ProviderClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

fn client_for(
    provider: &Provider,
    metadata: &CoreProviderMetadata,
    callback: &str,
) -> Result<ProviderClient, OidcError> {
    let redirect =
        RedirectUrl::new(callback.to_owned()).map_err(|e| OidcError::Service(ServiceError::Internal(e.into())))?;
    Ok(CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(provider.client_id.clone()),
        provider.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(redirect))
}

fn random() -> Result<String, OidcError> {
    crypto::random_token().map_err(|_| OidcError::Service(ServiceError::Internal(anyhow::anyhow!("no randomness"))))
}

/// The code flow against external providers.
pub struct OidcService {
    db: Db,
    clock: SharedClock,
    config: OidcConfig,
    /// `AUTH_ENV=development`: providers may use plain http anywhere.
    development: bool,
    directory: Arc<Directory>,
    discovery: Arc<Discovery>,
    provisioner: Arc<Provisioner>,
}

/// What "test connection" found at a provider's issuer.
#[derive(Debug, Clone)]
pub struct ConnectionCheck {
    pub authorization_endpoint: String,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
}

impl OidcService {
    /// Fetches the provider's discovery document now (not from the cache): its endpoints, or why
    /// it could not be had (`Unreachable`, with a reason fit to show an admin).
    pub async fn test_connection(&self, issuer: &str) -> std::result::Result<ConnectionCheck, String> {
        match self.discovery.metadata(issuer, true).await {
            Ok(metadata) => Ok(ConnectionCheck {
                authorization_endpoint: metadata.authorization_endpoint().to_string(),
                token_endpoint: metadata.token_endpoint().map(|u| u.to_string()),
                userinfo_endpoint: metadata.userinfo_endpoint().map(|u| u.to_string()),
            }),
            Err(e) => {
                tracing::info!(error = ?e, issuer, "a provider's connection test failed");
                Err(match e {
                    super::OidcError::Unreachable(cause) => format!("{cause}"),
                    other => other.to_string(),
                })
            }
        }
    }

    pub fn new(
        db: Db,
        clock: SharedClock,
        config: OidcConfig,
        development: bool,
        directory: Arc<Directory>,
        discovery: Arc<Discovery>,
        provisioner: Arc<Provisioner>,
    ) -> Self {
        Self {
            db,
            clock,
            config,
            development,
            directory,
            discovery,
            provisioner,
        }
    }

    /// Home-realm discovery: the active providers that serve this email's domain.
    pub async fn discover(&self, email: &str) -> crate::service::Result<Vec<super::Served>> {
        self.directory.discover(email).await
    }

    /// Starts a login: checks the frontend's `redirect_uri` against the allow-list, records the
    /// login and answers where to send the browser.
    pub async fn begin(
        &self,
        slug: &str,
        redirect_uri: Option<&str>,
        client_state: Option<String>,
    ) -> Result<Started, OidcError> {
        let config = &self.config;
        let redirect_uri = redirect_uri
            .filter(|r| config.redirect_uris.iter().any(|allowed| allowed == r))
            .ok_or(OidcError::Invalid(
                "invalid_redirect_uri",
                "redirect_uri is missing or not in AUTH_OIDC_REDIRECT_URIS",
            ))?;
        if client_state.as_ref().is_some_and(|s| s.len() > MAX_CLIENT_STATE) {
            return Err(OidcError::Invalid("invalid_request", "state is longer than 512 bytes"));
        }
        self.start(slug, redirect_uri, client_state).await
    }

    /// Starts a login for guildhall's own hosted login page: the result comes back to `back`
    /// (ours, so not in the allow-list) with the authorization request's handle as its state.
    pub async fn begin_hosted(&self, slug: &str, back: &str, handle: String) -> Result<Started, OidcError> {
        self.start(slug, back, Some(handle)).await
    }

    async fn start(&self, slug: &str, redirect_uri: &str, client_state: Option<String>) -> Result<Started, OidcError> {
        let config = &self.config;
        let provider = self.directory.provider(slug).await?;
        let metadata = self.discovery.metadata(&provider.issuer, false).await?;
        let endpoint = metadata.authorization_endpoint().url();
        if endpoint.scheme() != "https" && !self.development && !seed::rules::is_loopback(endpoint) {
            return Err(OidcError::Insecure);
        }
        let callback = format!("{}/auth/oidc/{}/callback", config.public_url, provider.slug);
        let client = client_for(&provider, &metadata, &callback)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in provider.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let browser = random()?;
        let now = self.clock.now();
        store::oidc::insert_login(
            &self.db,
            PendingLogin {
                state_digest: crypto::token_digest(state.secret()),
                provider_slug: provider.slug,
                browser_digest: crypto::token_digest(&browser),
                pkce_verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                callback_url: callback,
                redirect_uri: redirect_uri.to_owned(),
                client_state,
                expires_at: now + Duration::minutes(LOGIN_TTL_MINUTES),
            },
        )
        .await?;
        Ok(Started {
            location: url.to_string(),
            browser,
        })
    }

    /// The provider's answer: claims the login, exchanges the code, verifies the ID token, finds
    /// or provisions the account, and answers where to send the browser (the frontend, with a
    /// one-time code).
    pub async fn callback(&self, slug: &str, answer: Callback, browser: Option<&str>) -> Result<String, OidcError> {
        let state = answer
            .state
            .filter(|s| !s.is_empty())
            .ok_or(OidcError::Invalid("invalid_state", "the callback has no state"))?;
        let now = self.clock.now();
        let login = store::oidc::take_login(&self.db, &crypto::token_digest(&state), now)
            .await?
            .ok_or(OidcError::Invalid(
                "invalid_state",
                "the state is unknown, expired or already used",
            ))?;
        if login.provider_slug != slug {
            return Err(OidcError::Invalid(
                "invalid_state",
                "the state belongs to another provider",
            ));
        }
        if browser.map(crypto::token_digest).as_deref() != Some(login.browser_digest.as_str()) {
            return Err(OidcError::Invalid(
                "invalid_state",
                "the login was started in another browser",
            ));
        }
        let fail = |error: &'static str, description: &str| OidcError::Redirect {
            to: login.redirect_uri.clone(),
            client_state: login.client_state.clone(),
            error,
            description: description.to_owned(),
        };
        if let Some(error) = answer.error {
            return Err(match error.as_str() {
                "access_denied" => fail("access_denied", "the login was refused at the identity provider"),
                _ => fail("provider_error", "the identity provider reported an error"),
            });
        }
        let code = answer
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| fail("invalid_request", "the provider sent neither a code nor an error"))?;
        let provider = self
            .directory
            .provider(slug)
            .await
            .map_err(|_| fail("provider_unavailable", "the identity provider is no longer enabled"))?;
        if answer.iss.as_ref().is_some_and(|iss| *iss != provider.issuer) {
            // A mix-up attack (RFC 9207): the code comes from another issuer than the one asked.
            return Err(fail(
                "invalid_issuer",
                "the authorization response names another issuer",
            ));
        }
        let identity = match self.identify(&provider, &login, code).await {
            Ok(identity) => identity,
            Err(OidcError::Unreachable(e)) => {
                tracing::warn!(error = %e, provider = slug, "identity provider unreachable");
                return Err(fail(
                    "temporarily_unavailable",
                    "the identity provider cannot be reached",
                ));
            }
            Err(OidcError::Redirect { error, description, .. }) => return Err(fail(error, &description)),
            Err(e) => return Err(e),
        };
        let (user_id, org_id) = match self.provisioner.provision(&provider, &identity).await {
            Ok(found) => found,
            Err(OidcError::Redirect { error, description, .. }) => return Err(fail(error, &description)),
            Err(e) => return Err(e),
        };
        let code = random()?;
        store::oidc::insert_code(
            &self.db,
            crypto::token_digest(&code),
            store::oidc::CodeGrant {
                user_id,
                org_id,
                provider_slug: provider.slug,
            },
            now + Duration::seconds(CODE_TTL_SECONDS),
        )
        .await?;
        let mut params = vec![("code", code.as_str())];
        if let Some(s) = login.client_state.as_deref() {
            params.push(("state", s));
        }
        Ok(with_query(&login.redirect_uri, &params))
    }

    /// Exchanges the code and verifies the ID token; retries once with freshly fetched keys when
    /// the signature does not verify (the provider may have rotated).
    async fn identify(&self, provider: &Provider, login: &PendingLogin, code: String) -> Result<Identity, OidcError> {
        let redirect = |error: &'static str, description: &str| OidcError::Redirect {
            to: String::new(),
            client_state: None,
            error,
            description: description.to_owned(),
        };
        let metadata = self.discovery.metadata(&provider.issuer, false).await?;
        let client = client_for(provider, &metadata, &login.callback_url)?;
        let request = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|_| redirect("provider_error", "the identity provider has no token endpoint"))?;
        let response = request
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(self.discovery.http())
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(_) => {
                    redirect("invalid_grant", "the identity provider refused the authorization code")
                }
                RequestTokenError::Request(e) => OidcError::Unreachable(e.into()),
                _ => redirect("provider_error", "the identity provider's token response is malformed"),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| redirect("invalid_id_token", "the identity provider returned no ID token"))?;
        let nonce = Nonce::new(login.nonce.clone());
        let clock = self.clock.clone();
        let mut client = client;
        let mut refetched = false;
        loop {
            let verdict = {
                let verifier = client
                    .id_token_verifier()
                    .set_allowed_algs(ASYMMETRIC)
                    .set_time_fn(|| clock.now());
                id_token.claims(&verifier, &nonce).map(|claims| Identity {
                    issuer: provider.issuer.clone(),
                    subject: claims.subject().to_string(),
                    email: claims.email().map(|e| e.to_string().to_lowercase()),
                    email_verified: claims.email_verified().unwrap_or(false),
                    name: claims.name().and_then(|n| n.get(None)).map(|n| n.to_string()),
                    groups: groups(&raw_claims(&id_token.to_string()), &provider.groups_claim),
                })
            };
            match verdict {
                Ok(identity) => return Ok(identity),
                Err(ClaimsVerificationError::SignatureVerification(_)) if !refetched => {
                    refetched = true;
                    let fresh = self.discovery.metadata(&provider.issuer, true).await?;
                    client = client_for(provider, &fresh, &login.callback_url)?;
                }
                Err(e) => return Err(redirect("invalid_id_token", describe(&e))),
            }
        }
    }
}

fn describe(e: &ClaimsVerificationError) -> &'static str {
    match e {
        ClaimsVerificationError::Expired(_) => "the ID token has expired",
        ClaimsVerificationError::InvalidAudience(_) => "the ID token is not meant for this client",
        ClaimsVerificationError::InvalidIssuer(_) => "the ID token was issued by someone else",
        ClaimsVerificationError::InvalidNonce(_) => "the ID token's nonce does not match the login",
        ClaimsVerificationError::SignatureVerification(_) => {
            "the ID token's signature is invalid or uses a refused algorithm"
        }
        _ => "the ID token is invalid",
    }
}

/// The payload of a JWT whose signature has been verified.
pub(super) fn raw_claims(jwt: &str) -> Value {
    jwt.split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// The values of the groups claim: an array of strings, or one string.
pub(super) fn groups(claims: &Value, claim: &str) -> Vec<String> {
    match claims.get(claim) {
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}
