//! The one access-token verifier (RFC 8725, RFC 9068): the algorithm is pinned by the key the
//! `kid` names; `none`, other algorithms, unknown kids, wrong `iss`/`aud`, expired tokens, `nbf`
//! or `iat` in the future and anything that is not `typ: at+jwt` with `type: access` are refused.
//! Session revocation is checked by the caller, which knows where sessions live.
use super::Algorithm;
use super::claims::{ACCESS, AccessClaims};
use super::keys::KeyRing;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};

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

pub struct Verifier {
    issuer: String,
    audience: String,
    /// One prepared `Validation` per algorithm (building one allocates).
    validations: std::collections::HashMap<jsonwebtoken::Algorithm, Validation>,
}

impl Verifier {
    pub fn new(issuer: &str, audience: &str) -> Self {
        let validations = [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256, Algorithm::HS256]
            .into_iter()
            .map(|alg| {
                let mut validation = Validation::new(alg.jwt());
                validation.validate_exp = false;
                validation.validate_nbf = false;
                validation.leeway = 0;
                validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
                validation.set_issuer(&[issuer]);
                validation.set_audience(&[audience]);
                (alg.jwt(), validation)
            })
            .collect();
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            validations,
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
    pub fn verify(&self, ring: &KeyRing, token: &str, now: i64) -> Result<AccessClaims, VerifyError> {
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
        if header.alg != key.algorithm.jwt() {
            return Err(VerifyError::Algorithm);
        }
        let validation = self
            .validations
            .get(&key.algorithm.jwt())
            .ok_or(VerifyError::Algorithm)?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => VerifyError::Signature,
                ErrorKind::InvalidIssuer => VerifyError::Issuer,
                ErrorKind::InvalidAudience => VerifyError::Audience,
                ErrorKind::InvalidAlgorithm => VerifyError::Algorithm,
                _ => VerifyError::Malformed,
            })?
            .claims;
        if claims.exp <= now - LEEWAY_SECONDS {
            return Err(VerifyError::Expired);
        }
        if claims.nbf > now + LEEWAY_SECONDS || claims.iat > now + LEEWAY_SECONDS {
            return Err(VerifyError::NotYetValid);
        }
        if claims.token_type != ACCESS {
            return Err(VerifyError::WrongType);
        }
        Ok(claims)
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
