//! The web console (`/console`, an organisation's admins) and the account page (`/account`,
//! every user): server-rendered pages (askama, as the hosted pages), every form with the hosted
//! pages' CSRF token (double submit), every page under a strict Content-Security-Policy, and
//! every action through the same services as the API with the same `Caller`: the console has no
//! rules of its own.
//!
//! **Login.** The console is a first-party public client of guildhall itself
//! (`guildhall-console`, made at first start, multi-organisation): a page without a console
//! session starts code + PKCE at `/oauth2/authorize` (state and verifier in a ten-minute cookie
//! on `/console`), the hosted login (and its second factor, and the organisation picker)
//! follows, and `/console/callback` exchanges the code in-process at the token endpoint's own
//! grant. The access token is kept in an HttpOnly cookie (`guildhall_console`, SameSite=Lax);
//! when it expires, the next page goes through the authorization endpoint again, silently while
//! the browser session lives. "Log out" ends the console's session and the browser session.
//!
//! **Failure.** A missing or stale CSRF token, another organisation's id in a URL (404, as the
//! API answers), a refused action and a lost database each get a page in the console's layout;
//! a form that is refused is shown again with the errors beside its fields and what was typed.
mod account;
mod apps;
mod audit;
mod domains;
mod email_domains;
mod invitation;
mod org;
mod organisations;
mod providers;
mod roles;
mod settings;

use super::openid::pages::{CSRF_COOKIE, PageContext, PageForm, Scripts, cookie};
use super::state::AppState;
use crate::crypto;
use crate::http::error::ApiError;
use crate::model::ClientInfo;
use crate::service::ServiceError;
use crate::service::authn::Credential;
use crate::service::authz::Caller;
use crate::service::bootstrap::{CONSOLE_CLIENT_ID, console_callback};
use crate::service::openid::{Client, TokenRequest};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The console's session: the access token of its own client.
pub const CONSOLE_COOKIE: &str = "guildhall_console";
/// A console login in progress: `state.verifier`.
const LOGIN_COOKIE: &str = "guildhall_console_login";

pub const CONSOLE_STYLE: &str = include_str!("../../../templates/console/console.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/login", get(login))
        .route("/console/callback", get(callback))
        .route("/console/logout", post(logout))
        .route("/console/assets/console.css", get(style))
        .route("/console/members", get(org::members))
        .route("/console/members/{id}/remove", post(org::remove_member))
        .route("/console/members/{id}/roles", post(org::set_roles))
        .route("/console/invitations", get(org::invitations).post(org::invite))
        .route("/console/invitations/{id}/revoke", post(org::revoke_invitation))
        .route("/console/invitations/{id}/resend", post(org::resend_invitation))
        .route("/console/teams", get(org::teams).post(org::create_team))
        .route("/console/teams/{id}", get(org::team).post(org::rename_team))
        .route("/console/teams/{id}/members", post(org::add_team_member))
        .route(
            "/console/teams/{id}/members/{user_id}/remove",
            post(org::remove_team_member),
        )
        .route("/console/domains", get(domains::domains).post(domains::create))
        .route("/console/domains/{id}", get(domains::domain).post(domains::update))
        .route("/console/domains/{id}/users", post(domains::assign))
        .route("/console/audit", get(audit::audit))
        .route("/console/events", get(audit::events))
        .route("/console/settings", get(settings::page).post(settings::save))
        .route("/console/providers", get(providers::page).post(providers::create))
        .route(
            "/console/providers/{id}",
            get(providers::provider).post(providers::update),
        )
        .route("/console/providers/{id}/test", post(providers::test))
        .route("/console/providers/{id}/mappings", post(providers::add_mapping))
        .route(
            "/console/providers/{id}/mappings/remove",
            post(providers::remove_mapping),
        )
        .route(
            "/console/organisations",
            get(organisations::page).post(organisations::create),
        )
        .route("/console/organisations/{id}/active", post(organisations::set_active))
        .route(
            "/console/email-domains",
            get(email_domains::page).post(email_domains::claim),
        )
        .route("/console/email-domains/{domain}/verify", post(email_domains::verify))
        .route(
            "/console/email-domains/{domain}/policy",
            post(email_domains::set_policy),
        )
        .route("/console/roles", get(roles::page).post(roles::create))
        .route("/console/roles/{id}", post(roles::update))
        .route("/console/applications", get(apps::page).post(apps::create_app))
        .route("/console/applications/{id}/secret", post(apps::rotate))
        .route("/console/service-accounts", post(apps::create_account))
        .route("/console/service-accounts/{id}/remove", post(apps::remove_account))
        .route("/account/invitation", get(invitation::page).post(invitation::accept))
        .route("/account", get(account::page))
        .route("/account/profile", post(account::profile))
        .route("/account/password", post(account::password))
        .route("/account/sessions/{id}/revoke", post(account::revoke_session))
        .route("/account/sessions/revoke-all", post(account::revoke_all))
        .route("/account/identities/{id}/unlink", post(account::unlink_identity))
        .route("/account/totp", post(account::start_totp))
        .route("/account/totp/confirm", post(account::confirm_totp))
        .route("/account/passkeys/options", post(account::passkey_options))
        .route("/account/passkeys", post(account::add_passkey))
        .route("/account/passkeys/remove", post(account::remove_passkey))
        .route("/account/leave", post(account::leave))
        .route("/console/assets/account.js", get(account_script))
        .route("/console/assets/htmx.min.js", get(htmx))
}

