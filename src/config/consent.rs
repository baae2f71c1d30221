//! Settings of membership by consent: email verification, invitations, and the DNS resolver that
//! checks an organisation's email-domain TXT records.
use super::{ConfigError, bad, seconds};
use chrono::Duration;
use clap::{Args, builder::BoolishValueParser};
use std::net::SocketAddr;

#[derive(Args, Clone)]
pub struct ConsentSettings {
    /// Refuse password logins of accounts whose email is not verified (403 email_not_verified)
    #[arg(long, env = "AUTH_REQUIRE_EMAIL_VERIFICATION", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, global = true)]
    pub require_email_verification: bool,
    /// Link sent in verification mail; `{token}` is replaced by the token (else `?token=` is appended)
    #[arg(long, env = "AUTH_EMAIL_VERIFY_URL", global = true)]
    pub email_verify_url: Option<String>,
    /// Lifetime of an email-verification token in seconds
    #[arg(long, env = "AUTH_EMAIL_VERIFICATION_TTL", default_value_t = 86_400, global = true)]
    pub email_verification_ttl: u64,
    /// Link sent in invitation mail; `{token}` is replaced by the token (else `?token=` is appended)
    #[arg(long, env = "AUTH_INVITATION_URL", global = true)]
    pub invitation_url: Option<String>,
    /// Default lifetime of an invitation in seconds (an invitation's `expires_in` overrides it)
    #[arg(long, env = "AUTH_INVITATION_TTL", default_value_t = 604_800, global = true)]
    pub invitation_ttl: u64,
    /// DNS server for email-domain TXT checks, ip[:port] (default port 53); default: the system's resolvers
    #[arg(long, env = "AUTH_DNS_RESOLVER", global = true)]
    pub dns_resolver: Option<String>,
}

/// Validated consent settings.
#[derive(Debug, Clone)]
pub struct Consent {
    pub require_email_verification: bool,
    pub email_verify_url: Option<String>,
    pub email_verification_ttl: Duration,
    pub invitation_url: Option<String>,
    pub invitation_ttl: Duration,
    /// `None`: the system's resolvers (`/etc/resolv.conf`).
    pub dns_resolver: Option<SocketAddr>,
}

/// An `ip[:port]` (IPv6 as `[::1]:53`), port 53 by default.
fn resolver(raw: &str) -> Result<SocketAddr, ConfigError> {
    let raw = raw.trim();
    raw.parse::<SocketAddr>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| {
            bad(format!(
                "AUTH_DNS_RESOLVER \"{raw}\" is not an ip[:port] such as 127.0.0.1:53"
            ))
        })
}

impl ConsentSettings {
    pub fn validate(self) -> Result<Consent, ConfigError> {
        let invitation_ttl = seconds("AUTH_INVITATION_TTL", self.invitation_ttl)?;
        if invitation_ttl > Duration::days(30) || invitation_ttl < Duration::hours(1) {
            return Err(bad("AUTH_INVITATION_TTL must be between 3600 seconds and 30 days"));
        }
        Ok(Consent {
            require_email_verification: self.require_email_verification,
            email_verify_url: self.email_verify_url.filter(|v| !v.is_empty()),
            email_verification_ttl: seconds("AUTH_EMAIL_VERIFICATION_TTL", self.email_verification_ttl)?,
            invitation_url: self.invitation_url.filter(|v| !v.is_empty()),
            invitation_ttl,
            dns_resolver: self
                .dns_resolver
                .as_deref()
                .filter(|v| !v.trim().is_empty())
                .map(resolver)
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_are_ip_and_port() {
        assert_eq!(resolver("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(resolver("10.0.0.2").unwrap().port(), 53);
        assert_eq!(resolver("[::1]:5300").unwrap().port(), 5300);
        assert!(resolver("dns.example").is_err());
    }
}
