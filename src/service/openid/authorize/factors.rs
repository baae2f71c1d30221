//! Second factors on the hosted pages, the same steps as the API's (`service::mfa`): a password
//! login of an account with a factor starts no browser session before the factor is right; a
//! browser session without one (an external provider's login, or one from before enrolment) is
//! stepped up when the account has a factor, the request's `acr_values` asks for
//! `urn:guildhall:acr:mfa`, or the organisation requires one. Without a factor (organisation
//! policy, or `acr_values`), the user enrols an authenticator app on the page (QR code), sees the
//! recovery codes once, and goes on. Each challenge belongs to its login request (`hosted:<digest of the
//! request's handle>`): a token of the API or of another request is refused.
//!
//! Passkeys: the second-factor page of an account with one offers a "Use a passkey" button, and
//! the login page one for a passwordless login (a discoverable credential names the account);
//! `passkey_options` hands out the challenge (the page's script asks for it), the browser's
//! WebAuthn API answers, and the form posts the answer. Without JavaScript the buttons stay
//! hidden and codes and passwords work as before.
use super::{Answer, EnrolView, OpenIdProvider, Pending, SecondFactorView, Step};
use crate::crypto;
use crate::model::{Application, BrowserSession, ClientInfo};
use crate::service::mfa::passkeys::Started;
use crate::service::mfa::{Assertion, Challenge, Factor, Purpose, factor_of};
use crate::service::openid::browser::CookieChange;
use crate::service::{Result, ServiceError};
use uuid::Uuid;

const EXPIRED_LOGIN: &str = "The login took too long or was already finished; log in again.";

/// The challenges' flow of one hosted login request.
fn hosted_flow(handle: &str) -> String {
    format!("hosted:{}", crypto::token_digest(handle))
}

fn message(e: &ServiceError) -> Option<String> {
    match e {
        ServiceError::Unauthorized("invalid_mfa_code", _) => {
            Some("That code is not right, or was already used. Try the next one.".into())
        }
        ServiceError::Unauthorized("invalid_passkey", _) => {
            Some("The passkey's answer was not accepted. Try again, or enter a code.".into())
        }
        ServiceError::TooManyAttempts(wait) => Some(format!(
            "Too many failed attempts for this account; try again in {wait} seconds."
        )),
        ServiceError::Overloaded => Some("The server is busy; try again in a few seconds.".into()),
        _ => None,
    }
}

impl OpenIdProvider {
    /// The page asking for a second factor, with a new challenge for this request.
    pub(super) async fn ask_second_factor(
        &self,
        handle: &str,
        app: &Application,
        user_id: Uuid,
        methods: &[String],
    ) -> Result<Step> {
        let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
        let token = self
            .auth
            .mfa()
            .challenge(user_id, Purpose::Verify, &hosted_flow(handle), None, &methods)
            .await?;
        Ok(Step::SecondFactor(SecondFactorView {
            handle: handle.to_owned(),
            branding: self.branding(app).await?,
            mfa_token: token,
            error: None,
            passkeys: self.offers_passkey(user_id).await?,
        }))
    }

    /// Whether the second-factor page offers a passkey: the account has one and passkeys work.
    async fn offers_passkey(&self, user_id: Uuid) -> Result<bool> {
        let mfa = self.auth.mfa();
        Ok(mfa.passkeys_available() && mfa.status(user_id).await?.passkeys > 0)
    }

    /// A passkey challenge for a page of this request: for the account of `mfa_token`'s
    /// challenge (the second-factor page), or for any passkey (the login page). `None` when the
    /// request or the challenge is gone.
    pub async fn passkey_options(&self, handle: &str, mfa_token: Option<&str>) -> Result<Option<Started>> {
        if self.pending(handle).await?.is_none() {
            return Ok(None);
        }
        let mfa = self.auth.mfa();
        let flow = hosted_flow(handle);
        match mfa_token {
            Some(token) => match mfa.live_challenge(token, &flow, Purpose::Verify).await {
                Ok(challenge) => Ok(Some(mfa.start_authentication(challenge.user_id).await?)),
                Err(ServiceError::Unauthorized("invalid_mfa_token", _)) => Ok(None),
                Err(e) => Err(e),
            },
            None => Ok(Some(mfa.start_discoverable(&flow).await?)),
        }
    }