pub const ACCOUNT_SCRIPT: &str = include_str!("../../../templates/console/account.js");
/// htmx 2.0.11 (BSD-0, `src/http/assets/htmx.LICENSE`), vendored: the console's pages load it
/// from guildhall itself, never from a CDN.
pub const HTMX: &str = include_str!("../assets/htmx.min.js");

async fn htmx() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        HTMX,
    )
}

async fn account_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        ACCOUNT_SCRIPT,
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CONSOLE_STYLE,
    )
}

/// What every console page shows around its content: who is logged in, where, the CSRF token
/// of its forms, and which section is open.
pub struct Nav {
    pub email: String,
    pub org_name: String,
    pub admin: bool,
    pub superuser: bool,
    pub csrf: String,
    pub section: &'static str,
}

/// A logged-in console request: the caller (exactly as a bearer of the same token), its page
/// context (CSRF) and the navigation.
pub struct Console {
    pub caller: Caller,
    pub page: PageContext,
    pub nav: Nav,
}

/// The form of a POST carries the browser's CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

impl Console {
    /// The console session of the request, or the answer to give instead: a redirect into the
    /// login (`from` is where to come back) when there is none or it expired.
    pub async fn of(
        state: &AppState,
        headers: &HeaderMap,
        from: &str,
        section: &'static str,
    ) -> Result<Self, Response> {
        let page = PageContext::new(headers, state.openid.secure_cookies());
        let Some(token) = cookie(headers, CONSOLE_COOKIE) else {
            return Err(page.redirect(&format!("/console/login?next={}", urlencode(from))));
        };
        let caller = match state.authn.caller(Credential::Bearer(token)).await {
            Ok(caller) => caller,
            Err(ServiceError::InvalidToken(_) | ServiceError::Unauthenticated | ServiceError::Unauthorized(..)) => {
                return Err(page.redirect(&format!("/console/login?next={}", urlencode(from))));
            }
            Err(e) => return Err(failure(&page, e)),
        };
        let org_name = match crate::store::orgs::find(&state.db, caller.org_id).await {
            Ok(Some(org)) => org.name,
            Ok(None) => String::new(),
            Err(e) => return Err(failure(&page, e.into())),
        };
        let nav = Nav {
            email: caller.email.clone(),
            org_name,
            admin: caller.org_admin || caller.superuser,
            superuser: caller.superuser,
            csrf: page.csrf.clone(),
            section,
        };
        Ok(Self { caller, page, nav })
    }

    /// As `of`, for a form: its CSRF token must be the browser's.
    pub async fn posted(
        state: &AppState,
        headers: &HeaderMap,
        csrf: &str,
        from: &str,
        section: &'static str,
    ) -> Result<Self, Response> {
        let console = Self::of(state, headers, from, section).await?;
        if !PageContext::form_is_ours(headers, csrf) {
            return Err(console.message(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not sent from this browser's console page (its security token is missing or wrong). Reload the page and try again.",
            ));
        }
        Ok(console)
    }

    /// A console page: guildhall's own scripts only (htmx, and the account page's passkey
    /// script), no inline script.
    pub fn render(&self, status: StatusCode, page: &impl Template) -> Response {
        self.render_with(status, page, Scripts::Own)
    }

