//! Helpers for `bench/run.py`:
//! - `bench argon2`: raw argon2id hashes per second on every core, at the given cost — the
//!   ceiling for login throughput;
//! - `bench verify`: an HTTP handler that does nothing but verify an ES256 access token with the
//!   same library and backend as guildhall — the ceiling for cold `/auth/validate`;
//! - `bench ceiling`: a write path's statements straight on SQLite, in guildhall's transaction
//!   mode and at the same concurrency — the ceiling for refresh and the code exchange.
mod ceiling;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::{Json, Router, extract::State, routing::post};
use clap::{Parser, Subcommand};
use jsonwebtoken::{DecodingKey, Validation, jwk::JwkSet};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// argon2id hashes per second on every core
    Argon2 {
        #[arg(long, default_value_t = 19_456)]
        memory_kib: u32,
        #[arg(long, default_value_t = 2)]
        iterations: u32,
        #[arg(long, default_value_t = 1)]
        parallelism: u32,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Hashing threads; default: every core
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Mint COUNT distinct access tokens like TEMPLATE (a new jti each), signed with the stored
    /// ES256 key (base64 PKCS#8) or an HS256 secret: a pool larger than any run, for cold validation
    Mint {
        #[arg(long)]
        template: String,
        #[arg(long)]
        count: usize,
        /// The first jti's number (a second pool from START = the first's count shares no token)
        #[arg(long, default_value_t = 0)]
        start: usize,
        #[arg(long)]
        kid: String,
        /// ES256 private key, base64 PKCS#8 as guildhall stores it
        #[arg(long)]
        pkcs8: Option<String>,
        /// HS256 secret
        #[arg(long)]
        secret: Option<String>,
        /// A file of `user-id org-id` lines: token N is for line N (cycling), its `sub` and
        /// `org.id` replaced, so COUNT tokens load as many users' contexts
        #[arg(long)]
        subjects: Option<std::path::PathBuf>,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Serve POST /validate that only verifies the token's ES256 signature and claims
    Verify {
        #[arg(long)]
        port: u16,
        /// A JWKS document (file)
        #[arg(long)]
        jwks: std::path::PathBuf,
        #[arg(long)]
        issuer: String,
        #[arg(long, default_value = "guildhall")]
        audience: String,
    },
    /// Run a write path's statements (bench/src/ceiling/statements.rs) on a seeded guildhall SQLite
    /// database from CONNECTIONS concurrent chains; prints req/s, p50 and p99 as JSON
    Ceiling {
        /// guildhall.db
        #[arg(long)]
        database: std::path::PathBuf,
        #[arg(long, value_enum)]
        path: ceiling::Path,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        #[arg(long, default_value_t = 8.0)]
        seconds: f64,
        /// The application whose codes are exchanged (--path code)
        #[arg(long)]
        client_id: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    match Cli::parse().command {
        Command::Argon2 {
            memory_kib,
            iterations,
            parallelism,
            seconds,
            threads,
        } => argon2_rate(memory_kib, iterations, parallelism, seconds, threads),
        Command::Mint {
            template,
            count,
            start,
            kid,
            pkcs8,
            secret,
            subjects,
            out,
        } => mint(&template, start..start + count, kid, pkcs8, secret, subjects, &out),

        Command::Verify {
            port,
            jwks,
            issuer,
            audience,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(verify(port, jwks, issuer, audience)),
        Command::Ceiling {
            database,
            path,
            connections,
            seconds,
            client_id,
        } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(ceiling::run(&database, path, connections, seconds, client_id)),
    }
}

fn argon2_rate(
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    seconds: u64,
    threads: Option<usize>,
) -> anyhow::Result<()> {
    let params = Params::new(memory_kib, iterations, parallelism, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map(usize::from).unwrap_or(2));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let params = params.clone();
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                let mut done = 0;
                while Instant::now() < deadline {
                    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
                    argon
                        .hash_password(b"benchmark password", &salt)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    done += 1;
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker
            .join()
            .map_err(|_| anyhow::anyhow!("a hashing thread panicked"))??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"hashes_per_second": rate, "threads": threads, "memory_kib": memory_kib, "iterations": iterations})
    );
    Ok(())
}

fn mint(
    template: &str,
    jtis: std::ops::Range<usize>,
    kid: String,
    pkcs8: Option<String>,
    secret: Option<String>,
    subjects: Option<std::path::PathBuf>,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    use base64::Engine;
    use std::io::Write;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = template.split('.').nth(1).ok_or_else(|| anyhow::anyhow!("not a JWT"))?;
    let mut claims: Value = serde_json::from_slice(&engine.decode(payload)?)?;
    let (key, alg) = match (pkcs8, secret) {
        (Some(der), _) => (
            jsonwebtoken::EncodingKey::from_ec_der(&base64::engine::general_purpose::STANDARD.decode(der)?),
            jsonwebtoken::Algorithm::ES256,
        ),
        (None, Some(secret)) => (
            jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            jsonwebtoken::Algorithm::HS256,
        ),
        (None, None) => anyhow::bail!("--pkcs8 or --secret"),
    };
    let mut header = jsonwebtoken::Header::new(alg);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid);
    let subjects: Vec<(String, String)> = match subjects {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(user, org)| (user.to_owned(), org.to_owned()))
            .collect(),
        None => Vec::new(),
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for (n, i) in jtis.enumerate() {
        claims["jti"] = json!(format!("00000000-0000-4000-8000-{i:012x}"));
        if let Some((user, org)) = subjects.get(n % subjects.len().max(1)) {
            claims["sub"] = json!(user);
            claims["org"]["id"] = json!(org);
        }
        writeln!(file, "{}", jsonwebtoken::encode(&header, &claims, &key)?)?;
    }
    Ok(())
}

struct Keys {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

async fn verify(port: u16, jwks: std::path::PathBuf, issuer: String, audience: String) -> anyhow::Result<()> {
    let set: JwkSet = serde_json::from_str(&std::fs::read_to_string(jwks)?)?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        if let Some(kid) = &jwk.common.key_id {
            keys.insert(kid.clone(), DecodingKey::from_jwk(jwk)?);
        }
    }
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    let state = Arc::new(Keys { keys, validation });
    let app = Router::new().route("/validate", post(handle)).with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn handle(State(keys): State<Arc<Keys>>, Json(body): Json<Value>) -> Json<Value> {
    let token = body["token"].as_str().unwrap_or_default();
    let valid = jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|h| h.kid)
        .and_then(|kid| keys.keys.get(&kid))
        .is_some_and(|key| jsonwebtoken::decode::<Value>(token, key, &keys.validation).is_ok());
    Json(json!({"valid": valid}))
}
