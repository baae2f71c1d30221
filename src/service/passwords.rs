//! Password reset (seed 004): `forgot` mails a single-use token and answers the same whether or
//! not the account exists; `reset` spends the token, sets the new password, spends the user's
//! other outstanding tokens and ends all of their sessions. Tokens are 256 random bits, stored as
//! SHA-256 digests, and expire after `AUTH_PASSWORD_RESET_TTL`.
use super::auth::user_data;
use super::core::Core;
use super::journal::{Actor, Invalidation};
use super::throttle::MailPacer;
use super::validate::{self, Problems};
use super::{Result, ServiceError};
use crate::crypto::{self, password};
use crate::mail::{Mail, SharedMailer};
use crate::model::ClientInfo;
use crate::store;
use secrecy::SecretString;
use serde_json::json;
use std::sync::Arc;

pub struct PasswordService {
    core: Arc<Core>,
    mailer: SharedMailer,
    pacer: MailPacer,
}

impl PasswordService {
    pub fn new(core: Arc<Core>, mailer: SharedMailer) -> Self {
        Self {
            core,
            mailer,
            pacer: MailPacer::default(),
        }
    }

    /// Starts a reset for `email` if it names an active account, at most once a minute per
    /// address (`MailPacer`). The mail is sent in the background, so the answer takes as long
    /// either way.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn forgot(&self, email: &str, client: ClientInfo) -> Result<()> {
        let mut problems = Problems::default();
        let email = problems.check("email", validate::email(email));
        problems.finish()?;
        let Some(email) = email else {
            return Err(ServiceError::Internal(anyhow::anyhow!("validated email missing")));
        };
        let db = &self.core.db;
        let user = store::users::find_by_email(db, &email).await?.filter(|u| u.active);
        let mut journal = self.core.journal();
        let now = journal.now();
        let tx = store::begin(db).await?;
        let actor = Actor {
            id: user.as_ref().map(|u| u.id),
            name: Some(email.clone()),
            ip: client.ip,
        };
        let token = match &user {
            Some(_) if !self.pacer.allow(&email, now) => {
                journal.audit_outcome(None, &actor, "password.forgot", None, "paced", None);
                None
            }
            Some(user) => {
                let token =
                    crypto::random_token().map_err(|_| ServiceError::Internal(anyhow::anyhow!("no randomness")))?;
                let expires_at = now + self.core.config.password_reset_ttl;
                store::resets::insert(&tx, user.id, crypto::token_digest(&token), now, expires_at).await?;
                let target = Some(("user", user.id.to_string()));
                journal.audit(user.default_org_id, &actor, "password.forgot", target, None);
                Some(token)
            }
            None => {
                journal.audit_outcome(None, &actor, "password.forgot", None, "unknown_account", None);
                None
            }
        };
        self.core.commit(tx, journal).await?;
        if let Some(token) = token {
            let mail = self.mail(&email, &token);
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
    pub async fn reset(&self, token: &str, new_password: String, client: ClientInfo) -> Result<()> {
        let mut problems = Problems::default();
        if token.trim().is_empty() {
            problems.add("token", "is required");
        }
        problems.check(
            "new_password",
            password::check_policy(&self.core.config.password_policy, &new_password),
        );
        problems.finish()?;
        let invalid = || {
            ServiceError::Validation(vec![super::FieldError {
                field: "token".into(),
                message: "is invalid, already used or expired".into(),
            }])
        };
        let hash = self.core.hasher.hash(SecretString::from(new_password)).await?;
        let mut journal = self.core.journal();
        let now = journal.now();
        let tx = store::begin(&self.core.db).await?;
        let user_id = store::resets::spend(&tx, &crypto::token_digest(token.trim()), now)
            .await?
            .ok_or_else(invalid)?;
        let user = store::users::find(&tx, user_id)
            .await?
            .filter(|u| u.active)
            .ok_or_else(invalid)?;
        let changes = store::users::UserChanges {
            email: None,
            username: None,
            display_name: None,
            password_hash: Some(hash),
            active: None,
            superuser: None,
        };
        store::users::update(&tx, user.id, changes, now).await?;
        store::resets::spend_all_of(&tx, user.id, now).await?;
        let sessions = store::sessions::unrevoked_of_user(&tx, user.id).await?;
        self.core
            .end_sessions(&tx, &mut journal, sessions, "password_reset")
            .await?;
        let data = json!({"before": user_data(&user), "after": user_data(&user), "password_changed": true});
        journal.event(user.default_org_id, "user", user.id, "updated", "UserUpdated", data);
        let actor = Actor {
            id: Some(user.id),
            name: Some(user.email.clone()),
            ip: client.ip,
        };
        let target = Some(("user", user.id.to_string()));
        journal.audit(user.default_org_id, &actor, "password.reset", target, None);
        journal.invalidate(Invalidation::User { user: user.id });
        self.core.commit(tx, journal).await
    }

    fn mail(&self, email: &str, token: &str) -> Mail {
        let config = &self.core.config;
        let minutes = config.password_reset_ttl.num_minutes().max(1);
        let link = match &config.password_reset_url {
            Some(url) if url.contains("{token}") => format!("\r\n{}\r\n", url.replace("{token}", token)),
            Some(url) => format!("\r\n{}\r\n", super::with_query(url, &[("token", token)])),
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
