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
use crate::service::mfa::{self, API_FLOW, Factor};
use crate::service::{Result, SecondFactor, ServiceError};
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

/// A correct password: the account, and whether it has a second factor to give next (then the
/// account's failed-login count is kept until that factor is right, so a known password does not
/// buy unlimited guesses at the code).
#[derive(Debug)]
pub struct Checked {
    pub user: User,
    pub second_factor: bool,
}

/// A login's methods with a second factor's (`method`) and `mfa`, each once.
fn with_second_factor(methods: &[String], method: &str) -> Vec<String> {
    let mut methods = methods.to_vec();
    for m in [method, "mfa"] {
        if !methods.iter().any(|have| have == m) {
            methods.push(m.to_owned());
        }
    }
    methods
}

impl AuthService {
    /// `POST /auth/login` and every password route: tokens, or for an account with a second
    /// factor 401 `mfa_required` with a token for `verify_second_factor`, or for a member of an
    /// organisation that requires one and has none 403 `mfa_enrollment_required`.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn login(&self, input: Login, client: ClientInfo) -> Result<Grant> {
        let organization = input.organization.clone();
        let checked = self.check_password(input, &client).await?;
        let user = checked.user;
        let org = org_for_login(&self.db, &user, organization.as_deref()).await?;
        if checked.second_factor {
            let methods = self.mfa.status(user.id).await?.methods();
            let token = self
                .mfa
                .challenge(user.id, mfa::Purpose::Verify, API_FLOW, organization, &["pwd"])
                .await?;
            return Err(ServiceError::SecondFactor(SecondFactor::Required { token, methods }));
        }
        if org.require_mfa {
            let token = self
                .mfa
                .challenge(user.id, mfa::Purpose::Enroll, API_FLOW, organization, &["pwd"])
                .await?;
            return Err(ServiceError::SecondFactor(SecondFactor::EnrollmentRequired { token }));
        }
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

