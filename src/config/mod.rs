//! Configuration: every setting is an `AUTH_*` environment variable and a flag (clap), with the
//! seed services' legacy names accepted as aliases. `Settings` is what clap parses; `Config` is
//! the validated form the service runs on. Bad configuration is one clear line.
pub use crate::crypto::password::HashSettings;
pub use crate::model::input::PasswordPolicy;
use crate::token::Algorithm;
use chrono::Duration;
use clap::{Args, builder::BoolishValueParser};
use secrecy::SecretString;
use std::path::PathBuf;
pub mod consent;

mod catalogue;
mod default_user;
mod limits;
mod oidc;
mod operators;
mod outbound;
mod sealing;
mod throttle;
pub use catalogue::environment_variables;
pub use default_user::{DefaultUser, DefaultUserSettings};
pub use limits::{LimitSettings, Limits};
pub use oidc::{GLOBAL_PROVIDER, GlobalOidc, OidcConfig, OidcSettings};
pub use operators::{OperatorSettings, WebhookConfig};
pub use outbound::{OutboundSettings, SmtpConfig, SynapseConfig};
pub use sealing::{SealingSettings, master_key};
pub use throttle::{ThrottlePolicy, ThrottleSettings};
mod legacy;
use legacy::{algorithm, lenient_bool, parse_addr, parse_duration};
pub use legacy::{legacy_args, with_aliases};

