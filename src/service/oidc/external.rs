//! Seed 003's enterprise mode: with `AUTH_OIDC_ISSUER` set, `/auth/me` and `/auth/validate` also
//! accept the global provider's own JWTs (access or ID tokens). A token is tried here only when
//! our own verification refused it and its (unverified) `iss` is that provider's; it must then be
//! signed with an asymmetric key from the provider's JWKS (fetched again, at most once a minute,
//! when a `kid` is unknown), name the issuer, carry the configured audience in `aud` (or, as
//! Cognito's access tokens do, in `client_id`) and be within its lifetime. Its subject maps to
//! the linked account, or one is provisioned by the global provider's rules.
use super::flow::{groups, raw_claims};
use super::http::Discovery;
use super::provision::{Identity, Provisioner};
use super::{Directory, OidcError};
use crate::clock::SharedClock;
use crate::config::{GLOBAL_PROVIDER, GlobalOidc};
use crate::service::Result;
use crate::token::verify::LEEWAY_SECONDS;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const JWKS_TTL: Duration = Duration::from_secs(600);
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
/// How long a failed fetch is remembered: while the provider is down, tokens naming unknown
/// keys are refused without fetching again.
const FAILURE_REMEMBERED: Duration = Duration::from_secs(10);

/// The provider's keys as last fetched, and when a fetch last failed.
#[derive(Default)]
struct JwksState {
    set: Option<(Instant, Arc<JwkSet>)>,
    failed_at: Option<Instant>,
}

/// The global provider's tokens: its keys, and the accounts its subjects map to.
pub struct ExternalTokens {
    global: GlobalOidc,
    directory: Arc<Directory>,
    discovery: Arc<Discovery>,
    provisioner: Arc<Provisioner>,
    clock: SharedClock,
    jwks: tokio::sync::Mutex<JwksState>,
    /// Subjects seen before: their account and the organisation it was provisioned into, so a
    /// known subject's token is answered from caches alone.
    users: Mutex<HashMap<String, (Uuid, Uuid)>>,
}

/// The account and organisation an external token's subject logs in to.
#[derive(Debug, Clone)]
pub struct Identified {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub subject: String,
}

/// An external token's account, or the stable reason it is refused.
pub type Found = std::result::Result<Identified, &'static str>;

fn asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

fn audience_ok(claims: &Value, audience: &str) -> bool {
    let in_aud = match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    in_aud || claims.get("client_id").and_then(Value::as_str) == Some(audience)
}

impl ExternalTokens {
    pub fn new(
        global: GlobalOidc,
        directory: Arc<Directory>,
        discovery: Arc<Discovery>,
        provisioner: Arc<Provisioner>,
        clock: SharedClock,
    ) -> Self {
        Self {
            global,
            directory,
            discovery,
            provisioner,
            clock,
            jwks: tokio::sync::Mutex::default(),
            users: Mutex::default(),
        }
    }

    /// Forgets what a subject maps to (its account went away).
    pub fn forget(&self, subject: &str) {
        if let Ok(mut users) = self.users.lock() {
            users.remove(subject);
        }
    }