    /// The login page's passkey: a discoverable credential names the account, and its answer
    /// (user verification included) is both factors. The browser session starts with `hwk` (or
    /// `swk`) and `mfa`, and the request goes on.
    pub async fn passkey_login(
        &self,
        handle: &str,
        assertion: &Assertion,
        browser: Option<&str>,
        client: ClientInfo,
    ) -> Result<Answer> {
        let (pending, org_id) = match self.resume(handle).await? {
            Ok(found) => found,
            Err(step) => return Ok(step.into()),
        };
        let Some(app) = self.app(&pending.client_id).await? else {
            return Ok(super::error_page("Unknown application", "The application is no longer registered.").into());
        };
        let (user, method) = match self
            .auth
            .mfa()
            .discoverable_login(&hosted_flow(handle), assertion)
            .await
        {
            Ok(found) => found,
            Err(ServiceError::Unauthorized("invalid_passkey", _)) => {
                let message = "That passkey was not accepted here. Try again, or log in with your password.";
                return Ok(self
                    .login_view(handle, &pending, &app, Some(message.into()))
                    .await?
                    .into());
            }
            Err(e) => return Err(e),
        };
        let previous = self.browser_session(browser).await?;
        let (session, cookie) = self
            .start_browser_session(user.id, &[method, "mfa"], previous.as_ref(), client.ip)
            .await?;
        let pending = self.logged_in(handle, pending, org_id).await?;
        let step = self.advance(handle, pending, org_id, Some(session)).await?;
        Ok(Answer {
            step,
            cookie: CookieChange::Set(cookie),
        })
    }

    /// Whether the browser session must be stepped up before the request goes on: the page to
    /// show, or `None`. `required`: the organisation requires a second factor.
    pub(super) async fn second_factor_due(
        &self,
        handle: &str,
        pending: &Pending,
        app: &Application,
        required: bool,
        browser: &BrowserSession,
    ) -> Result<Option<Step>> {
        if browser.amr.iter().any(|m| m == "mfa") {
            return Ok(None);
        }
        let has_factor = self.auth.mfa().has_factor(browser.user_id).await?;
        if !has_factor && !required && !pending.wants_mfa {
            return Ok(None);
        }
        if pending.prompts("none") {
            return Ok(Some(self.respond_error(
                pending,
                "interaction_required",
                "the login needs a second factor",
            )));
        }
        if has_factor {
            return Ok(Some(
                self.ask_second_factor(handle, app, browser.user_id, &browser.amr)
                    .await?,
            ));
        }
        let methods: Vec<&str> = browser.amr.iter().map(String::as_str).collect();
        let token = self
            .auth
            .mfa()
            .challenge(browser.user_id, Purpose::Enroll, &hosted_flow(handle), None, &methods)
            .await?;
        Ok(Some(self.enrol_view(handle, app, browser.user_id, token, None).await?))
    }

    async fn enrol_view(
        &self,
        handle: &str,
        app: &Application,
        user_id: Uuid,
        token: String,
        error: Option<String>,
    ) -> Result<Step> {
        let mfa = self.auth.mfa();
        let enrolment = match mfa.enrolment_in_progress(user_id).await? {
            Some(e) => e,
            None => mfa.enroll_totp(user_id).await?,
        };
        Ok(Step::EnrolFactor(EnrolView {
            handle: handle.to_owned(),
            branding: self.branding(app).await?,
            mfa_token: token,
            secret: enrolment.secret,
            qr_svg: enrolment.qr_svg,
            error,
        }))
    }

    /// The request a factor form names and its live challenge; or the page to show instead (the
    /// request is gone, or the challenge was spent or expired: log in again).
    async fn factor_form(
        &self,
        handle: &str,
        mfa_token: &str,
        purpose: Purpose,
    ) -> Result<std::result::Result<(Pending, Option<Uuid>, Application, Challenge), Step>> {
        let (pending, org_id) = match self.resume(handle).await? {
            Ok(found) => found,
            Err(step) => return Ok(Err(step)),
        };
        let Some(app) = self.app(&pending.client_id).await? else {
            return Ok(Err(super::error_page(
                "Unknown application",
                "The application is no longer registered.",
            )));
        };
        match self
            .auth
            .mfa()
            .live_challenge(mfa_token, &hosted_flow(handle), purpose)
            .await
        {
            Ok(challenge) => Ok(Ok((pending, org_id, app, challenge))),
            Err(ServiceError::Unauthorized("invalid_mfa_token", _)) => Ok(Err(self
                .login_view(handle, &pending, &app, Some(EXPIRED_LOGIN.into()))
                .await?)),
            Err(e) => Err(e),
        }
    }

