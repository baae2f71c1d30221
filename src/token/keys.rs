//! Signing keys: generation (aws-lc-rs), loading from their stored PKCS#8 form, the published
//! JWKS and PEM, and the key ring the signer and verifier read.
use super::Algorithm;
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A key as stored: PKCS#8 private key, base64.
#[derive(Clone)]
pub struct KeyMaterial {
    pub kid: String,
    pub algorithm: Algorithm,
    pub private_key: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("stored key {0} cannot be read")]
    Corrupt(String),
    #[error("HS256 keys are not generated")]
    Symmetric,
}

impl KeyMaterial {
    /// A new key pair for `algorithm`, with a random kid.
    pub fn generate(algorithm: Algorithm, now: DateTime<Utc>) -> Result<Self, KeyError> {
        let pkcs8 = match algorithm {
            Algorithm::ES256 => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| KeyError::Generate)?
                    .as_ref()
                    .to_vec()
            }
            Algorithm::EdDSA => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|_| KeyError::Generate)?
                    .as_ref()
                    .to_vec()
            }
            Algorithm::RS256 => {
                let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = pair.as_der().map_err(|_| KeyError::Generate)?;
                der.as_ref().to_vec()
            }
            Algorithm::HS256 => return Err(KeyError::Symmetric),
        };
        let mut id = [0u8; 12];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| KeyError::Generate)?;
        Ok(Self {
            kid: format!(
                "{}-{}",
                algorithm.as_str().to_ascii_lowercase(),
                URL_SAFE_NO_PAD.encode(id)
            ),
            algorithm,
            private_key: STANDARD.encode(pkcs8),
            created_at: now,
            retired_at: None,
        })
    }
}

/// A usable key: signs, verifies, and (if asymmetric) publishes itself.
pub struct Key {
    pub kid: String,
    pub algorithm: Algorithm,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// The public JWK; `None` for HS256.
    pub jwk: Option<Value>,
    /// SubjectPublicKeyInfo PEM; `None` for HS256.
    pub pem: Option<String>,
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl Key {
    pub fn from_material(m: &KeyMaterial) -> Result<Self, KeyError> {
        let corrupt = || KeyError::Corrupt(m.kid.clone());
        let pkcs8 = STANDARD.decode(&m.private_key).map_err(|_| corrupt())?;
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (encoding, decoding, jwk, spki) = match m.algorithm {
            Algorithm::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).map_err(|_| corrupt())?;
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(corrupt());
                }
                let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
                let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|_| corrupt())?;
                let spki: PublicKeyX509Der<'_> = pair.public_key().as_der().map_err(|_| corrupt())?;
                let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y});
                (EncodingKey::from_ec_der(&pkcs8), decoding, jwk, spki.as_ref().to_vec())
            }
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| corrupt())?;
                let x = b64(pair.public_key().as_ref());
                let decoding = DecodingKey::from_ed_components(&x).map_err(|_| corrupt())?;
                let spki: PublicKeyX509Der<'_> = pair.public_key().as_der().map_err(|_| corrupt())?;
                let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x});
                (EncodingKey::from_ed_der(&pkcs8), decoding, jwk, spki.as_ref().to_vec())
            }
            Algorithm::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| corrupt())?;
                let public = pair.public_key();
                let n = public.modulus().big_endian_without_leading_zero().to_vec();
                let e = public.exponent().big_endian_without_leading_zero().to_vec();
                let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
                let spki: PublicKeyX509Der<'_> = public.as_der().map_err(|_| corrupt())?;
                // jsonwebtoken signs RSA with PKCS#1; its PEM reader unwraps our PKCS#8.
                let encoding =
                    EncodingKey::from_rsa_pem(pem("PRIVATE KEY", &pkcs8).as_bytes()).map_err(|_| corrupt())?;
                let jwk = json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)});
                (encoding, decoding, jwk, spki.as_ref().to_vec())
            }
            Algorithm::HS256 => return Err(KeyError::Symmetric),
        };
        let mut jwk = jwk;
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), m.kid.clone().into());
            map.insert("use".into(), "sig".into());
            map.insert("alg".into(), m.algorithm.as_str().into());
        }
        Ok(Self {
            kid: m.kid.clone(),
            algorithm: m.algorithm,
            encoding,
            decoding,
            jwk: Some(jwk),
            pem: Some(pem("PUBLIC KEY", &spki)),
        })
    }

    /// The HS256 key of a shared secret; its kid is derived from the secret, never the secret.
    pub fn hmac(secret: &[u8]) -> Self {
        let digest = crate::crypto::token_digest(&URL_SAFE_NO_PAD.encode(secret));
        Self {
            kid: format!("hs256-{}", &digest[..12]),
            algorithm: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            jwk: None,
            pem: None,
        }
    }
}