/// Every setting of the service, as flags and environment variables.
#[derive(Args, Clone)]
pub struct Settings {
    /// Address to listen on
    #[arg(long, env = "AUTH_HOST", default_value = "0.0.0.0", global = true)]
    pub host: String,
    /// Port to listen on (alias PORT); 0 picks a free port
    #[arg(long, env = "AUTH_PORT", default_value_t = 8001, global = true)]
    pub port: u16,
    /// Directory for the SQLite database (alias CL_SERVER_DIR)
    #[arg(long, env = "AUTH_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Database URL, sqlite://... or postgres://... (alias DATABASE_URL)
    #[arg(long, env = "AUTH_DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// `iss` of every token; default http://localhost:<port>
    #[arg(long, env = "AUTH_ISSUER", global = true)]
    pub issuer: Option<String>,
    /// `aud` of access tokens
    #[arg(long, env = "AUTH_AUDIENCE", default_value = "guildhall", global = true)]
    pub audience: String,
    /// ES256 (the default), EdDSA, RS256 or HS256 (aliases JWT_ALGORITHM, JWT_ALGO); HS256 when only a secret is set
    #[arg(
        long,
        env = "AUTH_JWT_ALGORITHM",
        default_value = "",
        hide_default_value = true,
        global = true
    )]
    pub jwt_algorithm: String,
    /// HS256 secret, at least 32 bytes (aliases JWT_SECRET, AUTH_JWT_SECRET_KEY)
    #[arg(long, env = "AUTH_JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// Access token lifetime in seconds (also ACCESS_TOKEN_EXPIRE_MINUTES in minutes)
    #[arg(long, env = "AUTH_ACCESS_TOKEN_TTL", default_value_t = 1800, global = true)]
    pub access_token_ttl: u64,
    /// Refresh token lifetime in seconds (alias REFRESH_TOKEN_TTL)
    #[arg(long, env = "AUTH_REFRESH_TOKEN_TTL", default_value_t = 604_800, global = true)]
    pub refresh_token_ttl: u64,
    /// Absolute maximum lifetime of a session in seconds, however often it is refreshed
    #[arg(long, env = "AUTH_SESSION_MAX_LIFETIME", default_value_t = 2_592_000, global = true)]
    pub session_max_lifetime: u64,
    /// Email of the bootstrap superuser
    #[arg(long, env = "AUTH_ADMIN_EMAIL", default_value = "admin@localhost", global = true)]
    pub admin_email: String,
    /// Username of the bootstrap superuser (alias ADMIN_USERNAME)
    #[arg(long, env = "AUTH_ADMIN_USERNAME", default_value = "admin", global = true)]
    pub admin_username: String,
    /// Password of the bootstrap superuser (alias DEFAULT_PASSWORD); generated and printed once if unset
    #[arg(long, env = "AUTH_ADMIN_PASSWORD", hide_env_values = true, global = true)]
    pub admin_password: Option<String>,
    /// Slug of the organisation created at first start
    #[arg(long, env = "AUTH_DEFAULT_ORG", default_value = "default", global = true)]
    pub default_org: String,
    /// Open self-registration into the default organisation
    #[arg(long, env = "AUTH_ALLOW_REGISTRATION", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub allow_registration: bool,
    /// Accept X-User-Email / X-User-Name instead of a token (development only)
    #[arg(long, env = "AUTH_ALLOW_DEV_HEADERS", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub allow_dev_headers: bool,
    /// production or development
    #[arg(long = "env", env = "AUTH_ENV", default_value = "production", global = true)]
    pub environment: String,
    /// argon2id memory cost in KiB
    #[arg(long, env = "AUTH_ARGON2_MEMORY_KIB", default_value_t = 19_456, global = true)]
    pub argon2_memory_kib: u32,
    /// argon2id iterations
    #[arg(long, env = "AUTH_ARGON2_ITERATIONS", default_value_t = 2, global = true)]
    pub argon2_iterations: u32,
    /// argon2id parallelism
    #[arg(long, env = "AUTH_ARGON2_PARALLELISM", default_value_t = 1, global = true)]
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; default: the number of cores less one (at least one),
    /// so a login flood leaves a core to token validation
    #[arg(long, env = "AUTH_HASH_CONCURRENCY", global = true)]
    pub hash_concurrency: Option<usize>,
    /// Minimum password length in characters
    #[arg(long, env = "AUTH_PASSWORD_MIN_LENGTH", default_value_t = 8, global = true)]
    pub password_min_length: usize,
    /// Reject passwords from the bundled list of common passwords
    #[arg(long, env = "AUTH_PASSWORD_BLOCKLIST", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub password_blocklist: bool,
    /// Size in bytes of an access token's claims past which teams and domains are left out
    #[arg(long, env = "AUTH_CLAIM_BUDGET", default_value_t = 4096, global = true)]
    pub claim_budget: usize,
    /// Comma-separated CORS allow-list of origins
    #[arg(long, env = "AUTH_API_CORS_ORIGINS", global = true)]
    pub api_cors_origins: Option<String>,
    /// NATS URL to publish events to (alias NATS_URL)
    #[arg(long, env = "AUTH_NATS_URL", global = true)]
    pub nats_url: Option<String>,
    /// How long published events stay in the outbox, in seconds
    #[arg(long, env = "AUTH_EVENT_RETENTION", default_value_t = 604_800, global = true)]
    pub event_retention: u64,
    /// Seed document applied at start
    #[arg(long, env = "AUTH_SEED_FILE", global = true)]
    pub seed_file: Option<PathBuf>,
    /// pretty or json; default pretty on a terminal, else json
    #[arg(long, env = "AUTH_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    #[command(flatten)]
    pub oidc: OidcSettings,
    /// Log at debug level (alias DEBUG); RUST_LOG, when set, wins
    #[arg(long, env = "AUTH_DEBUG", default_value = "false", value_parser = lenient_bool, action = clap::ArgAction::Set, global = true)]
    pub debug: bool,
    /// Listen address as [host]:port (seed 001's -addr, e.g. ":8080"); overrides AUTH_HOST and AUTH_PORT
    #[arg(long, env = "AUTH_ADDR", global = true)]
    pub addr: Option<String>,
    /// Session lifetime as a duration such as 24h or 90m (seed 001's -session-ttl); overrides AUTH_SESSION_MAX_LIFETIME
    #[arg(long, env = "AUTH_SESSION_TTL", global = true)]
    pub session_ttl: Option<String>,
    #[command(flatten)]
    pub outbound: OutboundSettings,
    #[command(flatten)]
    pub throttle: ThrottleSettings,
    #[command(flatten)]
    pub limits: LimitSettings,
    #[command(flatten)]
    pub sealing: SealingSettings,
    #[command(flatten)]
    pub consent: consent::ConsentSettings,
    #[command(flatten)]
    pub operators: OperatorSettings,
    #[command(flatten)]
    pub default_user: DefaultUserSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Production,
    Development,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub issuer: String,
    pub audience: String,
    pub algorithm: Algorithm,
    /// HS256 chosen because only a secret was given (said at start).
    pub algorithm_from_secret: bool,
    pub jwt_secret: Option<SecretString>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub session_max_lifetime: Duration,
    pub admin_email: String,
    pub admin_username: String,
    pub admin_password: Option<SecretString>,
    pub default_org: String,
    pub allow_registration: bool,
    pub allow_dev_headers: bool,
    pub environment: Environment,
    pub hashing: HashSettings,
    pub password_policy: PasswordPolicy,
    pub claim_budget: usize,
    pub cors_origins: Vec<String>,
    pub nats_url: Option<String>,
    pub event_retention: Duration,
    pub seed_file: Option<PathBuf>,
    pub log_json: Option<bool>,
    pub oidc: OidcConfig,
    pub debug: bool,
    /// Seed 000's hashing cost: accepted, and ignored (argon2id).
    pub bcrypt_rounds: Option<u32>,
    /// Matrix accounts for seed 000's registrations, when Synapse is configured.
    pub synapse: Option<SynapseConfig>,
    /// Where password-reset mail goes; `None`: logged in development, dropped otherwise.
    pub smtp: Option<SmtpConfig>,
    pub password_reset_ttl: Duration,
    pub password_reset_url: Option<String>,
    /// Brute-force protection on password logins; `None`: off.
    pub login_throttle: Option<ThrottlePolicy>,
    pub limits: Limits,
    /// Seals the secrets stored in the database; `None`: they are stored as they are.
    pub master_key: Option<crate::crypto::seal::MasterKey>,
    pub consent: consent::Consent,
    /// Where `/metrics` is served on its own; `None`: on the API's port.
    pub metrics_addr: Option<(String, u16)>,
    pub webhooks: WebhookConfig,
    /// Seed 001's default user, created at first start (unless it is the superuser).
    pub default_user: Option<DefaultUser>,
}