    pub fn render_with(&self, status: StatusCode, page: &impl Template, scripts: Scripts) -> Response {
        match page.render() {
            Ok(body) => self.page.html(status, body, &[], scripts),
            Err(e) => {
                tracing::error!(error = %e, "cannot render a console page");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    /// A page with a title and a sentence, in the console's layout.
    pub fn message(&self, status: StatusCode, title: &str, message: &str) -> Response {
        let page = MessagePage {
            nav: &self.nav,
            title,
            message,
        };
        self.render(status, &page)
    }

    /// What a refused or failed action looks like: the service's reason for a 4xx (never a
    /// cause for a 5xx, which is logged).
    pub fn failed(&self, e: ServiceError) -> Response {
        let error = ApiError::from(e);
        let status = error.status();
        let detail = error.body().1;
        let (title, message) = match status {
            StatusCode::NOT_FOUND => (
                "Not found",
                "There is nothing here, or it is not yours to see.".to_owned(),
            ),
            StatusCode::FORBIDDEN => (
                "Not allowed",
                "Your role in this organisation does not allow this.".to_owned(),
            ),
            StatusCode::SERVICE_UNAVAILABLE => (
                "Try again in a moment",
                "guildhall is busy or cannot reach its database; nothing was changed.".to_owned(),
            ),
            s if s.is_client_error() => ("That did not work", detail),
            _ => (
                "Something went wrong",
                "Something went wrong on our side; nothing was changed. Try again.".to_owned(),
            ),
        };
        self.message(status, title, &message)
    }

    /// The member of the console's organisation with this email (as typed), if there is one.
    pub async fn member_by_email(
        &self,
        state: &AppState,
        email: &str,
    ) -> Result<Option<crate::model::OrgMember>, ServiceError> {
        let email = email.trim().to_lowercase();
        let org = crate::model::OrgId(self.caller.org_id);
        let first = crate::model::PageRequest { limit: 50, after: None };
        let page = state
            .orgs
            .members_matching(&self.caller, org, Some(&email), first)
            .await?;
        Ok(page.items.into_iter().find(|m| m.user.email == email))
    }

    /// After a successful form: back to `to` (303, so a reload does not post again).
    pub fn done(&self, to: &str) -> Response {
        let mut response = self.page.redirect(to);
        *response.status_mut() = StatusCode::SEE_OTHER;
        response
    }
}

/// The caller of the request's console session, if it has a live one.
pub async fn console_session(state: &AppState, headers: &HeaderMap) -> Option<Caller> {
    let token = cookie(headers, CONSOLE_COOKIE)?;
    state.authn.caller(Credential::Bearer(token)).await.ok()
}

/// A failure before there is a console session (no layout yet).
fn failure(page: &PageContext, e: ServiceError) -> Response {
    let status = ApiError::from(e).status();
    page.message(
        status,
        &super::openid::pages::house(),
        "Something went wrong",
        "guildhall is busy or cannot reach its database; try again in a moment.",
    )
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    nav: &'a Nav,
    title: &'a str,
    message: &'a str,
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Only paths of the console and the account page are places to come back to.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if (n.starts_with("/console") || n.starts_with("/account")) && !n.contains("//") && !n.contains('\\') =>
        {
            n
        }
        _ => "/console/members",
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match Console::of(&state, &headers, "/console", "members").await {
        Ok(console) if console.nav.admin => console.done("/console/members"),
        Ok(console) => console.done("/account"),
        Err(answer) => answer,
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    /// Switch to this organisation (its slug): the authorization request names it.
    organization: Option<String>,
}

/// Starts the console's code + PKCE login at guildhall's own authorization endpoint.
async fn login(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let page = PageContext::new(&headers, state.openid.secure_cookies());
    let (Ok(state_value), Ok(verifier)) = (crypto::random_token(), crypto::random_token()) else {
        return failure(&page, ServiceError::Internal(anyhow::anyhow!("no randomness")));
    };
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let next = safe_next(q.next.as_deref());
    let redirect = console_callback(&state.config);
    let mut params = vec![
        ("client_id", CONSOLE_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", redirect.as_str()),
        ("scope", "openid email profile"),
        ("state", state_value.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if let Some(org) = q.organization.as_deref().filter(|o| !o.is_empty()) {
        params.push(("organization", org));
    }
    let location = crate::service::with_query("/oauth2/authorize", &params);
    let mut response = page.redirect(&location);
    let value = format!(
        "{LOGIN_COOKIE}={state_value}.{verifier}.{}; Path=/console; Max-Age=600; HttpOnly; SameSite=Lax{}",
        URL_SAFE_NO_PAD.encode(next),
        secure(&state)
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn secure(state: &AppState) -> &'static str {
    if state.openid.secure_cookies() { "; Secure" } else { "" }
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The authorization response: the state must be this browser's login, the code is exchanged
/// (with the PKCE verifier) in-process, and the access token becomes the console's session.
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    from: ClientInfo,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let page = PageContext::new(&headers, state.openid.secure_cookies());
    let house = super::openid::pages::house();
    let login = cookie(&headers, LOGIN_COOKIE).and_then(|v| {
        let mut parts = v.splitn(3, '.');
        Some((parts.next()?, parts.next()?, parts.next()?))
    });
    let Some((expected, verifier, next)) = login else {
        return page.message(
            StatusCode::BAD_REQUEST,
            &house,
            "The login took too long",
            "This browser has no console login in progress (it expires after ten minutes). Open the console again.",
        );
    };
    if q.state.as_deref() != Some(expected) {
        return page.message(
            StatusCode::BAD_REQUEST,
            &house,
            "The login does not match",
            "The answer belongs to another login. Open the console again.",
        );
    }
    if let Some(error) = q.error {
        let message = if error == "access_denied" {
            "The login was cancelled."
        } else {
            "The login did not finish. Open the console again."
        };
        return page.message(StatusCode::BAD_REQUEST, &house, "Not logged in", message);
    }
    let app = match crate::store::apps::by_client_id(&state.db, CONSOLE_CLIENT_ID).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            return failure(
                &page,
                ServiceError::Internal(anyhow::anyhow!("the console's client is gone")),
            );
        }
        Err(e) => return failure(&page, e.into()),
    };
    let request = TokenRequest {
        grant_type: Some("authorization_code".into()),
        code: q.code,
        redirect_uri: Some(console_callback(&state.config)),
        code_verifier: Some(verifier.to_owned()),
        refresh_token: None,
        scope: None,
        resource: None,
        device_code: None,
    };
    let answer = match state.openid.token(Client::App(Box::new(app)), request, from).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::info!(error = ?e, "the console's code exchange was refused");
            return page.message(
                StatusCode::BAD_REQUEST,
                &house,
                "Not logged in",
                "The login could not be finished (the code expired or was used). Open the console again.",
            );
        }
    };
    let next = URL_SAFE_NO_PAD
        .decode(next)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let mut response = page.redirect(safe_next(Some(&next)));
    *response.status_mut() = StatusCode::SEE_OTHER;
    let session = format!(
        "{CONSOLE_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{}",
        answer.access_token,
        secure(&state)
    );
    let clear = format!(
        "{LOGIN_COOKIE}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Lax{}",
        secure(&state)
    );
    for value in [session, clear] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Logs out of the console: its session ends (the API's logout), and so does the browser
/// session of the hosted login (the RP-initiated logout the console asks for).
async fn logout(State(state): State<AppState>, headers: HeaderMap, PageForm(form): PageForm<CsrfOnly>) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console", "members").await {
        Ok(console) => console,
        Err(answer) => return answer,
    };
    if let Err(e) = state.auth.logout(&console.caller).await {
        return console.failed(e);
    }
    let mut response = console.done("/oauth2/logout?client_id=guildhall-console");
    let clear = format!(
        "{CONSOLE_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
        secure(&state)
    );
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The cookie the console's forms are checked against, for tests that build forms by hand.
pub const FORM_COOKIE: &str = CSRF_COOKIE;

/// Field errors of a refused form, by field, for showing beside the fields.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn of(e: &ServiceError) -> Option<Self> {
        match e {
            ServiceError::Validation(errors) => Some(Self(
                errors.iter().map(|f| (f.field.clone(), f.message.clone())).collect(),
            )),
            _ => None,
        }
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    pub fn one(field: &str, message: &str) -> Self {
        Self(vec![(field.to_owned(), message.to_owned())])
    }

    /// The message for `field` (or one of its items: `redirect_uris[1]`, `teams.ops`), if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| {
                f == field
                    || f.strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
            })
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
