//! Email verification: a token mailed to an account's address proves it. `start` writes the token
//! inside the caller's change (registration, an admin's email change) and hands back the mail to
//! send once it commits; `verify` spends a token; `resend` mails a new one, at most once a minute
//! per address. A token proves the address it was mailed to only while that is still the
//! account's address.
use super::{TOKEN_NOT_FOUND, link, send};
use crate::config::Config;
use crate::crypto;
use crate::mail::{Mail, SharedMailer};
use crate::model::input::Email;
use crate::model::{ClientInfo, User};
use crate::service::auth::throttle::MailPacer;
use crate::service::authz::Caller;
use crate::service::change::{Actor, Audit, Change, Changes, Event};
use crate::service::{Result, ServiceError, no_randomness};
use crate::store::{self, Db};
use std::sync::Arc;

pub struct EmailVerification {
    db: Db,
    changes: Changes,
    config: Arc<Config>,
    mailer: SharedMailer,
    pacer: MailPacer,
}

/// A verification mail waiting for its change to commit.
#[must_use = "send it once the change commits"]
pub struct Pending(Mail);

impl EmailVerification {
    pub fn new(db: Db, changes: Changes, config: Arc<Config>, mailer: SharedMailer) -> Self {
        Self {
            db,
            changes,
            config,
            mailer,
            pacer: MailPacer::default(),
        }
    }

    /// Writes a token for the user's current address in `change` (earlier tokens stop working);
    /// the mail goes with `send` after the change commits.
    pub async fn start(&self, change: &Change, user: &User) -> Result<Pending> {
        let token = crypto::random_token().map_err(no_randomness)?;
        let now = change.now();
        let expires_at = now + self.config.consent.email_verification_ttl;
        store::verifications::spend_all_of(change.tx(), user.id, now).await?;
        let digest = crypto::token_digest(&token);
        store::verifications::insert(change.tx(), user.id, &user.email, digest, now, expires_at).await?;
        Ok(Pending(self.mail(&user.email, &token)))
    }

    /// Sends a verification mail (in the background).
    pub fn send(&self, pending: Pending) {
        send(&self.mailer, pending.0, "email verification");
    }

    /// Spends a token and marks its address verified; one 404 for every token that does not work.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn verify(&self, token: &str, client: ClientInfo) -> Result<User> {
        let mut change = self.changes.begin().await?;
        let now = change.now();
        let digest = crypto::token_digest(token.trim());
        let (user_id, email) = store::verifications::spend(change.tx(), &digest, now)
            .await?
            .ok_or(TOKEN_NOT_FOUND)?;
        let before = store::users::find(change.tx(), user_id)
            .await?
            .filter(|u| u.email == email)
            .ok_or(TOKEN_NOT_FOUND)?;
        if before.email_verified {
            change.commit().await?;
            return Ok(before);
        }
        let after = mark_verified(&mut change, &before).await?;
        let actor = Actor::user(after.id, &after.email, client.ip);
        change.audit(Audit::new(&actor, "email.verify").target("user", after.id));
        change.commit().await?;
        Ok(after)
    }

    /// Mails a new token to the caller's address; 409 when it is verified already. At most one
    /// mail a minute per address: calls in between answer the same and send nothing.
    pub async fn resend(&self, caller: &Caller) -> Result<()> {
        let user = store::users::find(&self.db, caller.user_id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if user.email_verified {
            return Err(ServiceError::Conflict(
                "email_already_verified",
                "the email address is verified already",
            ));
        }
        self.resend_to(&user, caller.actor()).await
    }

    /// `resend` without a bearer (a login refused with `email_not_verified` has none): the same
    /// 202 whether or not an unverified account has this address.
    pub async fn resend_by_email(&self, email: Email, client: ClientInfo) -> Result<()> {
        let user = store::users::find_by_email(&self.db, email.as_str())
            .await?
            .filter(|u| u.active && !u.email_verified);
        let actor = Actor {
            id: user.as_ref().map(|u| u.id),
            name: Some(email.to_string()),
            ip: client.ip,
        };
        match user {
            Some(user) => self.resend_to(&user, actor).await,
            None => {
                let audit = Audit::new(&actor, "email.verify.resend").outcome("no_unverified_account");
                self.changes.record([audit]).await
            }
        }
    }

    async fn resend_to(&self, user: &User, actor: Actor) -> Result<()> {
        let mut change = self.changes.begin().await?;
        let audit = Audit::new(&actor, "email.verify.resend").target("user", user.id);
        if !self.pacer.allow(&user.email, change.now()) {
            change.audit(audit.outcome("paced"));
            return change.commit().await;
        }
        let pending = self.start(&change, user).await?;
        change.audit(audit);
        change.commit().await?;
        self.send(pending);
        Ok(())
    }

    fn mail(&self, email: &str, token: &str) -> Mail {
        let consent = &self.config.consent;
        let hours = consent.email_verification_ttl.num_hours().max(1);
        let link = link(consent.email_verify_url.as_deref(), token);
        let body = format!(
            "Please confirm that {email} is your address.\r\n\r\n\
             To confirm it, use this token within {hours} hours; it works once:\r\n\r\n\
             {token}\r\n{link}\r\n\
             If you did not create an account or change your address, ignore this message.\r\n"
        );
        Mail {
            to: email.to_owned(),
            subject: "Confirm your email address".into(),
            body,
        }
    }
}

/// Marks the user's current address verified in `change` (its outstanding tokens are spent).
pub async fn mark_verified(change: &mut Change, before: &User) -> Result<User> {
    let now = change.now();
    let changes = store::users::UserChanges {
        email_verified: Some(true),
        ..store::users::UserChanges::default()
    };
    let after = store::users::update(change.tx(), before.id, changes, now).await?;
    store::verifications::spend_all_of(change.tx(), before.id, now).await?;
    change.user_changed(before.id);
    change.event(
        before.default_org_id,
        Event::UserUpdated {
            before: before.clone(),
            after: after.clone(),
            password_changed: false,
        },
    );
    Ok(after)
}
