//! The authorization endpoint (OpenID Connect Core §3.1.2, RFC 6749 §4.1, RFC 7636, RFC 9207):
//! the code flow only. A request is validated once, stored (its handle, a random token, travels
//! in the hosted pages' forms; the database keeps its SHA-256) and walked forward by `advance`:
//! login, account choice, organisation, consent, and finally a code sent back to the client.
//!
//! An unknown client or an unregistered redirect URI is an error page and never a redirect
//! (RFC 6749 §4.1.2.1, RFC 9700 §4.11); every other error goes back to the client's redirect URI
//! with `error`, `state` and `iss`.
mod factors;

use super::browser::CookieChange;
use super::grants::CodeGrant;
use super::{CODE_TTL_SECONDS, OpenIdProvider, REQUEST_TTL_MINUTES};
use crate::crypto;
use crate::model::{Application, BrowserSession, ClientInfo, ClientKind, GrantType};
use crate::service::auth::Login;
use crate::service::cache::Denial;
use crate::service::oidc::OidcError;
use crate::service::{Result, ServiceError, no_randomness};
use crate::store::{self, provider::PendingRequest};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The authorization request's parameters as received (query or form).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthorizeQuery {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    /// Accepted; the pages are in English.
    pub ui_locales: Option<String>,
    /// The organisation (slug) the tokens are for.
    pub organization: Option<String>,
    /// RFC 8707: the access token's audience.
    pub resource: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub id_token_hint: Option<String>,
    pub display: Option<String>,
    pub acr_values: Option<String>,
    pub claims: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// A request in progress, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    client_id: String,
    redirect_uri: String,
    response_mode: ResponseMode,
    state: Option<String>,
    nonce: Option<String>,
    scopes: Vec<String>,
    code_challenge: Option<String>,
    prompt: Vec<String>,
    max_age: Option<i64>,
    login_hint: Option<String>,
    organization: Option<String>,
    resource: Option<String>,
    /// Seconds since the epoch, when the request arrived.
    created_at: i64,
    /// The user answered the select-account page.
    #[serde(default)]
    account_chosen: bool,
    /// The user must log in on this request's login page (`prompt=login`, "use another
    /// account"): an existing browser session does not count.
    #[serde(default)]
    fresh_login: bool,
    /// The user consented on this request's consent page.
    #[serde(default)]
    consented: bool,
    /// A device authorization (RFC 8628) this request approves: its device code's digest.
    #[serde(default)]
    device: Option<String>,
    /// `acr_values` asked for a second factor (`urn:guildhall:acr:mfa`): a step-up.
    #[serde(default)]
    wants_mfa: bool,
}

impl Pending {
    fn prompts(&self, p: &str) -> bool {
        self.prompt.iter().any(|x| x == p)
    }
}

