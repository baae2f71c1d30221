//! ID tokens (OpenID Connect Core §2) and back-channel logout tokens (OpenID Connect Back-Channel
//! Logout 1.0 §2.4), signed with the ring's ID-token key: RS256 unless the client registered the
//! access-token algorithm as its `id_token_signed_response_alg`.
use super::keys::{Key, KeyRing};
use super::{Algorithm, OrgClaim};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: Uuid,
    pub aud: String,
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The OP session (the browser session, or the session when there is none).
    pub sid: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// The organisation the tokens are for.
    pub org: OrgClaim,
}

/// The key an ID token for a client with this `id_token_signed_response_alg` is signed with.
pub fn key_for(ring: &KeyRing, registered: Option<&str>) -> Arc<Key> {
    match registered.and_then(|alg| alg.parse::<Algorithm>().ok()) {
        Some(alg) if alg == ring.signing().algorithm && alg != Algorithm::HS256 => Arc::clone(ring.signing()),
        _ => Arc::clone(ring.id_token_key()),
    }
}

fn header(key: &Key, typ: &str) -> Header {
    let mut header = Header::new(key.algorithm.jwt());
    header.typ = Some(typ.to_owned());
    header.kid = Some(key.kid.clone());
    header
}

pub fn sign(key: &Key, claims: &IdClaims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(&header(key, "JWT"), claims, &key.encoding)
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash of the access token, with the hash
/// of the ID token's algorithm (SHA-256 for RS256 and ES256, SHA-512 for Ed25519).
pub fn at_hash(algorithm: Algorithm, access_token: &str) -> String {
    let (digest_alg, half) = match algorithm {
        Algorithm::EdDSA => (&aws_lc_rs::digest::SHA512, 32),
        _ => (&aws_lc_rs::digest::SHA256, 16),
    };
    let digest = aws_lc_rs::digest::digest(digest_alg, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..half])
}

#[derive(Debug, Clone, Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: Uuid,
    sub: Uuid,
    sid: Uuid,
    events: serde_json::Value,
}

/// A back-channel logout token for `client_id` ending OP session `sid` of `sub`.
pub fn logout_token(
    key: &Key,
    issuer: &str,
    client_id: &str,
    sub: Uuid,
    sid: Uuid,
    now: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = LogoutClaims {
        iss: issuer,
        aud: client_id,
        iat: now,
        exp: now + 120,
        jti: Uuid::new_v4(),
        sub,
        sid,
        events: serde_json::json!({"http://schemas.openid.net/event/backchannel-logout": {}}),
    };
    jsonwebtoken::encode(&header(key, "logout+jwt"), &claims, &key.encoding)
}

/// Reads an ID token we signed (an `id_token_hint`): the signature and issuer must be ours; it
/// may have expired (OIDC RP-Initiated Logout §2).
pub fn read_hint(ring: &KeyRing, issuer: &str, token: &str) -> Option<IdClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let key = ring.get(header.kid.as_deref()?)?;
    let access = header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(super::verify::ACCESS_TOKEN_TYP));
    if access || header.alg != key.algorithm.jwt() || key.algorithm == Algorithm::HS256 {
        return None;
    }
    let mut validation = jsonwebtoken::Validation::new(key.algorithm.jwt());
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<IdClaims>(token, &key.decoding, &validation)
        .ok()?
        .claims;
    Some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_digest() {
        // OpenID Connect Core's example in §A.3/A.4 uses this access token.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(Algorithm::RS256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(at_hash(Algorithm::EdDSA, token).len(), 43);
    }
}