/// The keys in force: one signs, all verify, the asymmetric ones are published.
pub struct KeyRing {
    signing: Arc<Key>,
    /// Signs ID tokens (RS256); the access-token key when none is set.
    id_tokens: Option<Arc<Key>>,
    verifying: HashMap<String, Arc<Key>>,
    jwks: Value,
}

impl KeyRing {
    /// `signing` must be one of `keys` or is added to them.
    pub fn new(signing: Arc<Key>, keys: Vec<Arc<Key>>) -> Self {
        let mut verifying: HashMap<String, Arc<Key>> = keys.into_iter().map(|k| (k.kid.clone(), k)).collect();
        verifying.insert(signing.kid.clone(), Arc::clone(&signing));
        let mut published: Vec<&Arc<Key>> = verifying.values().filter(|k| k.jwk.is_some()).collect();
        published.sort_by(|a, b| a.kid.cmp(&b.kid));
        let jwks = json!({ "keys": published.iter().filter_map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        Self {
            signing,
            id_tokens: None,
            verifying,
            jwks,
        }
    }

    /// The key ID tokens are signed with (one of the ring's keys).
    pub fn with_id_token_key(mut self, key: Arc<Key>) -> Self {
        self.id_tokens = Some(key);
        self
    }

    pub fn signing(&self) -> &Arc<Key> {
        &self.signing
    }

    /// The RS256 key of ID tokens (or the access-token key if no RS256 key is kept).
    pub fn id_token_key(&self) -> &Arc<Key> {
        self.id_tokens.as_ref().unwrap_or(&self.signing)
    }

    pub fn get(&self, kid: &str) -> Option<&Arc<Key>> {
        self.verifying.get(kid)
    }

    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

/// The current key ring, swapped whole when keys are rotated.
pub struct KeyStore(RwLock<Arc<KeyRing>>);

impl KeyStore {
    pub fn new(ring: KeyRing) -> Self {
        Self(RwLock::new(Arc::new(ring)))
    }

    pub fn current(&self) -> Arc<KeyRing> {
        Arc::clone(&self.0.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn replace(&self, ring: KeyRing) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, SystemClock};

    #[test]
    fn every_algorithm_round_trips_through_storage_and_publishes_a_jwk() {
        super::super::install_crypto_provider();
        for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
            let material = KeyMaterial::generate(alg, SystemClock.now()).unwrap();
            let key = Key::from_material(&material).unwrap();
            let jwk = key.jwk.as_ref().unwrap();
            assert_eq!(jwk["kid"], material.kid.as_str());
            assert_eq!(jwk["alg"], alg.as_str());
            assert!(key.pem.as_ref().unwrap().starts_with("-----BEGIN PUBLIC KEY-----\n"));
            let header = jsonwebtoken::Header::new(alg.jwt());
            let token = jsonwebtoken::encode(
                &header,
                &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}),
                &key.encoding,
            )
            .unwrap();
            let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
            let from_jwk = DecodingKey::from_jwk(&parsed).unwrap();
            let mut validation = jsonwebtoken::Validation::new(alg.jwt());
            validation.required_spec_claims.clear();
            jsonwebtoken::decode::<serde_json::Value>(&token, &from_jwk, &validation).unwrap();
            jsonwebtoken::decode::<serde_json::Value>(&token, &key.decoding, &validation).unwrap();
            let from_pem = match alg {
                Algorithm::ES256 => DecodingKey::from_ec_pem(key.pem.as_ref().unwrap().as_bytes()),
                Algorithm::EdDSA => DecodingKey::from_ed_pem(key.pem.as_ref().unwrap().as_bytes()),
                _ => DecodingKey::from_rsa_pem(key.pem.as_ref().unwrap().as_bytes()),
            }
            .unwrap();
            jsonwebtoken::decode::<serde_json::Value>(&token, &from_pem, &validation).unwrap();
        }
    }
}
