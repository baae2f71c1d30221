//! The seed services' spellings: seed 001's Go-style flags and durations and its `[host]:port`
//! address, a lenient boolean for seed 000's `DEBUG`, and the legacy environment variables
//! accepted as aliases of our settings.
use super::{ConfigError, bad, seconds};
use crate::token::Algorithm;
use chrono::Duration;

/// Legacy names accepted for a setting, in order of preference, with a factor applied to the
/// value (minutes → seconds).
const ALIASES: &[(&str, &str, u64)] = &[
    ("port", "PORT", 1),
    ("data_dir", "CL_SERVER_DIR", 1),
    ("database_url", "DATABASE_URL", 1),
    ("jwt_algorithm", "JWT_ALGORITHM", 1),
    ("jwt_algorithm", "JWT_ALGO", 1),
    ("jwt_secret", "JWT_SECRET", 1),
    ("jwt_secret", "AUTH_JWT_SECRET_KEY", 1),
    ("access_token_ttl", "ACCESS_TOKEN_TTL", 1),
    ("access_token_ttl", "AUTH_JWT_ACCESS_TOKEN_EXPIRE_MINUTES", 60),
    ("access_token_ttl", "ACCESS_TOKEN_EXPIRE_MINUTES", 60),
    ("refresh_token_ttl", "REFRESH_TOKEN_TTL", 1),
    ("admin_username", "ADMIN_USERNAME", 1),
    ("default_username", "DEFAULT_USERNAME", 1),
    ("default_password", "DEFAULT_PASSWORD", 1),
    ("nats_url", "NATS_URL", 1),
    ("debug", "DEBUG", 1),
    ("bcrypt_rounds", "BCRYPT_ROUNDS", 1),
    ("synapse_admin_url", "SYNAPSE_ADMIN_URL", 1),
    ("synapse_registration_secret", "SYNAPSE_REGISTRATION_SECRET", 1),
];

/// Applies the legacy aliases as defaults of a command, so the precedence is: flag, `AUTH_*`
/// variable, alias, built-in default.
pub fn with_aliases(mut command: clap::Command, env: impl Fn(&str) -> Option<String>) -> clap::Command {
    for (arg, var, factor) in ALIASES.iter().rev() {
        let Some(value) = env(var).filter(|v| !v.is_empty()) else {
            continue;
        };
        let value = if *factor == 1 {
            value
        } else {
            match value.trim().parse::<u64>() {
                Ok(n) => (n * factor).to_string(),
                Err(_) => value,
            }
        };
        let value: &'static str = Box::leak(value.into_boxed_str());
        command = command.mut_arg(*arg, |a| a.default_value(value));
    }
    command
}

/// The legacy environment variables accepted as aliases.
pub(super) fn alias_names() -> impl Iterator<Item = &'static str> {
    ALIASES.iter().map(|(_, var, _)| *var)
}

/// Seed 001's Go-style single-dash flags, rewritten to ours before parsing.
const LEGACY_FLAGS: &[&str] = &["-addr", "-session-ttl"];

/// True for 1, true, yes, on (any case); false for anything else, so that a `DEBUG` variable set
/// for another tool never stops start-up.
pub(super) fn lenient_bool(value: &str) -> Result<bool, String> {
    Ok(matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "y"
    ))
}

/// Rewrites seed 001's Go-style flags (`-addr :8080`, `-session-ttl=24h`) to ours.
pub fn legacy_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    args.into_iter()
        .map(|arg| {
            let Some(text) = arg.to_str() else {
                return arg;
            };
            let name = text.split('=').next().unwrap_or(text);
            if LEGACY_FLAGS.contains(&name) {
                format!("-{text}").into()
            } else {
                arg
            }
        })
        .collect()
}

/// The signing algorithm asked for; none asked for and a secret given (seed 000's and 001's
/// deployments set only `JWT_SECRET`) is HS256, and says so (`true`); nothing at all is ES256.
pub(super) fn algorithm(asked: &str, secret: Option<&str>) -> Result<(Algorithm, bool), ConfigError> {
    match (asked.trim(), secret) {
        ("", Some(_)) => Ok((Algorithm::HS256, true)),
        ("", None) => Ok((Algorithm::ES256, false)),
        (asked, _) => asked.parse().map(|a| (a, false)).map_err(|()| {
            bad(format!(
                "unknown AUTH_JWT_ALGORITHM \"{asked}\": expected ES256, EdDSA, RS256 or HS256"
            ))
        }),
    }
}

/// `[host]:port` (Go's `:8080` means every interface).
pub(super) fn parse_addr(addr: &str) -> Result<(String, u16), ConfigError> {
    let bad_addr = || bad(format!("AUTH_ADDR \"{addr}\" is not [host]:port"));
    let (host, port) = addr.trim().rsplit_once(':').ok_or_else(bad_addr)?;
    let port = port.parse::<u16>().map_err(|_| bad_addr())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok((host.to_owned(), port))
}

/// A Go-style duration (`24h`, `1h30m`, `90m`, `3600s`) or a number of seconds.
pub(super) fn parse_duration(name: &str, text: &str) -> Result<Duration, ConfigError> {
    let text = text.trim();
    let invalid = || bad(format!("{name} \"{text}\" is not a duration such as 24h, 90m or 3600s"));
    if let Ok(seconds_only) = text.parse::<u64>() {
        return seconds(name, seconds_only);
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let value: f64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(invalid()),
        };
        total += value * factor;
        rest = &rest[unit..];
    }
    if !total.is_finite() || total < 1.0 {
        return Err(invalid());
    }
    // Whole seconds; the value is at least one and finite.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    seconds(name, total as u64)
}