/// What the pages show about the application and its organisation.
#[derive(Debug, Clone)]
pub struct Branding {
    pub client_name: String,
    pub org_name: String,
    pub logo_url: Option<String>,
    /// Where the pages' forms may lead (CSP `form-action`): the application's redirect origins.
    pub form_targets: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ProviderButton {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct LoginView {
    pub handle: String,
    pub branding: Branding,
    pub login: String,
    pub error: Option<String>,
    /// The identity providers serving the email's domain, once asked.
    pub providers: Vec<ProviderButton>,
    pub sso_asked: bool,
    /// Whether to offer a passwordless login with a passkey.
    pub passkeys: bool,
}

#[derive(Debug, Clone)]
pub struct SecondFactorView {
    pub handle: String,
    pub branding: Branding,
    /// The challenge the password step (or a session without a second factor) left.
    pub mfa_token: String,
    pub error: Option<String>,
    /// Whether the account has a passkey to offer.
    pub passkeys: bool,
}

#[derive(Debug, Clone)]
pub struct EnrolView {
    pub handle: String,
    pub branding: Branding,
    pub mfa_token: String,
    /// The secret in base32, and the `otpauth://` URI as an SVG QR code.
    pub secret: String,
    pub qr_svg: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OrgChoice {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct ConsentView {
    pub handle: String,
    pub branding: Branding,
    pub user: String,
    /// Each scope with what it lets the application do, in words.
    pub scopes: Vec<(String, String)>,
    /// Approving a device (RFC 8628): its user code.
    pub user_code: Option<String>,
}

/// Where the request goes next.
#[derive(Debug)]
pub enum Step {
    Login(LoginView),
    SelectAccount {
        handle: String,
        branding: Branding,
        user: String,
    },
    PickOrg {
        handle: String,
        branding: Branding,
        orgs: Vec<OrgChoice>,
    },
    Consent(ConsentView),
    /// A second factor for the login (`factors`).
    SecondFactor(SecondFactorView),
    /// The organisation requires a second factor the account lacks: enrol an authenticator app.
    EnrolFactor(EnrolView),
    /// A new factor's recovery codes, shown once, and a button to go on.
    RecoveryCodes {
        handle: String,
        branding: Branding,
        codes: Vec<String>,
    },
    /// Back to the client: a code or an error.
    Respond {
        redirect_uri: String,
        mode: ResponseMode,
        params: Vec<(&'static str, String)>,
    },
    /// A device authorization was approved or denied.
    DeviceDone {
        approved: bool,
        client_name: String,
    },
    /// An error page (never a redirect).
    Error {
        title: &'static str,
        message: String,
    },
}

/// A step and what it does to the browser's session cookie.
pub struct Answer {
    pub step: Step,
    pub cookie: CookieChange,
}

impl From<Step> for Answer {
    fn from(step: Step) -> Self {
        Self {
            step,
            cookie: CookieChange::Keep,
        }
    }
}

fn error_page(title: &'static str, message: impl Into<String>) -> Step {
    Step::Error {
        title,
        message: message.into(),
    }
}

const EXPIRED: &str =
    "This login request has expired or was already answered. Go back to the application and start again.";

/// What each standard scope lets an application do, in words.
fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are (your account's identifier)".into(),
        "profile" => "See your name and username".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Stay signed in while you are away".into(),
        other => format!("Use \"{other}\" on your behalf"),
    }
}

/// PKCE code challenges: 43 to 128 unreserved characters (RFC 7636 §4.2).
fn valid_challenge(c: &str) -> bool {
    (43..=128).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl OpenIdProvider {
    fn respond_error(&self, pending: &Pending, error: &'static str, description: &str) -> Step {
        let mut params = vec![
            ("error", error.to_owned()),
            ("error_description", description.to_owned()),
        ];
        params.extend(pending.state.clone().map(|s| ("state", s)));
        params.push(("iss", self.issuer().to_owned()));
        Step::Respond {
            redirect_uri: pending.redirect_uri.clone(),
            mode: pending.response_mode,
            params,
        }
    }

    /// `GET|POST /oauth2/authorize`: validates the request, stores it and takes its first step.
    pub async fn authorize(&self, query: AuthorizeQuery, browser: Option<&str>) -> Result<Answer> {
        let pending = match self.validate(query).await? {
            Ok(pending) => pending,
            Err(step) => return Ok(step.into()),
        };
        let handle = crypto::random_token().map_err(no_randomness)?;
        let now = self.changes.now();
        let params = serde_json::to_string(&pending).map_err(|e| ServiceError::Internal(e.into()))?;
        let stored = PendingRequest {
            client_id: pending.client_id.clone(),
            params,
            org_id: None,
            expires_at: now + Duration::minutes(REQUEST_TTL_MINUTES),
        };
        store::provider::insert_request(&self.db, crypto::token_digest(&handle), &stored, now).await?;
        let browser = self.browser_session(browser).await?;
        Ok(self.advance(&handle, pending, None, browser).await?.into())
    }

    /// Checks a request: `Err(step)` is the error page or the error sent back to the client.
    async fn validate(&self, q: AuthorizeQuery) -> Result<std::result::Result<Pending, Step>> {
        let Some(app) = self.app(q.client_id.as_deref().unwrap_or_default()).await? else {
            return Ok(Err(error_page(
                "Unknown application",
                "The application that sent you here is not registered with guildhall (unknown client_id). Nothing was sent back to it.",
            )));
        };
        let redirect_uri = match q.redirect_uri.as_deref() {
            Some(uri) if app.redirect_registered(uri) => uri.to_owned(),
            Some(_) => {
                return Ok(Err(error_page(
                    "Redirect URI not registered",
                    "The application asked to send you back to an address it has not registered. Nothing was sent back to it.",
                )));
            }
            None if app.redirect_uris.len() == 1 => app.redirect_uris[0].clone(),
            None => {
                return Ok(Err(error_page(
                    "Redirect URI missing",
                    "The application did not say where to send you back (redirect_uri). Nothing was sent back to it.",
                )));
            }
        };
        let mut pending = Pending {
            client_id: app.client_id.clone(),
            redirect_uri,
            response_mode: ResponseMode::Query,
            state: q.state.clone(),
            nonce: q.nonce.clone(),
            scopes: vec![],
            code_challenge: None,
            prompt: vec![],
            max_age: None,
            login_hint: q.login_hint.clone(),
            organization: q.organization.clone(),
            resource: None,
            created_at: self.changes.now().timestamp(),
            account_chosen: false,
            fresh_login: false,
            consented: false,
            device: None,
            wants_mfa: false,
        };
        match q.response_mode.as_deref() {
            None | Some("query") => {}
            Some("form_post") => pending.response_mode = ResponseMode::FormPost,
            Some(_) => {
                return Ok(Err(self.respond_error(
                    &pending,
                    "invalid_request",
                    "response_mode must be query or form_post",
                )));
            }
        }
        macro_rules! refuse {
            ($error:expr, $description:expr) => {
                return Ok(Err(self.respond_error(&pending, $error, $description)))
            };
        }
        if q.state.as_ref().is_some_and(|s| s.len() > 2048) || q.nonce.as_ref().is_some_and(|n| n.len() > 512) {
            refuse!("invalid_request", "state or nonce is too long");
        }
        if q.request.is_some() {
            refuse!("request_not_supported", "request objects are not supported");
        }
        if q.request_uri.is_some() {
            refuse!("request_uri_not_supported", "request_uri is not supported");
        }
        match q.response_type.as_deref() {
            Some("code") => {}
            None => refuse!("invalid_request", "response_type is required"),
            Some(_) => refuse!("unsupported_response_type", "only response_type=code is supported"),
        }
        if !app.allows(GrantType::AuthorizationCode) {
            refuse!(
                "unauthorized_client",
                "this application may not use the authorization code grant"
            );
        }
        let scopes: Vec<String> = q
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        let allowed = app.allowed_scopes();
        if let Some(unknown) = scopes.iter().find(|s| !allowed.contains(&s.as_str())) {
            refuse!(
                "invalid_scope",
                &format!("the scope \"{unknown}\" is not allowed for this application")
            );
        }
        let mut unique = Vec::new();
        for s in scopes {
            if !unique.contains(&s) {
                unique.push(s);
            }
        }
        pending.scopes = unique;
        match (q.code_challenge.as_deref(), q.code_challenge_method.as_deref()) {
            (Some(c), Some("S256")) if valid_challenge(c) => pending.code_challenge = Some(c.to_owned()),
            (Some(_), Some("S256")) => refuse!("invalid_request", "code_challenge must be 43 to 128 characters"),
            (Some(_), None | Some("plain")) => {
                refuse!(
                    "invalid_request",
                    "code_challenge_method must be S256 (plain is not supported)"
                );
            }
            (Some(_), Some(_)) => refuse!("invalid_request", "code_challenge_method must be S256"),
            (None, Some(_)) => refuse!("invalid_request", "code_challenge_method without code_challenge"),
            (None, None) if app.kind == ClientKind::Public => {
                refuse!(
                    "invalid_request",
                    "PKCE is required: send code_challenge with code_challenge_method=S256"
                )
            }
            (None, None) => {}
        }
        let prompt: Vec<String> = q
            .prompt
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        if let Some(bad) = prompt
            .iter()
            .find(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
        {
            refuse!("invalid_request", &format!("unknown prompt value \"{bad}\""));
        }
        if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
            refuse!("invalid_request", "prompt=none cannot be combined with other values");
        }
        pending.fresh_login = prompt.iter().any(|p| p == "login");
        pending.prompt = prompt;
        pending.wants_mfa = q
            .acr_values
            .as_deref()
            .is_some_and(|v| v.split_whitespace().any(|a| a == crate::model::ACR_MFA));
        if let Some(raw) = q.max_age.as_deref() {
            match raw.parse::<i64>() {
                Ok(age) if age >= 0 => pending.max_age = Some(age),
                _ => refuse!("invalid_request", "max_age must be a number of seconds"),
            }
        }
        if let Some(resource) = q.resource.as_deref() {
            if !app.resources.iter().any(|r| r == resource) {
                refuse!("invalid_target", "the resource is not registered for this application");
            }
            pending.resource = Some(resource.to_owned());
        }
        if let Some(slug) = q.organization.as_deref() {
            let org = store::orgs::find_by_slug(&self.db, slug).await?.filter(|o| o.active);
            match org {
                Some(org) if app.multi_org || org.id == app.org_id => {}
                Some(_) => refuse!("invalid_request", "this application belongs to another organisation"),
                None => refuse!("invalid_request", "no such organisation"),
            }
        }
        Ok(Ok(pending))
    }

    /// The request the handle names, with its chosen organisation.
    async fn pending(&self, handle: &str) -> Result<Option<(Pending, Option<Uuid>)>> {
        let Some(stored) =
            store::provider::find_request(&self.db, &crypto::token_digest(handle), self.changes.now()).await?
        else {
            return Ok(None);
        };
        let pending: Pending = serde_json::from_str(&stored.params).map_err(|e| ServiceError::Internal(e.into()))?;
        Ok(Some((pending, stored.org_id)))
    }

    async fn save(&self, handle: &str, pending: &Pending, org_id: Option<Uuid>) -> Result<()> {
        let params = serde_json::to_string(pending).map_err(|e| ServiceError::Internal(e.into()))?;
        store::provider::update_request(&self.db, &crypto::token_digest(handle), params, org_id).await?;
        Ok(())
    }

    async fn login_view(
        &self,
        handle: &str,
        pending: &Pending,
        app: &Application,
        error: Option<String>,
    ) -> Result<Step> {
        Ok(Step::Login(LoginView {
            handle: handle.to_owned(),
            branding: self.branding(app).await?,
            login: pending.login_hint.clone().unwrap_or_default(),
            error,
            providers: vec![],
            sso_asked: false,
            passkeys: self.auth.mfa().passkeys_available(),
        }))
    }

    /// The user just logged in on this request's page: a fresh login was asked for and given.
    async fn logged_in(&self, handle: &str, mut pending: Pending, org_id: Option<Uuid>) -> Result<Pending> {
        if pending.fresh_login {
            pending.fresh_login = false;
            self.save(handle, &pending, org_id).await?;
        }
        Ok(pending)
    }

    /// Takes the request as far as it goes without the user.
    async fn advance(
        &self,
        handle: &str,
        pending: Pending,
        org_id: Option<Uuid>,
        browser: Option<BrowserSession>,
    ) -> Result<Step> {
        let Some(app) = self.app(&pending.client_id).await? else {
            return Ok(error_page(
                "Unknown application",
                "The application is no longer registered.",
            ));
        };
        let now = self.changes.now();
        // `fresh_login` holds until the user logs in on this request's own login page.
        let usable = browser.filter(|b| {
            !pending.fresh_login
                && pending
                    .max_age
                    .is_none_or(|age| (now - b.auth_time).num_seconds() <= age)
        });
        let none = pending.prompts("none");
        let Some(browser) = usable else {
            if none {
                return Ok(self.respond_error(&pending, "login_required", "the user is not logged in"));
            }
            return self.login_view(handle, &pending, &app, None).await;
        };
        let Some(user) = store::users::find(&self.db, browser.user_id)
            .await?
            .filter(|u| u.active)
        else {
            return self.login_view(handle, &pending, &app, None).await;
        };
        if pending.prompts("select_account") && !pending.account_chosen {
            return Ok(Step::SelectAccount {
                handle: handle.to_owned(),
                branding: self.branding(&app).await?,
                user: user.email,
            });
        }
        let org_id = match org_id {
            Some(org) => org,
            None if !app.multi_org => app.org_id,
            None => match pending.organization.as_deref() {
                Some(slug) => match store::orgs::find_by_slug(&self.db, slug).await?.filter(|o| o.active) {
                    Some(org) => org.id,
                    None => return Ok(self.respond_error(&pending, "invalid_request", "no such organisation")),
                },
                None => {
                    let orgs = self.orgs_of(user.id).await?;
                    match orgs.as_slice() {
                        [] => {
                            return Ok(self.respond_error(
                                &pending,
                                "access_denied",
                                "the user belongs to no organisation",
                            ));
                        }
                        [only] => only.0,
                        _ if none => {
                            return Ok(self.respond_error(
                                &pending,
                                "interaction_required",
                                "the user must pick an organisation",
                            ));
                        }
                        many => {
                            return Ok(Step::PickOrg {
                                handle: handle.to_owned(),
                                branding: self.branding(&app).await?,
                                orgs: many.iter().map(|(_, choice)| choice.clone()).collect(),
                            });
                        }
                    }
                }
            },
        };
        let required = match self.authn.context(user.id, org_id).await? {
            Ok(context) => context.org.require_mfa,
            Err(Denial::NotAMember) => {
                return Ok(self.respond_error(
                    &pending,
                    "access_denied",
                    "the user is not a member of the application's organisation",
                ));
            }
            Err(_) => {
                return Ok(self.respond_error(&pending, "access_denied", "the account or organisation is not active"));
            }
        };
        if let Some(step) = self
            .second_factor_due(handle, &pending, &app, required, &browser)
            .await?
        {
            return Ok(step);
        }
        let needs_consent = if pending.consented {
            false
        } else if pending.device.is_some() {
            true
        } else if app.first_party {
            false
        } else {
            let remembered = store::provider::consent(&self.db, user.id, &app.client_id).await?;
            pending.prompts("consent")
                || !remembered.is_some_and(|granted| pending.scopes.iter().all(|s| granted.contains(s)))
        };
        if needs_consent {
            if none {
                return Ok(self.respond_error(&pending, "consent_required", "the user has not consented"));
            }
            let user_code = match &pending.device {
                Some(digest) => store::provider::device_by_code(&self.db, digest)
                    .await?
                    .map(|d| d.user_code),
                None => None,
            };
            return Ok(Step::Consent(ConsentView {
                handle: handle.to_owned(),
                branding: self.branding(&app).await?,
                user: user.email,
                scopes: pending.scopes.iter().map(|s| (s.clone(), describe_scope(s))).collect(),
                user_code,
            }));
        }
        self.finish(handle, pending, &app, org_id, &browser).await
    }

    /// The user's active organisations, with how to show them.
    async fn orgs_of(&self, user_id: Uuid) -> Result<Vec<(Uuid, OrgChoice)>> {
        let mut orgs = Vec::new();
        for id in store::members::orgs_of(&self.db, user_id).await? {
            if let Some(org) = store::orgs::find(&self.db, id).await?.filter(|o| o.active) {
                orgs.push((
                    org.id,
                    OrgChoice {
                        slug: org.slug,
                        name: org.name,
                    },
                ));
            }
        }
        Ok(orgs)
    }

    /// Answers the request: a code for the client (or the device's approval).
    async fn finish(
        &self,
        handle: &str,
        pending: Pending,
        app: &Application,
        org_id: Uuid,
        browser: &BrowserSession,
    ) -> Result<Step> {
        let now = self.changes.now();
        let grant = CodeGrant {
            user_id: browser.user_id,
            org_id,
            browser_session_id: pending.device.is_none().then_some(browser.id),
            redirect_uri: pending.redirect_uri.clone(),
            code_challenge: pending.code_challenge.clone(),
            nonce: pending.nonce.clone(),
            scopes: pending.scopes.clone(),
            resource: pending.resource.clone(),
            auth_time: browser.auth_time.timestamp(),
            amr: browser.amr.clone(),
            acr: browser.acr.clone(),
        };
        let grant_json = serde_json::to_string(&grant).map_err(|e| ServiceError::Internal(e.into()))?;
        let change = self.changes.begin().await?;
        if !store::provider::take_request(change.tx(), &crypto::token_digest(handle)).await? {
            return Ok(error_page("Request already answered", EXPIRED));
        }
        if let Some(device) = &pending.device {
            let approved =
                store::provider::settle_device(change.tx(), device, "pending", "approved", Some(grant_json)).await?;
            change.commit().await?;
            return Ok(if approved {
                Step::DeviceDone {
                    approved: true,
                    client_name: app.name.clone(),
                }
            } else {
                error_page(
                    "Code already used",
                    "This device code was already approved, denied or has expired.",
                )
            });
        }
        let code = crypto::random_token().map_err(no_randomness)?;
        store::provider::insert_code(
            change.tx(),
            crypto::token_digest(&code),
            &app.client_id,
            grant_json,
            now,
            now + Duration::seconds(CODE_TTL_SECONDS),
        )
        .await?;
        change.commit().await?;
        let mut params = vec![("code", code)];
        params.extend(pending.state.clone().map(|s| ("state", s)));
        params.push(("iss", self.issuer().to_owned()));
        Ok(Step::Respond {
            redirect_uri: pending.redirect_uri,
            mode: pending.response_mode,
            params,
        })
    }

    /// Loads the request a page's form names, or the error page saying it is gone.
    async fn resume(&self, handle: &str) -> Result<std::result::Result<(Pending, Option<Uuid>), Step>> {
        Ok(self
            .pending(handle)
            .await?
            .ok_or_else(|| error_page("Request expired", EXPIRED)))
    }

    /// The login form: a password login starts a new browser session (the cookie rotates).
    pub async fn login(
        &self,
        handle: &str,
        login: String,
        password: String,
        browser: Option<&str>,
        client: ClientInfo,
    ) -> Result<Answer> {
        let (pending, org_id) = match self.resume(handle).await? {
            Ok(found) => found,
            Err(step) => return Ok(step.into()),
        };
        let Some(app) = self.app(&pending.client_id).await? else {
            return Ok(error_page("Unknown application", "The application is no longer registered.").into());
        };
        let shown_login = login.clone();
        let again = |message: &str| message.to_owned();
        let input = match Login::parse(Some(login), password, None) {
            Ok(input) => input,
            Err(_) => {
                let mut view = self
                    .login_view(
                        handle,
                        &pending,
                        &app,
                        Some(again("Enter your email or username and your password.")),
                    )
                    .await?;
                if let Step::Login(v) = &mut view {
                    v.login = shown_login;
                }
                return Ok(view.into());
            }
        };
        let checked = match self.auth.check_password(input, &client).await {
            Ok(checked) => checked,
            Err(e) => {
                let message = match e {
                    ServiceError::InvalidCredentials => "Incorrect email/username or password.".to_owned(),
                    ServiceError::TooManyAttempts(wait) => {
                        format!("Too many failed logins for this account; try again in {wait} seconds.")
                    }
                    ServiceError::Overloaded => "The server is busy; try again in a few seconds.".to_owned(),
                    ServiceError::Forbidden("email_not_verified", _) => {
                        "Confirm your email address first: follow the link in the mail guildhall sent you.".to_owned()
                    }
                    other => return Err(other),
                };
                let mut view = self.login_view(handle, &pending, &app, Some(message)).await?;
                if let Step::Login(v) = &mut view {
                    v.login = shown_login;
                }
                return Ok(view.into());
            }
        };
        let user = checked.user;
        if checked.second_factor {
            // No browser session before the second factor.
            return Ok(self
                .ask_second_factor(handle, &app, user.id, &["pwd".to_owned()])
                .await?
                .into());
        }
        let previous = self.browser_session(browser).await?;
        let (session, cookie) = self
            .start_browser_session(user.id, &["pwd"], previous.as_ref(), client.ip)
            .await?;
        let pending = self.logged_in(handle, pending, org_id).await?;
        let step = self.advance(handle, pending, org_id, Some(session)).await?;
        Ok(Answer {
            step,
            cookie: CookieChange::Set(cookie),
        })
    }

    /// "Log in with single sign-on": the providers that serve the email's domain.
    pub async fn single_sign_on(&self, handle: &str, email: String) -> Result<Step> {
        let (pending, _) = match self.resume(handle).await? {
            Ok(found) => found,
            Err(step) => return Ok(step),
        };
        let Some(app) = self.app(&pending.client_id).await? else {
            return Ok(error_page(
                "Unknown application",
                "The application is no longer registered.",
            ));
        };
        let email = email.trim().to_lowercase();
        let served = if email.contains('@') {
            self.oidc.discover(&email).await?
        } else {
            vec![]
        };
        let error = served
            .is_empty()
            .then(|| "No single sign-on serves this address; log in with your password.".to_owned());
        Ok(Step::Login(LoginView {
            handle: handle.to_owned(),
            branding: self.branding(&app).await?,
            login: email,
            error,
            providers: served
                .into_iter()
                .map(|p| ProviderButton {
                    slug: p.slug,
                    name: p.name,
                })
                .collect(),
            sso_asked: true,
            passkeys: self.auth.mfa().passkeys_available(),
        }))
    }

    /// Starts a login at an external identity provider for the request: where to send the
    /// browser, and the cookie binding that login to it.
    pub async fn federate(
        &self,
        handle: &str,
        provider: &str,
    ) -> std::result::Result<crate::service::oidc::Started, OidcError> {
        if self.pending(handle).await?.is_none() {
            return Err(OidcError::Invalid("invalid_request", "the login request has expired"));
        }
        let back = self.endpoint("/oauth2/federated/return");
        self.oidc.begin_hosted(provider, &back, handle.to_owned()).await
    }

    /// Back from the external provider: the one-time code it left names the account; a new
    /// browser session starts (`amr: fed`).
    pub async fn federated(
        &self,
        handle: &str,
        code: Option<&str>,
        error: Option<&str>,
        browser: Option<&str>,
        client: ClientInfo,
    ) -> Result<Answer> {
        let (pending, org_id) = match self.resume(handle).await? {
            Ok(found) => found,
            Err(step) => return Ok(step.into()),
        };
        let Some(app) = self.app(&pending.client_id).await? else {
            return Ok(error_page("Unknown application", "The application is no longer registered.").into());
        };
        let grant = match code {
            Some(code) => store::oidc::take_code(&self.db, &crypto::token_digest(code), self.changes.now()).await?,
            None => None,
        };
        let Some(grant) = grant else {
            let message = match error {
                Some("access_denied") => "The login was refused at your identity provider.",
                Some("membership_removed") => "You were removed from this organisation; an admin must add you again.",
                Some(_) => "Your identity provider could not log you in.",
                None => "The single sign-on answer was incomplete; try again.",
            };
            return Ok(self
                .login_view(handle, &pending, &app, Some(message.to_owned()))
                .await?
                .into());
        };
        let previous = self.browser_session(browser).await?;
        let (session, cookie) = self
            .start_browser_session(grant.user_id, &["fed"], previous.as_ref(), client.ip)
            .await?;
        let pending = self.logged_in(handle, pending, org_id).await?;
        let step = self.advance(handle, pending, org_id, Some(session)).await?;
        Ok(Answer {
            step,
            cookie: CookieChange::Set(cookie),
        })
    }

    /// The select-account page: continue as the logged-in user, or log in as someone else.
    pub async fn select_account(&self, handle: &str, another: bool, browser: Option<&str>) -> Result<Answer> {
        let (mut pending, org_id) = match self.resume(handle).await? {
            Ok(found) => found,
            Err(step) => return Ok(step.into()),
        };
        pending.account_chosen = true;
        let session = self.browser_session(browser).await?;
        if another {
            pending.fresh_login = true;
            self.save(handle, &pending, org_id).await?;
            if let Some(session) = &session {
                self.end_browser_session(session, "another_account").await?;
            }
            let step = self.advance(handle, pending, org_id, None).await?;
            return Ok(Answer {
                step,
                cookie: CookieChange::Clear,
            });
        }
        self.save(handle, &pending, org_id).await?;
        Ok(self.advance(handle, pending, org_id, session).await?.into())
    }

    /// The organisation picker: one of the user's organisations.
    pub async fn pick_org(&self, handle: &str, slug: &str, browser: Option<&str>) -> Result<Step> {
        let (pending, _) = match self.resume(handle).await? {
            Ok(found) => found,
            Err(step) => return Ok(step),
        };
        let Some(session) = self.browser_session(browser).await? else {
            return self.advance(handle, pending, None, None).await;
        };
        let orgs = self.orgs_of(session.user_id).await?;
        let Some((org_id, _)) = orgs.into_iter().find(|(_, o)| o.slug == slug) else {
            return Ok(error_page("Not a member", "You are not a member of that organisation."));
        };
        self.save(handle, &pending, Some(org_id)).await?;
        self.advance(handle, pending, Some(org_id), Some(session)).await
    }

    /// The consent page: allowed (remembered for the user and client) or refused.
    pub async fn consent(&self, handle: &str, allow: bool, browser: Option<&str>) -> Result<Step> {
        let (mut pending, org_id) = match self.resume(handle).await? {
            Ok(found) => found,
            Err(step) => return Ok(step),
        };
        let Some(session) = self.browser_session(browser).await? else {
            return self.advance(handle, pending, org_id, None).await;
        };
        if !allow {
            let Some(app) = self.app(&pending.client_id).await? else {
                return Ok(error_page(
                    "Unknown application",
                    "The application is no longer registered.",
                ));
            };
            if !store::provider::take_request(&self.db, &crypto::token_digest(handle)).await? {
                return Ok(error_page("Request already answered", EXPIRED));
            }
            if let Some(device) = &pending.device {
                store::provider::settle_device(&self.db, device, "pending", "denied", None).await?;
                return Ok(Step::DeviceDone {
                    approved: false,
                    client_name: app.name,
                });
            }
            return Ok(self.respond_error(&pending, "access_denied", "the user refused"));
        }
        if pending.device.is_none() {
            let mut granted = store::provider::consent(&self.db, session.user_id, &pending.client_id)
                .await?
                .unwrap_or_default();
            for s in &pending.scopes {
                if !granted.contains(s) {
                    granted.push(s.clone());
                }
            }
            store::provider::grant_consent(
                &self.db,
                session.user_id,
                &pending.client_id,
                &granted,
                self.changes.now(),
            )
            .await?;
        }
        pending.consented = true;
        self.save(handle, &pending, org_id).await?;
        self.advance(handle, pending, org_id, Some(session)).await
    }

    /// Starts the hosted flow for a device's user code (RFC 8628 §3.3): the same login,
    /// organisation and (always) confirmation as an authorization request.
    pub(super) async fn start_device_request(
        &self,
        app: &Application,
        device_digest: String,
        scopes: Vec<String>,
        browser: Option<&str>,
    ) -> Result<Answer> {
        let pending = Pending {
            client_id: app.client_id.clone(),
            redirect_uri: String::new(),
            response_mode: ResponseMode::Query,
            state: None,
            nonce: None,
            scopes,
            code_challenge: None,
            prompt: vec![],
            max_age: None,
            login_hint: None,
            organization: None,
            resource: None,
            created_at: self.changes.now().timestamp(),
            account_chosen: false,
            fresh_login: false,
            consented: false,
            device: Some(device_digest),
            wants_mfa: false,
        };
        let handle = crypto::random_token().map_err(no_randomness)?;
        let now = self.changes.now();
        let params = serde_json::to_string(&pending).map_err(|e| ServiceError::Internal(e.into()))?;
        let stored = PendingRequest {
            client_id: app.client_id.clone(),
            params,
            org_id: None,
            expires_at: now + Duration::minutes(REQUEST_TTL_MINUTES),
        };
        store::provider::insert_request(&self.db, crypto::token_digest(&handle), &stored, now).await?;
        let browser = self.browser_session(browser).await?;
        Ok(self.advance(&handle, pending, None, browser).await?.into())
    }
}
