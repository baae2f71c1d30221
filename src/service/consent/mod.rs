//! Membership by consent: a person proves they control an address before it counts.
//!
//! - **Email verification** (`verification`): registration and an email change mail a token
//!   (256 random bits, stored as SHA-256, single use, `AUTH_EMAIL_VERIFICATION_TTL`, 24 h);
//!   `POST /auth/email/verify` spends it and marks the address verified. With
//!   `AUTH_REQUIRE_EMAIL_VERIFICATION` a password login of an unverified account is refused
//!   (after the password is checked).
//! - **Invitations** (`invitations`, `accept`): an organisation's admin invites an address with
//!   roles, teams and domains; the mail carries a single-use token; accepting it is the
//!   person's consent and proves the address, and applies exactly what the invitation says, in
//!   one transaction.
//! - **Verified email domains** (`domains`): an organisation proves it owns a domain with a DNS
//!   TXT record; only then may its identity providers serve the domain, and its join policy
//!   (`invite_only`, `auto_join`) apply to people whose verified address is in it.
//!
//! Every token that does not work (unknown, expired, used, revoked) is one 404, so a guess learns
//! nothing. Mail to one address is paced (`MailPacer`: one a minute per kind) and sent after the
//! change commits, in the background.
mod accept;
pub mod domains;
pub mod invitations;
pub mod verification;

pub use accept::{Acceptance, Accepted};

use crate::mail::{Mail, SharedMailer};
use std::sync::Arc;

/// The one answer for a token that does not work.
pub const TOKEN_NOT_FOUND: crate::service::ServiceError =
    crate::service::ServiceError::NotFound("the token is unknown, expired, used or revoked");

/// The link a mail carries: `url` with `{token}` replaced, or `?token=` appended; nothing without
/// a URL (the token itself is always in the mail).
pub fn link(url: Option<&str>, token: &str) -> String {
    match url {
        Some(url) if url.contains("{token}") => format!("\r\n{}\r\n", url.replace("{token}", token)),
        Some(url) => format!("\r\n{}\r\n", crate::service::with_query(url, &[("token", token)])),
        None => String::new(),
    }
}

/// Sends a mail in the background (after the change that made it committed).
pub fn send(mailer: &SharedMailer, mail: Mail, what: &'static str) {
    let mailer = Arc::clone(mailer);
    tokio::spawn(async move {
        if let Err(error) = mailer.send(mail).await {
            tracing::warn!(error = format!("{error:#}"), what, "cannot send a mail");
        }
    });
}
