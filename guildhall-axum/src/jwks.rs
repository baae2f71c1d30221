//! Parsing a JWKS into verification keys. The key decides the algorithm: a JWK's `alg` (or,
//! without one, its `kty`/`crv`) fixes what a token signed with its `kid` must declare.
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The algorithms guildhall signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    Es256,
    EdDsa,
    Rs256,
    Hs256,
}

impl Alg {
    /// A JOSE `alg` name; `None` for anything else (`none`, `HS512`, `PS256`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            "RS256" => Some(Self::Rs256),
            "HS256" => Some(Self::Hs256),
            _ => None,
        }
    }

    pub fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::Hs256 => jsonwebtoken::Algorithm::HS256,
        }
    }
}

/// A verification key and the one algorithm it verifies.
pub(crate) struct Key {
    pub alg: Alg,
    pub decoding: DecodingKey,
}

#[derive(Deserialize)]
struct Set {
    keys: Vec<Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    #[serde(rename = "use")]
    key_use: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The usable keys of a JWKS by kid. Keys without a kid, not for signatures, symmetric, of
/// other algorithms or unreadable are skipped (and logged), so one odd key does not hide the rest.
pub(crate) fn parse(set: Value) -> Result<HashMap<String, Arc<Key>>, String> {
    let set: Set = serde_json::from_value(set).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in set.keys {
        match serde_json::from_value::<Jwk>(jwk) {
            Ok(jwk) => match key(&jwk) {
                Ok(key) => {
                    if let Some(kid) = jwk.kid {
                        keys.insert(kid, Arc::new(key));
                    }
                }
                Err(why) => tracing::debug!(kid = ?jwk.kid, why, "skipped a JWK"),
            },
            Err(e) => tracing::debug!(error = %e, "skipped a JWK"),
        }
    }
    Ok(keys)
}

fn key(jwk: &Jwk) -> Result<Key, &'static str> {
    if jwk.kid.is_none() {
        return Err("no kid");
    }
    if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
        return Err("not a signing key");
    }
    let inferred = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("EC", Some("P-256")) => Alg::Es256,
        ("OKP", Some("Ed25519")) => Alg::EdDsa,
        ("RSA", _) => Alg::Rs256,
        _ => return Err("unsupported key type"),
    };
    if let Some(declared) = &jwk.alg
        && Alg::from_name(declared) != Some(inferred)
    {
        return Err("alg does not match the key type");
    }
    let decoding = match inferred {
        Alg::Es256 => DecodingKey::from_ec_components(component(&jwk.x)?, component(&jwk.y)?),
        Alg::EdDsa => DecodingKey::from_ed_components(component(&jwk.x)?),
        Alg::Rs256 => DecodingKey::from_rsa_components(component(&jwk.n)?, component(&jwk.e)?),
        Alg::Hs256 => return Err("symmetric keys are never published"),
    }
    .map_err(|_| "a key component is not base64url")?;
    Ok(Key {
        alg: inferred,
        decoding,
    })
}

fn component(part: &Option<String>) -> Result<&str, &'static str> {
    part.as_deref().ok_or("a key component is missing")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_usable_keys_and_skips_the_rest() {
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        let set = json!({"keys": [
            {"kid": "ec", "kty": "EC", "crv": "P-256", "x": x, "y": y, "alg": "ES256", "use": "sig"},
            {"kid": "ed", "kty": "OKP", "crv": "Ed25519", "x": x},
            {"kid": "rsa", "kty": "RSA", "n": x, "e": "AQAB", "alg": "RS256"},
            {"kid": "liar", "kty": "EC", "crv": "P-256", "x": x, "y": y, "alg": "HS256"},
            {"kid": "p384", "kty": "EC", "crv": "P-384", "x": x, "y": y},
            {"kid": "oct", "kty": "oct", "k": "c2VjcmV0"},
            {"kid": "enc", "kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "enc"},
            {"kty": "EC", "crv": "P-256", "x": x, "y": y},
            {"kid": "partial", "kty": "EC", "crv": "P-256", "x": x},
            "not an object"
        ]});
        let keys = parse(set).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["ec", "ed", "rsa"]);
        assert_eq!(keys["ec"].alg, Alg::Es256);
        assert_eq!(keys["ed"].alg, Alg::EdDsa);
        assert_eq!(keys["rsa"].alg, Alg::Rs256);
        assert!(parse(json!({"nope": []})).is_err());
    }
}
