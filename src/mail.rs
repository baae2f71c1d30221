//! Outgoing mail (password resets): SMTP through lettre when `AUTH_SMTP_URL` is set; otherwise
//! the message goes to the log in development and nowhere in production.
use crate::config::{Config, Environment};
use anyhow::Context;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

/// One plain-text message to one recipient.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: Mail) -> anyhow::Result<()>;
}

pub type SharedMailer = Arc<dyn Mailer>;

/// The mailer the configuration asks for.
pub fn from_config(config: &Config) -> anyhow::Result<SharedMailer> {
    Ok(match &config.smtp {
        Some(smtp) => {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp.url.expose_secret())
                .context("AUTH_SMTP_URL is not usable")?
                .timeout(Some(Duration::from_secs(10)))
                .build();
            let from = smtp
                .from
                .parse::<Mailbox>()
                .with_context(|| format!("AUTH_SMTP_FROM \"{}\" is not a mailbox", smtp.from))?;
            Arc::new(SmtpMailer { transport, from })
        }
        None => Arc::new(LogMailer {
            development: config.environment == Environment::Development,
        }),
    })
}

/// Whether the configured SMTP server answers (`guildhall doctor`); `Ok(false)` without one.
pub async fn reachable(config: &Config) -> anyhow::Result<bool> {
    let Some(smtp) = &config.smtp else {
        return Ok(false);
    };
    let transport: AsyncSmtpTransport<Tokio1Executor> =
        AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp.url.expose_secret())
            .context("AUTH_SMTP_URL is not usable")?
            .timeout(Some(Duration::from_secs(5)))
            .build();
    if transport
        .test_connection()
        .await
        .context("cannot reach the SMTP server")?
    {
        Ok(true)
    } else {
        anyhow::bail!("the SMTP server did not greet")
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        let to = mail.to.parse::<Mailbox>().context("the recipient is not a mailbox")?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(mail.body)
            .context("cannot build the message")?;
        self.transport
            .send(message)
            .await
            .context("the SMTP server refused the message")?;
        Ok(())
    }
}

/// Without SMTP: the message in the log, in development only (it carries a secret).
pub struct LogMailer {
    development: bool,
}

#[async_trait::async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: Mail) -> anyhow::Result<()> {
        if self.development {
            tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "mail (development: AUTH_SMTP_URL is not set, so it is only logged)");
        } else {
            tracing::warn!(to = %mail.to, subject = %mail.subject, "mail not sent: AUTH_SMTP_URL is not set");
        }
        Ok(())
    }
}
