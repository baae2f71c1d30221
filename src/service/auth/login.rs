//! Password login: every credential failure looks the same and costs one hash; a name is locked
//! after repeated failures (`throttle`); with `AUTH_REQUIRE_EMAIL_VERIFICATION` an unverified
//! account is refused once its password is checked; the organisation is the one asked for, else
//! the last one used, else the first joined.
use super::throttle::Subject;
use super::{AuthService, Grant, SessionStart};
use crate::model::input::{Invalid, Password, Problems, presented_password};
use crate::model::{ClientInfo, User};
use crate::service::authn::home::org_for_login;
use crate::service::authz::Caller;
use crate::service::change::{Actor, Audit, Event, SessionsOf};
use crate::service::{Result, ServiceError};
use crate::store;
use secrecy::SecretString;

pub struct Login {
    /// Email or username, lower-cased and trimmed.
    pub login: String,
    pub password: SecretString,
    pub organization: Option<String>,
}

impl Login {
    /// A login request as received: the name must be present, the password present and sane.
    pub fn parse(
        login: Option<String>,
        password: String,
        organization: Option<String>,
    ) -> std::result::Result<Self, Invalid> {
        let mut problems = Problems::default();
        let name = login.unwrap_or_default().trim().to_lowercase();
        if name.is_empty() {
            problems.add("email", "is required");
        }
        let password = problems.check("password", presented_password(password));
        let (password,) = problems.done((password,))?;
        Ok(Self {
            login: name,
            password,
            organization,
        })
    }
}

/// A password login of an account whose address is unproven, with
/// `AUTH_REQUIRE_EMAIL_VERIFICATION` on.
pub const EMAIL_NOT_VERIFIED: ServiceError = ServiceError::Forbidden(
    "email_not_verified",
    "verify your email address first: use the token in the verification mail (POST /auth/email/verify/resend sends another)",
);

impl AuthService {
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn login(&self, input: Login, client: ClientInfo) -> Result<Grant> {
        let organization = input.organization.clone();
        let user = self.check_password(input, &client).await?;
        let org = org_for_login(&self.db, &user, organization.as_deref()).await?;
        let context = (*self.authn.current(user.id, org.id).await?).clone();
        let mut change = self.changes.begin().await?;
        let actor = Actor::user(user.id, &user.email, client.ip.clone());
        change.audit(Audit::new(&actor, "login").org(org.id));
        let grant = self
            .start_session(&mut change, context, SessionStart::api(client, &["pwd"]))
            .await?;
        change.commit().await?;
        Ok(grant)
    }

    /// Checks a login name and password (every password login goes through here, the hosted
    /// login page's too): failures look the same, cost one hash, are audited and counted
    /// (`guildhall_logins_total` by outcome).
    pub async fn check_password(&self, input: Login, client: &ClientInfo) -> Result<User> {
        let result = self.verify_password(input, client).await;
        self.metrics.login(match &result {
            Ok(_) => "success",
            Err(ServiceError::InvalidCredentials) => "invalid_credentials",
            Err(ServiceError::TooManyAttempts(_)) => "locked",
            Err(ServiceError::Overloaded) => "overloaded",
            Err(_) => "error",
        });
        result
    }

    async fn verify_password(&self, input: Login, client: &ClientInfo) -> Result<User> {
        let login = input.login;
        let (user, hash) = match store::users::find_credentials(&self.db, &login).await? {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let subject = match &user {
            Some(user) => Subject::Account(user.id),
            None => Subject::Name(&login),
        };
        let locks = self.throttle.start(subject, self.changes.now()).await?;
        let matches = self.hasher.verify(input.password, hash).await?;
        let user = match user {
            Some(user) if matches && user.active => user,
            other => {
                let actor = Actor {
                    id: other.as_ref().map(|u| u.id),
                    name: Some(login.clone()),
                    ip: client.ip.clone(),
                };
                self.changes
                    .record([Audit::new(&actor, "login").outcome("failure")])
                    .await?;
                if locks {
                    tracing::warn!(
                        ip = client.ip.as_deref(),
                        "a login name is locked after repeated failed logins"
                    );
                }
                return Err(ServiceError::InvalidCredentials);
            }
        };
        self.throttle.succeeded(subject).await?;
        if self.config.consent.require_email_verification && !user.email_verified {
            // After the password: only someone who knows it learns the address is unproven.
            let actor = Actor::user(user.id, &user.email, client.ip.clone());
            let refused = Audit::new(&actor, "login").outcome("email_not_verified");
            self.changes.record([refused]).await?;
            return Err(EMAIL_NOT_VERIFIED);
        }
        Ok(user)
    }

    /// A user changes their own password: the current one is checked (and counted like a
    /// login), and every other session of theirs ends.
    pub async fn change_password(&self, caller: &Caller, current: SecretString, new: Password) -> Result<()> {
        let subject = Subject::Account(caller.user_id);
        self.throttle.start(subject, self.changes.now()).await?;
        let hash = store::users::password_hash(&self.db, caller.user_id).await?;
        if !self.hasher.verify(current, hash).await? {
            let failed = Audit::new(&caller.actor(), "password.change").outcome("failure");
            self.changes.record([failed]).await?;
            return Err(ServiceError::InvalidCredentials);
        }
        self.throttle.succeeded(subject).await?;
        let new_hash = self.hasher.hash(new.secret()).await?;
        let mut change = self.changes.begin().await?;
        let before = store::users::find(change.tx(), caller.user_id)
            .await?
            .ok_or(ServiceError::InvalidToken(crate::token::VerifyError::SessionRevoked))?;
        let changes = store::users::UserChanges {
            password_hash: Some(new_hash),
            ..store::users::UserChanges::default()
        };
        let after = store::users::update(change.tx(), caller.user_id, changes, change.now()).await?;
        let others = SessionsOf::UserExcept {
            user: caller.user_id,
            keep: caller.session_id,
        };
        change.end_sessions(others, "password_changed").await?;
        change.audit(Audit::new(&caller.actor(), "password.change").target("user", caller.user_id));
        change.user_changed(caller.user_id);
        let event = Event::UserUpdated {
            before,
            after,
            password_changed: true,
        };
        change.event(None, event);
        change.commit().await
    }
}
