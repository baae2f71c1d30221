//! The one access-token verifier (RFC 8725, RFC 9068): the algorithm is pinned by the key the
//! `kid` names; `none`, other algorithms, unknown kids, wrong `iss`/`aud`, expired tokens, `nbf`
//! or `iat` in the future and anything that is not `typ: at+jwt` with `type: access` are refused.
//! Session revocation is checked by the caller, which knows where sessions live.
//!
//! The header is parsed once and the signature checked with `jsonwebtoken`'s primitives; the
//! claims are then read once, borrowing from the payload, keeping only what authenticating
//! needs. (`jsonwebtoken::decode` parses the header three times and the claims twice, and the
//! full claims are a dozen strings and vectors allocated for every cold validation.)
use super::keys::KeyRing;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use jsonwebtoken::errors::ErrorKind;
use serde::Deserialize;
use std::borrow::Cow;
use uuid::Uuid;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECONDS: i64 = 30;

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Why a token was refused; `code()` is the stable reason `/auth/validate` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not an access token")]
    WrongType,
    #[error("the token's key is unknown")]
    UnknownKey,
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token was issued by someone else")]
    Issuer,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the session has ended")]
    SessionRevoked,
}

impl VerifyError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed_token",
            Self::WrongType => "wrong_token_type",
            Self::UnknownKey => "unknown_key",
            Self::Algorithm => "algorithm_not_allowed",
            Self::Signature => "invalid_signature",
            Self::Issuer => "invalid_issuer",
            Self::Audience => "invalid_audience",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::SessionRevoked => "session_revoked",
        }
    }
}

/// What a verified access token says that authenticating needs. Plain values: the verified-token
/// cache keeps these, and remembering a token allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub sub: Uuid,
    pub org_id: Uuid,
    /// The session; absent on service-account tokens.
    pub sid: Option<Uuid>,
    pub exp: i64,
    /// A service account's token (`client_id` is set).
    pub service: bool,
}

/// The claims checked, borrowed from the decoded payload. Every claim `AccessClaims` requires
/// that the checks read is required here too; the others are skipped unread.
#[derive(Deserialize)]
struct Checked<'a> {
    #[serde(borrow)]
    iss: Cow<'a, str>,
    #[serde(borrow)]
    aud: Cow<'a, str>,
    sub: Uuid,
    #[serde(default)]
    sid: Option<Uuid>,
    iat: i64,
    nbf: i64,
    exp: i64,
    #[serde(rename = "type", borrow)]
    token_type: Cow<'a, str>,
    #[serde(default, borrow)]
    client_id: Option<Cow<'a, str>>,
    org: OrgId,
}

#[derive(Deserialize)]
struct OrgId {
    id: Uuid,
}

pub struct Verifier {
    issuer: String,
    audience: String,
}

