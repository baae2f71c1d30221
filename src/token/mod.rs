//! Access tokens: the algorithm choice, keys (generation, JWKS, PEM), claims and the one
//! verifier every authenticated route uses.
pub mod claims;
pub mod id_token;
pub mod issuer;
pub mod keys;
pub mod verify;

pub use claims::{AccessClaims, Additions, OrgClaim, TeamClaim};
pub use issuer::{AccessToken, Issuer};
pub use keys::{Key, KeyMaterial, KeyRing, KeyStore};
pub use verify::{Verifier, VerifyError};

use std::fmt;
use std::str::FromStr;

/// Signing algorithms guildhall issues tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    ES256,
    EdDSA,
    RS256,
    HS256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
            Self::HS256 => "HS256",
        }
    }

    pub fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::HS256 => jsonwebtoken::Algorithm::HS256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_uppercase().as_str() {
            "ES256" => Ok(Self::ES256),
            "EDDSA" | "ED25519" => Ok(Self::EdDSA),
            "RS256" => Ok(Self::RS256),
            "HS256" => Ok(Self::HS256),
            _ => Err(()),
        }
    }
}

/// Makes aws-lc-rs jsonwebtoken's crypto provider (idempotent).
pub fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}
