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
    /// A service account's token (no session).
    pub service: bool,
    /// Minted for a resource an application named (RFC 8707): `aud` is that resource, not the
    /// configured audience. Only tokens issued to a client (`client_id`) can be; guildhall's own
    /// API refuses them (`Authenticator::principal`), userinfo and introspection accept them.
    pub resource: bool,
    /// How the user authenticated (`amr`); empty on tokens without it.
    pub methods: crate::model::AuthMethods,
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
    #[serde(default, borrow)]
    amr: Option<Vec<Cow<'a, str>>>,
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
        let resource = claims.aud != self.audience;
        if resource && claims.client_id.is_none() {
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
            service: claims.sid.is_none(),
            resource,
            methods: crate::model::AuthMethods::from_names(claims.amr.iter().flatten().map(|m| m.as_ref())),
        })
    }
}

#[cfg(test)]
mod tests;