    /// `POST /auth/mfa/verify`: the second step of a login. The factor counts toward the
    /// account's lockout like a password; the challenge is spent once the factor is right.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn verify_second_factor(&self, token: &str, factor: Factor, client: ClientInfo) -> Result<Grant> {
        let challenge = self.mfa.live_challenge(token, API_FLOW, mfa::Purpose::Verify).await?;
        let (user, mail, methods) = self.second_step(&challenge, &factor, &client).await?;
        let org = org_for_login(&self.db, &user, challenge.organization.as_deref()).await?;
        let context = (*self.authn.current(user.id, org.id).await?).clone();
        let mut change = self.changes.begin().await?;
        self.mfa.spend(&change, &challenge).await?;
        let actor = Actor::user(user.id, &user.email, client.ip.clone());
        change.audit(
            Audit::new(&actor, "login")
                .org(org.id)
                .detail(serde_json::json!({"amr": methods})),
        );
        let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
        let grant = self
            .start_session(&mut change, context, SessionStart::api(client, &methods))
            .await?;
        change.commit().await?;
        if let Some(mail) = mail {
            self.mfa.send(mail);
        }
        Ok(grant)
    }

    /// Finishes a login that had to enrol a second factor first (the organisation requires
    /// one): the enrolment token and the app's first code; the tokens and the recovery codes.
    pub async fn complete_enrolment(
        &self,
        token: &str,
        code: &str,
        client: ClientInfo,
    ) -> Result<(Grant, Vec<String>)> {
        let challenge = self.mfa.live_challenge(token, API_FLOW, mfa::Purpose::Enroll).await?;
        let (user, codes, methods) = self.enrolment_step(&challenge, code, &client).await?;
        let org = org_for_login(&self.db, &user, challenge.organization.as_deref()).await?;
        let context = (*self.authn.current(user.id, org.id).await?).clone();
        let mut change = self.changes.begin().await?;
        let actor = Actor::user(user.id, &user.email, client.ip.clone());
        change.audit(Audit::new(&actor, "login").org(org.id));
        let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
        let grant = self
            .start_session(&mut change, context, SessionStart::api(client, &methods))
            .await?;
        change.commit().await?;
        Ok((grant, codes))
    }

    /// Confirms the authenticator app an enrolment challenge's user enrolled, counted by the
    /// throttle, and spends the challenge: the user, the recovery codes (shown once) and the
    /// login's methods with the new factor's.
    pub async fn enrolment_step(
        &self,
        challenge: &mfa::Challenge,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(User, Vec<String>, Vec<String>)> {
        let (user, codes) = self
            .factor_step(challenge, client, async |change, user, actor| {
                let codes = self.mfa.confirm_totp(change, user, code, actor).await?;
                self.mfa.spend(change, challenge).await?;
                Ok(codes)
            })
            .await?;
        Ok((user, codes, with_second_factor(&challenge.methods, "otp")))
    }

    /// Checks the factor of a challenge's user, counted by the throttle: the user, the mail a
    /// recovery code sends, and the login's methods with the factor's (`pwd otp mfa`).
    pub async fn second_step(
        &self,
        challenge: &mfa::Challenge,
        factor: &Factor,
        client: &ClientInfo,
    ) -> Result<(User, Option<crate::mail::Mail>, Vec<String>)> {
        let (user, checked) = self
            .factor_step(challenge, client, async |change, user, actor| {
                self.mfa.check(change, user, factor, actor).await
            })
            .await?;
        Ok((
            user,
            checked.mail,
            with_second_factor(&challenge.methods, checked.method),
        ))
    }

    /// A second-factor step of a challenge's (active) user: the account's lockout counts it;
    /// `check` runs in a change that commits when it succeeds (which forgets the failures), and
    /// a failure is audited (`login.mfa`) and counted in the login metrics.
    async fn factor_step<T>(
        &self,
        challenge: &mfa::Challenge,
        client: &ClientInfo,
        check: impl AsyncFnOnce(&mut crate::service::change::Change, &User, &Actor) -> Result<T>,
    ) -> Result<(User, T)> {
        let user = store::users::find(&self.db, challenge.user_id)
            .await?
            .filter(|u| u.active)
            .ok_or(mfa::CHALLENGE_NOT_FOUND)?;
        let subject = Subject::Account(user.id);
        self.throttle.start(subject, self.changes.now()).await?;
        let actor = Actor::user(user.id, &user.email, client.ip.clone());
        let mut change = self.changes.begin().await?;
        let done = match check(&mut change, &user, &actor).await {
            Ok(done) => done,
            Err(e) => {
                drop(change);
                self.changes
                    .record([Audit::new(&actor, "login.mfa").outcome("failure")])
                    .await?;
                self.metrics.login("invalid_second_factor");
                return Err(e);
            }
        };
        change.commit().await?;
        self.throttle.succeeded(subject).await?;
        Ok((user, done))
    }

    /// The second factors, for the hosted pages (which ask for them in HTML).
    pub fn mfa(&self) -> &mfa::MfaService {
        &self.mfa
    }

    /// Checks a login name and password (every password login goes through here, the hosted
    /// login page's too): failures look the same, cost one hash, are audited and counted
    /// (`guildhall_logins_total` by outcome).
    pub async fn check_password(&self, input: Login, client: &ClientInfo) -> Result<Checked> {
        let result = self.verify_password(input, client).await;
        self.metrics.login(match &result {
            Ok(_) => "success",
            Err(ServiceError::InvalidCredentials) => "invalid_credentials",
            Err(ServiceError::TooManyAttempts(_)) => "locked",
            Err(ServiceError::Overloaded) => "overloaded",
            Err(_) => "error",
        });
        let (user, locked) = result?;
        let second_factor = self.mfa.has_factor(user.id).await?;
        if second_factor {
            self.throttle.forgive(Subject::Account(user.id), locked).await?;
        } else {
            self.throttle.succeeded(Subject::Account(user.id)).await?;
        }
        Ok(Checked { user, second_factor })
    }

    /// The account, and whether this attempt started a lock of it (`throttle::start`).
    async fn verify_password(&self, input: Login, client: &ClientInfo) -> Result<(User, bool)> {
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
        if self.config.consent.require_email_verification && !user.email_verified {
            // The password was right: the attempt is no failure (but forgets none before it).
            self.throttle.forgive(subject, locks).await?;
            // After the password: only someone who knows it learns the address is unproven.
            let actor = Actor::user(user.id, &user.email, client.ip.clone());
            let refused = Audit::new(&actor, "login").outcome("email_not_verified");
            self.changes.record([refused]).await?;
            return Err(EMAIL_NOT_VERIFIED);
        }
        Ok((user, locks))
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