impl Verifier {
    pub fn new(issuer: &str, audience: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The header every access token carries.
    pub fn header(ring: &KeyRing) -> Header {
        let key = ring.signing();
        let mut header = Header::new(key.algorithm.jwt());
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(key.kid.clone());
        header
    }

    /// Checks `token` at time `now` (seconds since the epoch).
    pub fn verify(&self, ring: &KeyRing, token: &str, now: i64) -> Result<Verified, VerifyError> {
        // Exactly three segments (a JWS in compact form; five would be a JWE).
        let (message, signature) = token.rsplit_once('.').ok_or(VerifyError::Malformed)?;
        let (_, payload) = message.split_once('.').ok_or(VerifyError::Malformed)?;
        if payload.contains('.') {
            return Err(VerifyError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName => VerifyError::Algorithm,
            _ => VerifyError::Malformed,
        })?;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(VerifyError::WrongType);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| ring.get(kid))
            .ok_or(VerifyError::UnknownKey)?;
        // The key decides the algorithm; the header only has to agree (no `none`, no HS256
        // with an ES256 key's public bytes).
        let algorithm = key.algorithm.jwt();
        if header.alg != algorithm {
            return Err(VerifyError::Algorithm);
        }
        match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.decoding, algorithm) {
            Ok(true) => {}
            Ok(false) => return Err(VerifyError::Signature),
            Err(_) => return Err(VerifyError::Malformed),
        }

        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| VerifyError::Malformed)?;
        let claims: Checked<'_> = serde_json::from_slice(&payload).map_err(|_| VerifyError::Malformed)?;
        if claims.iss != self.issuer {
            return Err(VerifyError::Issuer);
        }
        if claims.aud != self.audience {
            return Err(VerifyError::Audience);
        }
        if claims.exp <= now - LEEWAY_SECONDS {
            return Err(VerifyError::Expired);
        }
        if claims.nbf > now + LEEWAY_SECONDS || claims.iat > now + LEEWAY_SECONDS {
            return Err(VerifyError::NotYetValid);
        }
        if claims.token_type != super::claims::ACCESS {
            return Err(VerifyError::WrongType);
        }
        Ok(Verified {
            sub: claims.sub,
            org_id: claims.org.id,
            sid: claims.sid,
            exp: claims.exp,
            service: claims.client_id.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::keys::{Key, KeyMaterial};
    use crate::token::{Algorithm, install_crypto_provider};
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};
    use std::sync::Arc;

    const NOW: i64 = 1_900_000_000;

    fn ring(alg: Algorithm) -> KeyRing {
        install_crypto_provider();
        let key = match alg {
            Algorithm::HS256 => Key::hmac(&[7u8; 32]),
            _ => Key::from_material(&KeyMaterial::generate(alg, Utc.timestamp_opt(NOW, 0).unwrap()).unwrap()).unwrap(),
        };
        KeyRing::new(Arc::new(key), vec![])
    }

    fn claims() -> Value {
        json!({
            "iss": "https://id.test", "aud": "guildhall", "sub": uuid::Uuid::nil(), "sid": uuid::Uuid::nil(),
            "jti": uuid::Uuid::nil(), "iat": NOW, "nbf": NOW, "exp": NOW + 60, "type": "access",
            "email": "a@b.test", "name": "A", "org": {"id": uuid::Uuid::nil(), "slug": "acme"},
            "roles": [], "permissions": [], "mv": 1
        })
    }

    fn sign(ring: &KeyRing, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &ring.signing().encoding).unwrap()
    }

    fn verifier() -> Verifier {
        Verifier::new("https://id.test", "guildhall")
    }

    #[test]
    fn accepts_a_well_formed_token_for_every_algorithm() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256, Algorithm::HS256] {
            let ring = ring(alg);
            let token = sign(&ring, Verifier::header(&ring), &claims());
            assert!(verifier().verify(&ring, &token, NOW).is_ok(), "{alg}");
        }
    }

    #[test]
    fn keeps_what_authenticating_needs() {
        let ring = ring(Algorithm::ES256);
        let (sub, sid, org) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let mut user = claims();
        user["sub"] = json!(sub);
        user["sid"] = json!(sid);
        user["org"]["id"] = json!(org);
        let token = sign(&ring, Verifier::header(&ring), &user);
        let expected = Verified {
            sub,
            org_id: org,
            sid: Some(sid),
            exp: NOW + 60,
            service: false,
        };
        assert_eq!(verifier().verify(&ring, &token, NOW), Ok(expected));

        let mut service = user.clone();
        service.as_object_mut().unwrap().remove("sid");
        service["client_id"] = json!("svc_123");
        let token = sign(&ring, Verifier::header(&ring), &service);
        let verified = verifier().verify(&ring, &token, NOW).unwrap();
        assert!(verified.service && verified.sid.is_none());
    }

    #[test]
    fn refuses_tokens_that_are_not_three_well_formed_segments() {
        let ring = ring(Algorithm::ES256);
        let token = sign(&ring, Verifier::header(&ring), &claims());
        let (message, signature) = token.rsplit_once('.').unwrap();
        let cases = [
            ("four segments", format!("{message}.{signature}.{signature}")),
            ("two segments", message.to_owned()),
            ("no dots", signature.to_owned()),
            ("signature not base64url", format!("{message}.*{}", &signature[1..])),
            ("payload not base64url", token.replacen('.', ".*", 1)),
            ("empty", String::new()),
        ];
        for (name, token) in cases {
            assert!(
                matches!(
                    verifier().verify(&ring, &token, NOW),
                    Err(VerifyError::Malformed | VerifyError::Signature)
                ),
                "{name}"
            );
        }
        // A payload that is signed but not our claims' shape: `aud` as an array, `sub` not a UUID.
        for change in [
            json!({"aud": ["guildhall"]}),
            json!({"sub": "alice"}),
            json!({"org": "acme"}),
        ] {
            let mut c = claims();
            for (k, v) in change.as_object().unwrap() {
                c[k] = v.clone();
            }
            let token = sign(&ring, Verifier::header(&ring), &c);
            assert_eq!(
                verifier().verify(&ring, &token, NOW),
                Err(VerifyError::Malformed),
                "{change}"
            );
        }
    }

    #[test]
    fn refuses_what_rfc_8725_says_to_refuse() {
        let ring = ring(Algorithm::ES256);
        let good = Verifier::header(&ring);
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = claims();
            f(&mut c);
            c
        };
        let cases: Vec<(&str, String, VerifyError)> = vec![
            (
                "expired",
                sign(&ring, good.clone(), &with(&|c| c["exp"] = json!(NOW - 31))),
                VerifyError::Expired,
            ),
            (
                "nbf ahead",
                sign(&ring, good.clone(), &with(&|c| c["nbf"] = json!(NOW + 31))),
                VerifyError::NotYetValid,
            ),
            (
                "iat ahead",
                sign(&ring, good.clone(), &with(&|c| c["iat"] = json!(NOW + 31))),
                VerifyError::NotYetValid,
            ),
            (
                "issuer",
                sign(&ring, good.clone(), &with(&|c| c["iss"] = json!("https://evil.test"))),
                VerifyError::Issuer,
            ),
            (
                "audience",
                sign(&ring, good.clone(), &with(&|c| c["aud"] = json!("other"))),
                VerifyError::Audience,
            ),
            (
                "no aud",
                sign(
                    &ring,
                    good.clone(),
                    &with(&|c| {
                        c.as_object_mut().unwrap().remove("aud");
                    }),
                ),
                VerifyError::Malformed,
            ),
            (
                "no exp",
                sign(
                    &ring,
                    good.clone(),
                    &with(&|c| {
                        c.as_object_mut().unwrap().remove("exp");
                    }),
                ),
                VerifyError::Malformed,
            ),
            (
                "refresh type",
                sign(&ring, good.clone(), &with(&|c| c["type"] = json!("refresh"))),
                VerifyError::WrongType,
            ),
            (
                "typ JWT",
                sign(
                    &ring,
                    Header {
                        typ: Some("JWT".into()),
                        ..good.clone()
                    },
                    &claims(),
                ),
                VerifyError::WrongType,
            ),
            (
                "no kid",
                sign(
                    &ring,
                    Header {
                        kid: None,
                        ..good.clone()
                    },
                    &claims(),
                ),
                VerifyError::UnknownKey,
            ),
            (
                "unknown kid",
                sign(
                    &ring,
                    Header {
                        kid: Some("nope".into()),
                        ..good.clone()
                    },
                    &claims(),
                ),
                VerifyError::UnknownKey,
            ),
        ];
        for (name, token, expected) in cases {
            assert_eq!(verifier().verify(&ring, &token, NOW), Err(expected), "{name}");
        }
    }

    #[test]
    fn refuses_none_swapped_algorithms_and_forged_signatures() {
        let ring = ring(Algorithm::ES256);
        let kid = ring.signing().kid.clone();
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        let none_header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
        let none = format!("{none_header}.{body}.");
        assert!(matches!(
            verifier().verify(&ring, &none, NOW),
            Err(VerifyError::Algorithm | VerifyError::Malformed)
        ));
        // HS256 signed with the public key's bytes, the classic confusion attack.
        let hs = jsonwebtoken::encode(
            &Header {
                alg: jsonwebtoken::Algorithm::HS256,
                typ: Some("at+jwt".into()),
                kid: Some(kid.clone()),
                ..Header::default()
            },
            &claims(),
            &jsonwebtoken::EncodingKey::from_secret(ring.signing().pem.as_ref().unwrap().as_bytes()),
        )
        .unwrap();
        assert_eq!(verifier().verify(&ring, &hs, NOW), Err(VerifyError::Algorithm));
        let token = sign(&ring, Verifier::header(&ring), &claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_body = URL_SAFE_NO_PAD.encode(claims().to_string().replace("acme", "evil"));
        parts[1] = &forged_body;
        assert_eq!(
            verifier().verify(&ring, &parts.join("."), NOW),
            Err(VerifyError::Signature)
        );
        let other = self::ring(Algorithm::ES256);
        let foreign = sign(
            &other,
            Header {
                kid: Some(kid),
                ..Verifier::header(&other)
            },
            &claims(),
        );
        assert_eq!(verifier().verify(&ring, &foreign, NOW), Err(VerifyError::Signature));
    }
}