/// Configuration that cannot run: one line saying what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn bad(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

fn seconds(name: &str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 || value > 10 * 365 * 86_400 {
        return Err(bad(format!(
            "{name} must be between 1 second and 10 years, got {value}"
        )));
    }
    i64::try_from(value)
        .map(Duration::seconds)
        .map_err(|_| bad(format!("{name} is too large")))
}

impl TryFrom<Settings> for Config {
    type Error = ConfigError;

    fn try_from(s: Settings) -> Result<Self, ConfigError> {
        let jwt_secret = s.jwt_secret.filter(|v| !v.is_empty());
        let (algorithm, algorithm_from_secret) = algorithm(&s.jwt_algorithm, jwt_secret.as_deref())?;
        if algorithm == Algorithm::HS256 {
            match &jwt_secret {
                None => {
                    return Err(bad(
                        "AUTH_JWT_ALGORITHM=HS256 needs AUTH_JWT_SECRET (at least 32 bytes)",
                    ));
                }
                Some(secret) if secret.len() < 32 => {
                    return Err(bad(format!(
                        "AUTH_JWT_SECRET is {} bytes; HS256 needs at least 32",
                        secret.len()
                    )));
                }
                Some(_) => {}
            }
        }
        let environment = match s.environment.to_ascii_lowercase().as_str() {
            "production" | "prod" => Environment::Production,
            "development" | "dev" => Environment::Development,
            other => {
                return Err(bad(format!(
                    "unknown AUTH_ENV \"{other}\": expected production or development"
                )));
            }
        };
        if s.allow_dev_headers && environment != Environment::Development {
            return Err(bad(
                "AUTH_ALLOW_DEV_HEADERS=true is refused unless AUTH_ENV=development",
            ));
        }
        if argon2::Params::new(s.argon2_memory_kib, s.argon2_iterations, s.argon2_parallelism, None).is_err() {
            return Err(bad(format!(
                "invalid argon2 parameters: memory {} KiB, iterations {}, parallelism {}",
                s.argon2_memory_kib, s.argon2_iterations, s.argon2_parallelism
            )));
        }
        if !(1..=crate::model::input::MAX_PASSWORD_CHARS).contains(&s.password_min_length) {
            return Err(bad("AUTH_PASSWORD_MIN_LENGTH must be between 1 and 1024"));
        }
        let log_json = match s.log_format.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => None,
            Some("json") => Some(true),
            Some("pretty" | "text") => Some(false),
            Some(other) => {
                return Err(bad(format!(
                    "unknown AUTH_LOG_FORMAT \"{other}\": expected pretty or json"
                )));
            }
        };
        let database_url = match s.database_url.filter(|v| !v.is_empty()) {
            Some(url) => url,
            None => format!("sqlite://{}/guildhall.db?mode=rwc", s.data_dir.display()),
        };
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(bad("AUTH_DATABASE_URL must start with sqlite:// or postgres://"));
        }
        let default_org = s.default_org.trim().to_ascii_lowercase();
        if seed::rules::slug(&default_org).is_err() {
            return Err(bad(format!(
                "AUTH_DEFAULT_ORG \"{}\" is not a valid slug",
                s.default_org
            )));
        }
        let (host, port) = match s.addr.as_deref().filter(|a| !a.trim().is_empty()) {
            Some(addr) => parse_addr(addr)?,
            None => (s.host, s.port),
        };
        let session_max_lifetime = match s.session_ttl.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(ttl) => parse_duration("AUTH_SESSION_TTL", ttl)?,
            None => seconds("AUTH_SESSION_MAX_LIFETIME", s.session_max_lifetime)?,
        };
        let outbound = s.outbound.validate()?;
        let login_throttle = s.throttle.validate()?;
        let limits = s.limits.validate()?;
        let master_key = s.sealing.validate()?;
        let operators = s.operators.validate()?;
        let admin_username = s.admin_username.trim().to_lowercase();
        let (default_user, admin_password) = s.default_user.validate(&admin_username, s.admin_password)?;
        let issuer = s
            .issuer
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| format!("http://localhost:{port}"));
        let oidc = s.oidc.validate(&issuer, port)?;
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
        Ok(Config {
            issuer,
            host,
            port,
            data_dir: s.data_dir,
            database_url,
            audience: s.audience,
            algorithm,
            algorithm_from_secret,
            jwt_secret: jwt_secret.map(SecretString::from),
            access_token_ttl: seconds("AUTH_ACCESS_TOKEN_TTL", s.access_token_ttl)?,
            refresh_token_ttl: seconds("AUTH_REFRESH_TOKEN_TTL", s.refresh_token_ttl)?,
            session_max_lifetime,
            admin_email: s.admin_email.trim().to_lowercase(),
            admin_username,
            admin_password,
            default_org,
            allow_registration: s.allow_registration,
            allow_dev_headers: s.allow_dev_headers,
            environment,
            hashing: HashSettings {
                memory_kib: s.argon2_memory_kib,
                iterations: s.argon2_iterations,
                parallelism: s.argon2_parallelism,
                concurrency: s.hash_concurrency.unwrap_or(cores.saturating_sub(1)).max(1),
                max_wait: limits.hash_max_wait,
            },
            password_policy: PasswordPolicy {
                min_length: s.password_min_length,
                blocklist: s.password_blocklist,
            },
            claim_budget: s.claim_budget,
            cors_origins: s
                .api_cors_origins
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(String::from)
                .collect(),
            nats_url: s.nats_url.filter(|v| !v.is_empty()),
            event_retention: seconds("AUTH_EVENT_RETENTION", s.event_retention)?,
            seed_file: s.seed_file,
            log_json,
            oidc,
            debug: s.debug,
            bcrypt_rounds: outbound.bcrypt_rounds,
            synapse: outbound.synapse,
            smtp: outbound.smtp,
            password_reset_ttl: outbound.password_reset_ttl,
            password_reset_url: outbound.password_reset_url,
            login_throttle,
            limits,
            master_key,
            consent: s.consent.validate()?,
            metrics_addr: operators.metrics_addr,
            webhooks: operators.webhooks,
            default_user,
        })
    }
}

#[cfg(test)]
mod tests;
