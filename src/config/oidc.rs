//! Settings of external login: the global provider (`AUTH_OIDC_*`, seed 003's enterprise mode),
//! where browsers reach guildhall, and which frontend addresses may receive a login's result.
use super::{ConfigError, bad};
use clap::{Args, builder::BoolishValueParser};
use secrecy::SecretString;

/// The slug of the provider configured by `AUTH_OIDC_*`; organisations' providers cannot take it.
pub const GLOBAL_PROVIDER: &str = "default";

#[derive(Args, Clone, Default)]
pub struct OidcSettings {
    /// Issuer of the global OpenID Connect provider (enables /auth/oidc/default/* and accepting its tokens)
    #[arg(long, env = "AUTH_OIDC_ISSUER", global = true)]
    pub oidc_issuer: Option<String>,
    /// Client id of guildhall at the global provider
    #[arg(long, env = "AUTH_OIDC_CLIENT_ID", global = true)]
    pub oidc_client_id: Option<String>,
    /// Client secret of guildhall at the global provider
    #[arg(long, env = "AUTH_OIDC_CLIENT_SECRET", hide_env_values = true, global = true)]
    pub oidc_client_secret: Option<String>,
    /// Audience the global provider's tokens must carry (default: the client id)
    #[arg(long, env = "AUTH_OIDC_AUDIENCE", global = true)]
    pub oidc_audience: Option<String>,
    /// JWKS of the global provider (default: from its discovery document)
    #[arg(long, env = "AUTH_OIDC_JWKS_URL", global = true)]
    pub oidc_jwks_url: Option<String>,
    /// Create accounts for the global provider's unknown users on first sight
    #[arg(long, env = "AUTH_OIDC_JIT", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub oidc_jit: bool,
    /// Link the global provider's users to existing accounts by verified email
    #[arg(long, env = "AUTH_OIDC_LINK_BY_EMAIL", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub oidc_link_by_email: bool,
    /// Comma-separated frontend addresses an external login may return to (exact match)
    #[arg(long, env = "AUTH_OIDC_REDIRECT_URIS", global = true)]
    pub oidc_redirect_uris: Option<String>,
    /// Address browsers reach guildhall at, for providers' callbacks (default: AUTH_ISSUER)
    #[arg(long, env = "AUTH_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
}

/// The global provider.
#[derive(Debug, Clone)]
pub struct GlobalOidc {
    pub issuer: String,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub audience: String,
    pub jwks_url: Option<String>,
    pub jit: bool,
    pub link_by_email: bool,
}

/// Validated external-login settings.
#[derive(Debug, Clone, Default)]
pub struct OidcConfig {
    pub global: Option<GlobalOidc>,
    pub redirect_uris: Vec<String>,
    /// No trailing slash.
    pub public_url: String,
}

fn http_url(name: &str, value: &str) -> Result<String, ConfigError> {
    let ok = (value.starts_with("https://") || value.starts_with("http://")) && !value.contains(char::is_whitespace);
    if ok {
        Ok(value.to_owned())
    } else {
        Err(bad(format!("{name} must be an http(s) URL, got \"{value}\"")))
    }
}

fn present(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl OidcSettings {
    /// `issuer`: our `AUTH_ISSUER`, the default public address when it is a URL (seed 000 uses a
    /// bare name such as `daarion-auth`; then `http://localhost:<port>`).
    pub fn validate(self, issuer: &str, port: u16) -> Result<OidcConfig, ConfigError> {
        let public_url = match present(self.public_url) {
            Some(url) => url,
            None if issuer.starts_with("http://") || issuer.starts_with("https://") => issuer.to_owned(),
            None => format!("http://localhost:{port}"),
        };
        let public_url = http_url("AUTH_PUBLIC_URL", public_url.trim_end_matches('/'))?;
        let mut redirect_uris = Vec::new();
        for uri in self.oidc_redirect_uris.unwrap_or_default().split(',').map(str::trim) {
            if !uri.is_empty() {
                redirect_uris.push(http_url("AUTH_OIDC_REDIRECT_URIS", uri)?);
            }
        }
        let global = match present(self.oidc_issuer) {
            None => None,
            Some(issuer) => {
                let issuer = http_url("AUTH_OIDC_ISSUER", &issuer)?;
                let client_id = present(self.oidc_client_id);
                let audience = present(self.oidc_audience)
                    .or_else(|| client_id.clone())
                    .ok_or_else(|| bad("AUTH_OIDC_ISSUER needs AUTH_OIDC_AUDIENCE or AUTH_OIDC_CLIENT_ID"))?;
                let jwks_url = match present(self.oidc_jwks_url) {
                    Some(url) => Some(http_url("AUTH_OIDC_JWKS_URL", &url)?),
                    None => None,
                };
                Some(GlobalOidc {
                    issuer,
                    client_id,
                    client_secret: present(self.oidc_client_secret).map(SecretString::from),
                    audience,
                    jwks_url,
                    jit: self.oidc_jit,
                    link_by_email: self.oidc_link_by_email,
                })
            }
        };
        Ok(OidcConfig {
            global,
            redirect_uris,
            public_url,
        })
    }
}
