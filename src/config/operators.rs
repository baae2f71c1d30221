//! What operators run guildhall with besides its API: where Prometheus scrapes the metrics
//! (`AUTH_METRICS_ADDR`), and how webhooks are delivered (`AUTH_WEBHOOK_*`).
use super::{ConfigError, bad, legacy::parse_addr, seconds};
use chrono::Duration;
use clap::{Args, builder::BoolishValueParser};

#[derive(Args, Clone)]
pub struct OperatorSettings {
    /// Serve GET /metrics on this [host]:port only (e.g. 127.0.0.1:9100) instead of on the API's port
    #[arg(long, env = "AUTH_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<String>,
    /// Allow webhook destinations in private, loopback and link-local ranges (tests, labs)
    #[arg(long, env = "AUTH_WEBHOOK_ALLOW_PRIVATE", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub webhook_allow_private: bool,
    /// Milliseconds a webhook receiver has to answer before the attempt counts as failed
    #[arg(long, env = "AUTH_WEBHOOK_TIMEOUT_MS", default_value_t = 5000, global = true)]
    pub webhook_timeout_ms: u64,
    /// Seconds before the first retry of a failed delivery; each further retry waits twice as long, at most an hour
    #[arg(long, env = "AUTH_WEBHOOK_RETRY_BASE", default_value_t = 10, global = true)]
    pub webhook_retry_base: u64,
    /// Seconds a delivery is retried for; a webhook failing for this long is disabled
    #[arg(long, env = "AUTH_WEBHOOK_RETRY_WINDOW", default_value_t = 86_400, global = true)]
    pub webhook_retry_window: u64,
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Copy)]
pub struct WebhookConfig {
    pub allow_private: bool,
    pub timeout: std::time::Duration,
    pub retry_base: Duration,
    pub retry_window: Duration,
}

/// Validated operator settings.
pub struct Operators {
    pub metrics_addr: Option<(String, u16)>,
    pub webhooks: WebhookConfig,
}

impl OperatorSettings {
    pub fn validate(&self) -> Result<Operators, ConfigError> {
        let metrics_addr = match self.metrics_addr.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(addr) => {
                Some(parse_addr(addr).map_err(|_| bad(format!("AUTH_METRICS_ADDR \"{addr}\" is not [host]:port")))?)
            }
            None => None,
        };
        if !(100..=60_000).contains(&self.webhook_timeout_ms) {
            return Err(bad("AUTH_WEBHOOK_TIMEOUT_MS must be between 100 and 60000"));
        }
        let retry_base = seconds("AUTH_WEBHOOK_RETRY_BASE", self.webhook_retry_base)?;
        let retry_window = seconds("AUTH_WEBHOOK_RETRY_WINDOW", self.webhook_retry_window)?;
        if retry_base > retry_window {
            return Err(bad("AUTH_WEBHOOK_RETRY_BASE must not exceed AUTH_WEBHOOK_RETRY_WINDOW"));
        }
        Ok(Operators {
            metrics_addr,
            webhooks: WebhookConfig {
                allow_private: self.webhook_allow_private,
                timeout: std::time::Duration::from_millis(self.webhook_timeout_ms),
                retry_base,
                retry_window,
            },
        })
    }
}