    /// The second-factor form: a right code starts the browser session (with `otp` and `mfa`)
    /// and the request goes on; a wrong one shows the form again.
    pub async fn second_factor(
        &self,
        handle: &str,
        mfa_token: &str,
        code: &str,
        browser: Option<&str>,
        client: ClientInfo,
    ) -> Result<Answer> {
        self.factor_answer(handle, mfa_token, factor_of(code), browser, client)
            .await
    }

    /// The second-factor page's passkey answer: as a code, with `hwk` (or `swk`) and `mfa`.
    pub async fn passkey_second_factor(
        &self,
        handle: &str,
        mfa_token: &str,
        assertion: Assertion,
        browser: Option<&str>,
        client: ClientInfo,
    ) -> Result<Answer> {
        let factor = Factor::Passkey(Box::new(assertion));
        self.factor_answer(handle, mfa_token, factor, browser, client).await
    }

    async fn factor_answer(
        &self,
        handle: &str,
        mfa_token: &str,
        factor: Factor,
        browser: Option<&str>,
        client: ClientInfo,
    ) -> Result<Answer> {
        let (pending, org_id, app, challenge) = match self.factor_form(handle, mfa_token, Purpose::Verify).await? {
            Ok(found) => found,
            Err(step) => return Ok(step.into()),
        };
        let mfa = self.auth.mfa();
        let (user, mail, methods) = match self.auth.second_step(&challenge, &factor, &client).await {
            Ok(done) => done,
            Err(e) => {
                let Some(error) = message(&e) else { return Err(e) };
                return Ok(Step::SecondFactor(SecondFactorView {
                    handle: handle.to_owned(),
                    branding: self.branding(&app).await?,
                    mfa_token: mfa_token.to_owned(),
                    error: Some(error),
                    passkeys: self.offers_passkey(challenge.user_id).await?,
                })
                .into());
            }
        };
        let change = self.changes.begin().await?;
        if mfa.spend(&change, &challenge).await.is_err() {
            return Ok(self
                .login_view(handle, &pending, &app, Some(EXPIRED_LOGIN.into()))
                .await?
                .into());
        }
        change.commit().await?;
        if let Some(mail) = mail {
            mfa.send(mail);
        }
        let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
        let previous = self.browser_session(browser).await?;
        let (session, cookie) = self
            .start_browser_session(user.id, &methods, previous.as_ref(), client.ip)
            .await?;
        let pending = self.logged_in(handle, pending, org_id).await?;
        let step = self.advance(handle, pending, org_id, Some(session)).await?;
        Ok(Answer {
            step,
            cookie: CookieChange::Set(cookie),
        })
    }

    /// The enrolment form: the app's first code confirms it; the browser session starts with
    /// `otp` and `mfa` and the recovery codes are shown once.
    pub async fn enrol_factor(
        &self,
        handle: &str,
        mfa_token: &str,
        code: &str,
        browser: Option<&str>,
        client: ClientInfo,
    ) -> Result<Answer> {
        let (_, _, app, challenge) = match self.factor_form(handle, mfa_token, Purpose::Enroll).await? {
            Ok(found) => found,
            Err(step) => return Ok(step.into()),
        };
        let (user, codes, methods) = match self.auth.enrolment_step(&challenge, code.trim(), &client).await {
            Ok(done) => done,
            Err(e) => {
                let Some(error) = message(&e) else { return Err(e) };
                let step = self
                    .enrol_view(handle, &app, challenge.user_id, mfa_token.to_owned(), Some(error))
                    .await?;
                return Ok(step.into());
            }
        };
        let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
        let previous = self.browser_session(browser).await?;
        let (_, cookie) = self
            .start_browser_session(user.id, &methods, previous.as_ref(), client.ip)
            .await?;
        Ok(Answer {
            step: Step::RecoveryCodes {
                handle: handle.to_owned(),
                branding: self.branding(&app).await?,
                codes,
            },
            cookie: CookieChange::Set(cookie),
        })
    }

    /// "Continue" after the recovery codes: the request goes on with the browser session.
    pub async fn resume_request(&self, handle: &str, browser: Option<&str>) -> Result<Step> {
        let (pending, org_id) = match self.resume(handle).await? {
            Ok(found) => found,
            Err(step) => return Ok(step),
        };
        let session = self.browser_session(browser).await?;
        self.advance(handle, pending, org_id, session).await
    }
}
