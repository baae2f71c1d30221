//! Client authentication at the token, revocation, introspection and device endpoints
//! (RFC 6749 §2.3, OpenID Connect Core §9, RFC 7523): exactly one method per request, and
//! only the method the client registered. Service accounts are confidential clients too: they
//! authenticate with their secret (Basic or in the form) and use the client-credentials grant.
use super::{OAuthError, OAuthResult, OpenIdProvider};
use crate::crypto;
use crate::model::{Application, ClientAuth, ServiceAccount};
use crate::service::ServiceError;
use crate::store;
use aws_lc_rs::constant_time::verify_slices_are_equal;
use chrono::Duration;
use serde::Deserialize;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What a request presents to say which client it is.
#[derive(Debug, Default, Clone)]
pub struct ClientCredentials {
    /// HTTP Basic, already URL-decoded (RFC 6749 §2.3.1).
    pub basic: Option<(String, String)>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// An authenticated caller of the OAuth endpoints.
#[derive(Debug, Clone)]
pub enum Client {
    App(Box<Application>),
    Service(ServiceAccount),
}

impl Client {
    pub fn client_id(&self) -> &str {
        match self {
            Self::App(a) => &a.client_id,
            Self::Service(s) => &s.client_id,
        }
    }

    pub fn org_id(&self) -> uuid::Uuid {
        match self {
            Self::App(a) => a.org_id,
            Self::Service(s) => s.org_id,
        }
    }
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    jti: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, value: &str) -> bool {
        match self {
            Self::One(a) => a == value,
            Self::Many(list) => list.iter().any(|a| a == value),
        }
    }
}

/// How far ahead a client assertion may expire (an hour, and a minute of clock skew).
const MAX_ASSERTION_SECONDS: i64 = 3600 + 60;

/// Algorithms a client assertion may be signed with.
const ASSERTION_ALGORITHMS: [jsonwebtoken::Algorithm; 6] = [
    jsonwebtoken::Algorithm::RS256,
    jsonwebtoken::Algorithm::RS384,
    jsonwebtoken::Algorithm::RS512,
    jsonwebtoken::Algorithm::PS256,
    jsonwebtoken::Algorithm::ES256,
    jsonwebtoken::Algorithm::EdDSA,
];

fn secret_matches(presented: &str, digest: Option<&str>) -> bool {
    let presented = crypto::token_digest(presented);
    digest.is_some_and(|d| verify_slices_are_equal(presented.as_bytes(), d.as_bytes()).is_ok())
}

impl OpenIdProvider {
    /// Who is calling; every failure is the same `invalid_client`.
    pub async fn authenticate_client(&self, creds: ClientCredentials) -> OAuthResult<Client> {
        let methods = [
            creds.basic.is_some(),
            creds.client_secret.is_some(),
            creds.client_assertion.is_some() || creds.client_assertion_type.is_some(),
        ];
        if methods.iter().filter(|m| **m).count() > 1 {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }
        if let (Some((id, _)), Some(form_id)) = (&creds.basic, &creds.client_id)
            && id != form_id
        {
            return Err(OAuthError::invalid_client());
        }
        if let Some((id, secret)) = &creds.basic {
            return self.by_secret(id, secret, ClientAuth::ClientSecretBasic).await;
        }
        if let Some(secret) = &creds.client_secret {
            let id = creds.client_id.as_deref().ok_or_else(OAuthError::invalid_client)?;
            return self.by_secret(id, secret, ClientAuth::ClientSecretPost).await;
        }
        if let Some(assertion) = &creds.client_assertion {
            if creds.client_assertion_type.as_deref() != Some(JWT_BEARER) {
                return Err(OAuthError::invalid_request(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
            }
            return self.by_assertion(assertion, creds.client_id.as_deref()).await;
        }
        if creds.client_assertion_type.is_some() {
            return Err(OAuthError::invalid_request("client_assertion is missing"));
        }
        let id = creds.client_id.as_deref().ok_or_else(OAuthError::invalid_client)?;
        match self.app(id).await? {
            Some(app) if app.is_public() => Ok(Client::App(Box::new(app))),
            _ => Err(OAuthError::invalid_client()),
        }
    }

    async fn by_secret(&self, id: &str, secret: &str, method: ClientAuth) -> OAuthResult<Client> {
        if let Some(app) = self.app(id).await? {
            return if app.auth_method == method && secret_matches(secret, app.secret_hash.as_deref()) {
                Ok(Client::App(Box::new(app)))
            } else {
                Err(OAuthError::invalid_client())
            };
        }
        match self.accounts.authenticate(id, secret).await {
            Ok(account) => Ok(Client::Service(account)),
            Err(ServiceError::InvalidClient) => Err(OAuthError::invalid_client()),
            Err(e) => Err(e.into()),
        }
    }

    /// `private_key_jwt`: signed by one of the client's keys, issued by and about the client,
    /// for us, unexpired, expiring within the hour (stock libraries such as Authlib sign
    /// `exp = iat + 3600`; its `jti` is kept until it expires), and never presented before.
    async fn by_assertion(&self, assertion: &str, form_id: Option<&str>) -> OAuthResult<Client> {
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| OAuthError::invalid_client())?;
        if !ASSERTION_ALGORITHMS.contains(&header.alg) {
            return Err(OAuthError::invalid_client());
        }
        let unverified = jsonwebtoken::dangerous::insecure_decode_claims::<AssertionClaims>(assertion)
            .map_err(|_| OAuthError::invalid_client())?;
        let id = unverified.sub.clone();
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_client());
        }
        let app = match self.app(&id).await? {
            Some(app) if app.auth_method == ClientAuth::PrivateKeyJwt => app,
            _ => return Err(OAuthError::invalid_client()),
        };
        let set: jsonwebtoken::jwk::JwkSet = app
            .jwks
            .clone()
            .and_then(|j| serde_json::from_value(j).ok())
            .ok_or_else(OAuthError::invalid_client)?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.leeway = 30;
        let verified = set
            .keys
            .iter()
            .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
            .filter_map(|k| jsonwebtoken::DecodingKey::from_jwk(k).ok())
            .find_map(|key| jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation).ok())
            .ok_or_else(OAuthError::invalid_client)?
            .claims;
        let now = self.changes.now();
        let audiences = [
            self.issuer().to_owned(),
            self.config.issuer.clone(),
            self.endpoint("/oauth2/token"),
            self.endpoint("/oauth2/revoke"),
            self.endpoint("/oauth2/introspect"),
            self.endpoint("/oauth2/device_authorization"),
        ];
        let for_us = audiences.iter().any(|a| verified.aud.contains(a));
        let short = verified.exp <= now.timestamp() + MAX_ASSERTION_SECONDS;
        if verified.iss != id || verified.sub != id || !for_us || !short || verified.jti.is_empty() {
            return Err(OAuthError::invalid_client());
        }
        let digest = crypto::token_digest(&format!("{id}\n{}", verified.jti));
        let expires = now + Duration::seconds(verified.exp - now.timestamp() + 60);
        if !store::provider::spend_assertion(&self.db, digest, expires).await? {
            return Err(OAuthError::invalid_client());
        }
        Ok(Client::App(Box::new(app)))
    }
}
