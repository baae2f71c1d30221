//! Settings of what guildhall calls out to besides its database: Synapse for seed 000's Matrix
//! accounts, SMTP for seed 004's password-reset mail (and seed 000's ignored bcrypt cost).
use super::{ConfigError, bad, seconds};
use chrono::Duration;
use clap::Args;
use secrecy::SecretString;

#[derive(Args, Clone)]
pub struct OutboundSettings {
    /// Accepted for seed 000's deployments (alias BCRYPT_ROUNDS) and ignored: passwords are hashed with argon2id
    #[arg(long, env = "AUTH_BCRYPT_ROUNDS", global = true)]
    pub bcrypt_rounds: Option<u32>,
    /// Synapse base URL for Matrix accounts on /api/auth/register (alias SYNAPSE_ADMIN_URL)
    #[arg(long, env = "AUTH_SYNAPSE_ADMIN_URL", global = true)]
    pub synapse_admin_url: Option<String>,
    /// Synapse's registration_shared_secret (alias SYNAPSE_REGISTRATION_SECRET)
    #[arg(
        long,
        env = "AUTH_SYNAPSE_REGISTRATION_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub synapse_registration_secret: Option<String>,
    /// SMTP server for password-reset mail: smtp://[user:pass@]host[:port][?tls=required] or smtps://...
    #[arg(long, env = "AUTH_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,
    /// Sender of guildhall's mail
    #[arg(
        long,
        env = "AUTH_SMTP_FROM",
        default_value = "guildhall <noreply@localhost>",
        global = true
    )]
    pub smtp_from: String,
    /// Lifetime of a password-reset token in seconds
    #[arg(long, env = "AUTH_PASSWORD_RESET_TTL", default_value_t = 3600, global = true)]
    pub password_reset_ttl: u64,
    /// Link sent in reset mail; `{token}` is replaced by the token (else `?token=` is appended)
    #[arg(long, env = "AUTH_PASSWORD_RESET_URL", global = true)]
    pub password_reset_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SynapseConfig {
    pub admin_url: String,
    pub registration_secret: SecretString,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub url: SecretString,
    pub from: String,
}

/// Validated outbound settings.
pub struct Outbound {
    pub bcrypt_rounds: Option<u32>,
    pub synapse: Option<SynapseConfig>,
    pub smtp: Option<SmtpConfig>,
    pub password_reset_ttl: Duration,
    pub password_reset_url: Option<String>,
}

impl OutboundSettings {
    pub fn validate(self) -> Result<Outbound, ConfigError> {
        if self.bcrypt_rounds.is_some_and(|r| !(4..=31).contains(&r)) {
            return Err(bad("AUTH_BCRYPT_ROUNDS must be between 4 and 31"));
        }
        let synapse = match (
            self.synapse_admin_url.filter(|v| !v.is_empty()),
            self.synapse_registration_secret.filter(|v| !v.is_empty()),
        ) {
            (Some(url), Some(secret)) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(SynapseConfig {
                    admin_url: url.trim_end_matches('/').to_owned(),
                    registration_secret: SecretString::from(secret),
                })
            }
            (Some(url), Some(_)) => {
                return Err(bad(format!(
                    "SYNAPSE_ADMIN_URL \"{url}\" must start with http:// or https://"
                )));
            }
            (None, None) => None,
            _ => {
                return Err(bad(
                    "SYNAPSE_ADMIN_URL and SYNAPSE_REGISTRATION_SECRET must be set together",
                ));
            }
        };
        let smtp = match self.smtp_url.filter(|v| !v.is_empty()) {
            Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => Some(SmtpConfig {
                url: SecretString::from(url),
                from: self.smtp_from.clone(),
            }),
            Some(_) => return Err(bad("AUTH_SMTP_URL must start with smtp:// or smtps://")),
            None => None,
        };
        if !self.smtp_from.contains('@') {
            return Err(bad(format!("AUTH_SMTP_FROM \"{}\" is not a mailbox", self.smtp_from)));
        }
        Ok(Outbound {
            bcrypt_rounds: self.bcrypt_rounds,
            synapse,
            smtp,
            password_reset_ttl: seconds("AUTH_PASSWORD_RESET_TTL", self.password_reset_ttl)?,
            password_reset_url: self.password_reset_url.filter(|v| !v.is_empty()),
        })
    }
}
