//! ES256 and EdDSA verification with each of `jsonwebtoken`'s crypto backends (aws-lc-rs and
//! RustCrypto): single-thread verifications per second, each verification as
//! `jsonwebtoken::decode` does it (a verifier from the provider's factory, then `verify`), on a
//! token the size of guildhall's access tokens. Prints a Markdown table.
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, Ed25519KeyPair, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::{CryptoProvider, aws_lc, rust_crypto};
use jsonwebtoken::signature::Verifier as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::time::{Duration, Instant};

const SECONDS: f64 = 3.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rng = SystemRandom::new();
    let ec = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)?;
    let ec_public = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, ec.as_ref())?
        .public_key()
        .as_ref()
        .to_vec();
    let ed = Ed25519KeyPair::generate_pkcs8(&rng)?;
    let ed_public = Ed25519KeyPair::from_pkcs8(ed.as_ref())?.public_key().as_ref().to_vec();
    let keys = [
        (
            Algorithm::ES256,
            EncodingKey::from_ec_der(ec.as_ref()),
            DecodingKey::from_ec_components(
                &URL_SAFE_NO_PAD.encode(&ec_public[1..33]),
                &URL_SAFE_NO_PAD.encode(&ec_public[33..]),
            )?,
        ),
        (
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(ed.as_ref()),
            DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(&ed_public))?,
        ),
    ];
    // header.payload of about the size of guildhall's access tokens (~700 bytes).
    let payload = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"iss":"https://id.example.com","aud":"guildhall","sub":"01a20828-5a64-717a-8c52-a25c4eabefb7","roles":["member"],"teams":[{}]}}"#,
        (0..5)
            .map(|i| format!(r#"{{"id":"01a20828-52b6-7727-95f5-e5e3be83e2d{i}","slug":"team-{i}","role":"member"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    ));
    let providers: [(&str, &CryptoProvider); 2] =
        [("aws_lc_rs", &aws_lc::DEFAULT_PROVIDER), ("rust_crypto", &rust_crypto::DEFAULT_PROVIDER)];

    println!("| algorithm | backend | verifications/s (1 thread) | µs each |");
    println!("| --- | --- | ---: | ---: |");
    for (alg, encoding, decoding) in &keys {
        let message = format!("eyJhbGciOiJ{alg:?}In0.{payload}");
        let signature = (aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, encoding)?.try_sign(message.as_bytes())?;
        for (name, provider) in providers {
            let verify = || -> Result<(), Box<dyn std::error::Error>> {
                (provider.verifier_factory)(alg, decoding)?.verify(message.as_bytes(), &signature)?;
                Ok(())
            };
            verify()?; // both backends accept the other's signature
            let mut tampered = signature.clone();
            tampered[10] ^= 1;
            assert!((provider.verifier_factory)(alg, decoding)?.verify(message.as_bytes(), &tampered).is_err());
            let started = Instant::now();
            let mut done = 0u64;
            while started.elapsed() < Duration::from_secs_f64(SECONDS) {
                for _ in 0..100 {
                    verify()?;
                }
                done += 100;
            }
            let rate = done as f64 / started.elapsed().as_secs_f64();
            println!("| {alg:?} | {name} | {rate:.0} | {:.1} |", 1e6 / rate);
        }
    }
    Ok(())
}
