//! Reading and checking an access token (RFC 8725, RFC 9068), the way guildhall's own verifier
//! does: exactly three segments, `typ: at+jwt`, the algorithm pinned by the key, then `iss`,
//! `aud`, `exp`/`nbf`/`iat` with leeway and `type: access`.
use crate::context::{Org, Team};
use crate::error::TokenError;
use crate::jwks::{Alg, Key};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use uuid::Uuid;

/// The `typ` header of access tokens.
const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// A compact JWS split into its parts, with its header read. Nothing is verified yet.
pub(crate) struct Parts<'a> {
    pub header: Header,
    message: &'a str,
    payload: &'a str,
    signature: &'a str,
}

#[derive(Deserialize)]
pub(crate) struct Header {
    pub alg: String,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
    /// Extensions a verifier must understand (RFC 7515 §4.1.11); guildhall uses none.
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// What an access token says.
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    pub iss: String,
    pub aud: Audience,
    pub sub: Uuid,
    #[serde(default)]
    pub sid: Option<Uuid>,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    pub exp: i64,
    #[serde(rename = "type")]
    pub token_type: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    pub org: Org,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub teams: Option<Vec<Team>>,
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    #[serde(default)]
    pub mv: i64,
    /// `"validate"`: `teams`/`domains` were left out; ask `/auth/validate`.
    #[serde(default)]
    pub ctx: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

impl Claims {
    /// True when `teams`/`domains` are to be asked of `/auth/validate`.
    pub fn needs_validate(&self) -> bool {
        self.ctx.as_deref() == Some("validate")
    }
}

/// What the claims must satisfy besides the signature.
pub(crate) struct Expectations<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub leeway: i64,
}

impl<'a> Parts<'a> {
    /// Splits `token` and reads its header; refuses anything that is not an access token's shape.
    pub fn split(token: &'a str) -> Result<Self, TokenError> {
        let (message, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header, payload) = message.split_once('.').ok_or(TokenError::Malformed)?;
        if payload.contains('.') {
            return Err(TokenError::Malformed);
        }
        let header: Header = decode(header)?;
        if header.crit.is_some() {
            return Err(TokenError::Malformed);
        }
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        Ok(Self {
            header,
            message,
            payload,
            signature,
        })
    }

    /// The algorithm the header declares, if it is one guildhall signs with.
    pub fn alg(&self) -> Result<Alg, TokenError> {
        Alg::from_name(&self.header.alg).ok_or(TokenError::Algorithm)
    }

    /// Checks the signature with `key`, whose algorithm the header must declare.
    pub fn verify_signature(&self, key: &Key) -> Result<(), TokenError> {
        if self.alg()? != key.alg {
            return Err(TokenError::Algorithm);
        }
        match jsonwebtoken::crypto::verify(self.signature, self.message.as_bytes(), &key.decoding, key.alg.jwt()) {
            Ok(true) => Ok(()),
            Ok(false) => Err(TokenError::Signature),
            Err(_) => Err(TokenError::Malformed),
        }
    }

    /// The claims, checked against `expected` at `now` (seconds since the epoch).
    pub fn claims(&self, expected: &Expectations<'_>, now: i64) -> Result<Claims, TokenError> {
        let claims: Claims = decode(self.payload)?;
        if claims.iss != expected.issuer {
            return Err(TokenError::Issuer);
        }
        if !claims.aud.contains(expected.audience) {
            return Err(TokenError::Audience);
        }
        if claims.exp <= now - expected.leeway {
            return Err(TokenError::Expired);
        }
        let ahead = |at: Option<i64>| at.is_some_and(|at| at > now + expected.leeway);
        if ahead(claims.nbf) || ahead(claims.iat) {
            return Err(TokenError::NotYetValid);
        }
        if claims.token_type != "access" {
            return Err(TokenError::WrongType);
        }
        if claims.client_id.is_none() && claims.sid.is_none() {
            // A user's token always names its session.
            return Err(TokenError::Malformed);
        }
        Ok(claims)
    }
}

fn decode<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, EncodingKey};
    use serde_json::{Value, json};

    const NOW: i64 = 1_900_000_000;
    const SECRET: &[u8] = b"a test secret of at least 32 bytes";

    fn claims() -> Value {
        json!({
            "iss": "https://id.test", "aud": "guildhall", "sub": Uuid::nil(), "sid": Uuid::nil(),
            "iat": NOW, "nbf": NOW, "exp": NOW + 60, "type": "access",
            "org": {"id": Uuid::nil(), "slug": "acme"}, "roles": [], "permissions": [], "mv": 1
        })
    }

    fn sign(header: Value, claims: &Value) -> String {
        let header: jsonwebtoken::Header = serde_json::from_value(header).unwrap();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    fn check(token: &str) -> Result<Claims, TokenError> {
        let parts = Parts::split(token)?;
        let key = Key {
            alg: Alg::Hs256,
            decoding: DecodingKey::from_secret(SECRET),
        };
        parts.verify_signature(&key)?;
        let expected = Expectations {
            issuer: "https://id.test",
            audience: "guildhall",
            leeway: 30,
        };
        parts.claims(&expected, NOW)
    }

    fn with(change: Value) -> Value {
        let mut c = claims();
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    #[test]
    fn claims_are_checked_like_guildhall_checks_them() {
        let at = json!({"alg": "HS256", "typ": "at+jwt", "kid": "k"});
        let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
            ("good", sign(at.clone(), &claims()), Ok(())),
            (
                "aud array",
                sign(at.clone(), &with(json!({"aud": ["x", "guildhall"]}))),
                Ok(()),
            ),
            (
                "typ application/at+jwt",
                sign(json!({"alg": "HS256", "typ": "application/at+jwt"}), &claims()),
                Ok(()),
            ),
            (
                "service account",
                sign(at.clone(), &with(json!({"sid": null, "client_id": "svc"}))),
                Ok(()),
            ),
            (
                "issuer",
                sign(at.clone(), &with(json!({"iss": "https://evil.test"}))),
                Err(TokenError::Issuer),
            ),
            (
                "audience",
                sign(at.clone(), &with(json!({"aud": ["x"]}))),
                Err(TokenError::Audience),
            ),
            (
                "expired",
                sign(at.clone(), &with(json!({"exp": NOW - 30}))),
                Err(TokenError::Expired),
            ),
            (
                "exp in leeway",
                sign(at.clone(), &with(json!({"exp": NOW - 29}))),
                Ok(()),
            ),
            (
                "nbf ahead",
                sign(at.clone(), &with(json!({"nbf": NOW + 31}))),
                Err(TokenError::NotYetValid),
            ),
            (
                "iat ahead",
                sign(at.clone(), &with(json!({"iat": NOW + 31}))),
                Err(TokenError::NotYetValid),
            ),
            (
                "refresh type",
                sign(at.clone(), &with(json!({"type": "refresh"}))),
                Err(TokenError::WrongType),
            ),
            (
                "no exp",
                sign(at.clone(), &with(json!({"exp": null}))),
                Err(TokenError::Malformed),
            ),
            (
                "user without sid",
                sign(at.clone(), &with(json!({"sid": null}))),
                Err(TokenError::Malformed),
            ),
            (
                "no typ",
                sign(json!({"alg": "HS256"}), &claims()),
                Err(TokenError::WrongType),
            ),
            (
                "crit",
                sign(json!({"alg": "HS256", "typ": "at+jwt", "crit": ["exp"]}), &claims()),
                Err(TokenError::Malformed),
            ),
        ];
        for (name, token, expected) in cases {
            assert_eq!(check(&token).map(|_| ()), expected, "{name}");
        }
    }
}
