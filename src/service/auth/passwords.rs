//! Password reset (seed 004): `forgot` mails a single-use token and answers the same whether or
//! not the account exists; `reset` spends the token, sets the new password, spends the user's
//! other outstanding tokens and ends all of their sessions. Tokens are 256 random bits, stored as
//! SHA-256 digests, and expire after `AUTH_PASSWORD_RESET_TTL`.
use super::throttle::MailPacer;
use crate::config::Config;
use crate::crypto::{self, password::Hasher};
use crate::mail::{Mail, SharedMailer};
use crate::model::ClientInfo;
use crate::model::input::{Email, Invalid, Password};
use crate::service::change::{Actor, Audit, Changes, Event, SessionsOf};
use crate::service::{Result, no_randomness};
use crate::store::{self, Db};
use std::sync::Arc;

pub struct PasswordService {
    db: Db,
    changes: Changes,
    hasher: Arc<Hasher>,
    config: Arc<Config>,
    mailer: SharedMailer,
    pacer: MailPacer,
}

impl PasswordService {
    pub fn new(db: Db, changes: Changes, hasher: Arc<Hasher>, config: Arc<Config>, mailer: SharedMailer) -> Self {
        Self {
            db,
            changes,
            hasher,
            config,
            mailer,
            pacer: MailPacer::default(),
        }
    }

    /// Starts a reset for `email` if it names an active account, at most once a minute per
    /// address (`MailPacer`). The mail is sent in the background, so the answer takes as long
    /// either way.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn forgot(&self, email: Email, client: ClientInfo) -> Result<()> {
        let user = store::users::find_by_email(&self.db, email.as_str())
            .await?
            .filter(|u| u.active);
        let mut change = self.changes.begin().await?;
        let now = change.now();
        let actor = Actor {
            id: user.as_ref().map(|u| u.id),
            name: Some(email.to_string()),
            ip: client.ip,
        };
        let forgot = Audit::new(&actor, "password.forgot");
        let token = match &user {
            Some(_) if !self.pacer.allow(email.as_str(), now) => {
                change.audit(forgot.outcome("paced"));
                None
            }
            Some(user) => {
                let token = crypto::random_token().map_err(no_randomness)?;
                let expires_at = now + self.config.password_reset_ttl;
                store::resets::insert(change.tx(), user.id, crypto::token_digest(&token), now, expires_at).await?;
                change.audit(forgot.org(user.default_org_id).target("user", user.id));
                Some(token)
            }
            None => {
                change.audit(forgot.outcome("unknown_account"));
                None
            }
        };
        change.commit().await?;
        if let Some(token) = token {
            let mail = self.mail(email.as_str(), &token);
            let mailer = Arc::clone(&self.mailer);
            tokio::spawn(async move {
                if let Err(error) = mailer.send(mail).await {
                    tracing::warn!(error = format!("{error:#}"), "cannot send the password-reset mail");
                }
            });
        }
        Ok(())
    }

    /// Sets a new password with a reset token; every session of the user ends.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn reset(&self, token: &str, new_password: Password, client: ClientInfo) -> Result<()> {
        let invalid = || Invalid::field("token", "is invalid, already used or expired");
        let digest = crypto::token_digest(token.trim());
        // The token first: a flood of made-up tokens costs no argon2 work.
        if !store::resets::is_live(&self.db, &digest, self.changes.now()).await? {
            return Err(invalid().into());
        }
        let hash = self.hasher.hash(new_password.secret()).await?;
        let mut change = self.changes.begin().await?;
        let now = change.now();
        let user_id = store::resets::spend(change.tx(), &digest, now)
            .await?
            .ok_or_else(invalid)?;
        let user = store::users::find(change.tx(), user_id)
            .await?
            .filter(|u| u.active)
            .ok_or_else(invalid)?;
        let changes = store::users::UserChanges {
            password_hash: Some(hash),
            ..store::users::UserChanges::default()
        };
        store::users::update(change.tx(), user.id, changes, now).await?;
        store::resets::spend_all_of(change.tx(), user.id, now).await?;
        change.end_sessions(SessionsOf::User(user.id), "password_reset").await?;
        let actor = Actor::user(user.id, &user.email, client.ip);
        change.audit(
            Audit::new(&actor, "password.reset")
                .org(user.default_org_id)
                .target("user", user.id),
        );
        change.user_changed(user.id);
        change.event(
            user.default_org_id,
            Event::UserUpdated {
                before: user.clone(),
                after: user,
                password_changed: true,
            },
        );
        change.commit().await
    }

    fn mail(&self, email: &str, token: &str) -> Mail {
        let config = &self.config;
        let minutes = config.password_reset_ttl.num_minutes().max(1);
        let link = match &config.password_reset_url {
            Some(url) if url.contains("{token}") => format!("\r\n{}\r\n", url.replace("{token}", token)),
            Some(url) => format!("\r\n{}\r\n", crate::service::with_query(url, &[("token", token)])),
            None => String::new(),
        };
        let body = format!(
            "Someone asked to reset the password of the account {email}.\r\n\r\n\
             To choose a new password, use this token within {minutes} minutes; it works once:\r\n\r\n\
             {token}\r\n{link}\r\n\
             If you did not ask for this, ignore this message: your password stays as it is.\r\n"
        );
        Mail {
            to: email.to_owned(),
            subject: "Reset your password".into(),
            body,
        }
    }
}