    /// The account a token of the global provider logs in to; `None` when the token is not that
    /// provider's.
    pub async fn identify(&self, token: &str) -> Result<Option<Found>> {
        let global = &self.global;
        let unverified = raw_claims(token);
        if unverified.get("iss").and_then(Value::as_str) != Some(global.issuer.as_str()) {
            return Ok(None);
        }
        let claims = match self.verify(token, &global.issuer).await {
            Ok(claims) => claims,
            Err(reason) => return Ok(Some(Err(reason))),
        };
        let now = self.clock.now().timestamp();
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(i64::MIN);
        if exp <= now - LEEWAY_SECONDS {
            return Ok(Some(Err("token_expired")));
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now + LEEWAY_SECONDS)
        {
            return Ok(Some(Err("token_not_yet_valid")));
        }
        if !audience_ok(&claims, &global.audience) {
            return Ok(Some(Err("invalid_audience")));
        }
        let Some(subject) = claims.get("sub").and_then(Value::as_str).map(str::to_owned) else {
            return Ok(Some(Err("malformed_token")));
        };
        let cached = self.users.lock().ok().and_then(|u| u.get(&subject).copied());
        let (user_id, org_id) = match cached {
            Some(known) => known,
            None => {
                let provider = match self.directory.provider(GLOBAL_PROVIDER).await {
                    Ok(p) => p,
                    Err(OidcError::Service(e)) => return Err(e),
                    Err(_) => return Ok(Some(Err("unknown_provider"))),
                };
                let identity = Identity {
                    issuer: global.issuer.clone(),
                    subject: subject.clone(),
                    email: claims.get("email").and_then(Value::as_str).map(str::to_lowercase),
                    email_verified: claims
                        .get("email_verified")
                        .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true")),
                    name: claims.get("name").and_then(Value::as_str).map(str::to_owned),
                    groups: groups(&claims, &provider.groups_claim),
                };
                match self.provisioner.provision(&provider, &identity).await {
                    Ok((user_id, _)) => {
                        if let Ok(mut users) = self.users.lock() {
                            users.insert(subject.clone(), (user_id, provider.org_id));
                        }
                        (user_id, provider.org_id)
                    }
                    Err(OidcError::Redirect { error, .. }) => return Ok(Some(Err(error))),
                    Err(OidcError::Service(e)) => return Err(e),
                    Err(_) => return Ok(Some(Err("unknown_provider"))),
                }
            }
        };
        Ok(Some(Ok(Identified {
            user_id,
            org_id,
            subject,
        })))
    }

    /// Checks the signature (and issuer) of a token from the global provider.
    async fn verify(&self, token: &str, issuer: &str) -> std::result::Result<Value, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed_token")?;
        if !asymmetric(header.alg) {
            return Err("algorithm_not_allowed");
        }
        let kid = header.kid.clone().unwrap_or_default();
        let mut jwks = self.jwks(false).await.map_err(|_| "provider_unavailable")?;
        if jwks.find(&kid).is_none() {
            jwks = self.jwks(true).await.map_err(|_| "provider_unavailable")?;
        }
        let jwk = jwks.find(&kid).ok_or("unknown_key")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| "unknown_key")?;
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.set_issuer(&[issuer]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "invalid_signature",
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => "invalid_issuer",
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => "algorithm_not_allowed",
                _ => "malformed_token",
            })
    }

    /// The global provider's JWKS: cached; `refresh` fetches it again unless that was done in
    /// the last minute.
    async fn jwks(&self, refresh: bool) -> std::result::Result<Arc<JwkSet>, OidcError> {
        // One fetch at a time (single flight): whoever waited finds the fetched set, or the
        // remembered failure, instead of fetching again.
        let mut state = self.jwks.lock().await;
        if let Some((at, set)) = &state.set {
            let fresh_enough = if refresh {
                at.elapsed() < REFETCH_AT_MOST_EVERY
            } else {
                at.elapsed() < JWKS_TTL
            };
            if fresh_enough {
                return Ok(Arc::clone(set));
            }
        }
        if state.failed_at.is_some_and(|at| at.elapsed() < FAILURE_REMEMBERED) {
            return Err(OidcError::Unreachable(anyhow::anyhow!(
                "the provider's keys could not be fetched just now"
            )));
        }
        match self.fetch_jwks(refresh).await {
            Ok(set) => {
                let set = Arc::new(set);
                state.set = Some((Instant::now(), Arc::clone(&set)));
                state.failed_at = None;
                Ok(set)
            }
            Err(error) => {
                state.failed_at = Some(Instant::now());
                Err(error)
            }
        }
    }

    async fn fetch_jwks(&self, refresh: bool) -> std::result::Result<JwkSet, OidcError> {
        let global = &self.global;
        let url = match &global.jwks_url {
            Some(url) => url.clone(),
            None => self
                .discovery
                .metadata(&global.issuer, refresh)
                .await?
                .jwks_uri()
                .url()
                .to_string(),
        };
        let body = self
            .discovery
            .http()
            .get_bytes(&url)
            .await
            .map_err(|e| OidcError::Unreachable(e.into()))?;
        serde_json::from_slice(&body).map_err(|e| OidcError::Unreachable(e.into()))
    }
}
