//! The hosted pages' handlers: the authorization endpoint (GET or form POST), the login,
//! single sign-on, select-account, organisation and consent forms, the external provider's
//! return, logout, and the device page. Each form's CSRF token is checked first; a page that
//! cannot go on is an HTML error page (never JSON, never a redirect to an unverified address).
use super::pages::{PageContext, PageForm, SESSION_COOKIE, cookie, house};
use crate::http::state::AppState;
use crate::model::ClientInfo;
use crate::service::ServiceError;
use crate::service::openid::{Answer, AuthorizeQuery, CookieChange, LogoutQuery, LogoutStep};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

fn context(state: &AppState, headers: &HeaderMap) -> PageContext {
    PageContext::new(headers, state.openid.secure_cookies())
}

/// What a failure of the service looks like on a page: its cause is logged, never shown.
fn failed(page: &PageContext, e: ServiceError) -> Response {
    let status = crate::http::error::ApiError::from(e).status();
    let message = if status == StatusCode::SERVICE_UNAVAILABLE {
        "guildhall is busy or cannot reach its database; try again in a moment."
    } else {
        "Something went wrong on our side. Try again; if it keeps happening, tell the application's administrators."
    };
    page.message(status, &house(), "Something went wrong", message)
}

fn csrf_refused(page: &PageContext) -> Response {
    page.message(
        StatusCode::FORBIDDEN,
        &house(),
        "This form has expired",
        "The form was not sent from this browser's guildhall page (its security token is missing or wrong). Go back, reload the page and try again.",
    )
}

fn answer(page: &PageContext, result: Result<Answer, ServiceError>) -> Response {
    match result {
        Ok(Answer { step, cookie }) => {
            let mut response = page.step(step);
            match cookie {
                CookieChange::Keep => {}
                CookieChange::Set(value) => page.session_cookie(&mut response, Some(&value)),
                CookieChange::Clear => page.session_cookie(&mut response, None),
            }
            response
        }
        Err(e) => failed(page, e),
    }
}

fn session(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
}

/// `GET /oauth2/authorize`.
pub async fn authorize_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Response {
    let page = context(&state, &headers);
    let Ok(Query(query)) = query else {
        return page.message(
            StatusCode::BAD_REQUEST,
            &house(),
            "Malformed request",
            "The authorization request is malformed (a parameter is repeated or not text).",
        );
    };
    answer(&page, state.openid.authorize(query, session(&headers)).await)
}

/// `POST /oauth2/authorize` (OIDC Core §3.1.2.1: form-encoded, the same parameters).
pub async fn authorize_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(query): PageForm<AuthorizeQuery>,
) -> Response {
    let page = context(&state, &headers);
    answer(&page, state.openid.authorize(query, session(&headers)).await)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    PageForm(form): PageForm<LoginForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    let result = state
        .openid
        .login(&form.handle, form.login, form.password, session(&headers), client)
        .await;
    answer(&page, result)
}

#[derive(Debug, Deserialize)]
pub struct SsoForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub async fn single_sign_on(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<SsoForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    match state.openid.single_sign_on(&form.handle, form.email).await {
        Ok(step) => page.step(step),
        Err(e) => failed(&page, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct FederateQuery {
    handle: String,
    provider: String,
}

/// A provider button: off to the organisation's identity provider.
pub async fn federate(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<FederateQuery>, QueryRejection>,
) -> Response {
    let page = context(&state, &headers);
    let Ok(Query(query)) = query else {
        return page.message(
            StatusCode::BAD_REQUEST,
            &house(),
            "Malformed request",
            "The link is incomplete.",
        );
    };
    match state.openid.federate(&query.handle, &query.provider).await {
        Ok(started) => {
            let mut response = page.redirect(&started.location);
            let secure = if state.openid.secure_cookies() { "; Secure" } else { "" };
            let binding = format!(
                "guildhall_oidc={}; Path=/auth/oidc; Max-Age=600; HttpOnly; SameSite=Lax{secure}",
                started.browser
            );
            if let Ok(value) = axum::http::HeaderValue::from_str(&binding) {
                response.headers_mut().append(axum::http::header::SET_COOKIE, value);
            }
            response
        }
        Err(crate::service::oidc::OidcError::Service(e)) => failed(&page, e),
        Err(crate::service::oidc::OidcError::Unreachable(_)) => page.message(
            StatusCode::BAD_GATEWAY,
            &house(),
            "Single sign-on unavailable",
            "Your organisation's identity provider cannot be reached. Try again later or log in with your password.",
        ),
        Err(_) => page.message(
            StatusCode::BAD_REQUEST,
            &house(),
            "Single sign-on unavailable",
            "This identity provider cannot be used for this login. Go back and try again.",
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct ReturnQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Back from the external login (`/auth/oidc/{provider}/callback` sends the browser here).
pub async fn federated_return(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    query: Result<Query<ReturnQuery>, QueryRejection>,
) -> Response {
    let page = context(&state, &headers);
    let Ok(Query(query)) = query else {
        return page.message(
            StatusCode::BAD_REQUEST,
            &house(),
            "Malformed request",
            "The answer is incomplete.",
        );
    };
    let handle = query.state.unwrap_or_default();
    let result = state
        .openid
        .federated(
            &handle,
            query.code.as_deref(),
            query.error.as_deref(),
            session(&headers),
            client,
        )
        .await;
    answer(&page, result)
}

#[derive(Debug, Deserialize)]
pub struct ChoiceForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    choice: String,
}

pub async fn select_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<ChoiceForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    let another = form.choice == "another";
    answer(
        &page,
        state
            .openid
            .select_account(&form.handle, another, session(&headers))
            .await,
    )
}

#[derive(Debug, Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    organization: String,
}

pub async fn organization(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<OrgForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    match state
        .openid
        .pick_org(&form.handle, &form.organization, session(&headers))
        .await
    {
        Ok(step) => page.step(step),
        Err(e) => failed(&page, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

pub async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<ConsentForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    let allow = form.decision == "allow";
    match state.openid.consent(&form.handle, allow, session(&headers)).await {
        Ok(step) => page.step(step),
        Err(e) => failed(&page, e),
    }
}

fn logout_answer(
    state: &AppState,
    page: &PageContext,
    q: &LogoutQuery,
    step: Result<LogoutStep, ServiceError>,
) -> Response {
    match step {
        Ok(LogoutStep::Redirect(to)) => {
            let mut response = page.redirect(&to);
            page.session_cookie(&mut response, None);
            response
        }
        Ok(LogoutStep::LoggedOut) => {
            let mut response = page.message(
                StatusCode::OK,
                &house(),
                "You are logged out",
                "This browser is logged out of guildhall and of every application that used this login.",
            );
            page.session_cookie(&mut response, None);
            response
        }
        Ok(LogoutStep::Confirm { client_name, targets }) => {
            let mut carried = vec![];
            for (name, value) in [
                ("id_token_hint", &q.id_token_hint),
                ("post_logout_redirect_uri", &q.post_logout_redirect_uri),
                ("state", &q.state),
                ("client_id", &q.client_id),
            ] {
                if let Some(v) = value {
                    carried.push((name, v.clone()));
                }
            }
            page.logout_confirm(client_name.as_deref(), &carried, &targets)
        }
        Ok(LogoutStep::Error { title, message }) => page.message(StatusCode::BAD_REQUEST, &house(), title, &message),
        Err(e) => {
            let _ = state;
            failed(page, e)
        }
    }
}

/// `GET /oauth2/logout` (the end-session endpoint).
pub async fn logout_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LogoutQuery>, QueryRejection>,
) -> Response {
    let page = context(&state, &headers);
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let step = state.openid.logout_request(&q, session(&headers)).await;
    logout_answer(&state, &page, &q, step)
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(flatten)]
    query: LogoutQuery,
}

/// `POST /oauth2/logout`: the confirmation form (with our CSRF token), or an application's
/// form-encoded logout request (without one), which is handled like the GET.
pub async fn logout_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<LogoutForm>,
) -> Response {
    let page = context(&state, &headers);
    let step = match form.csrf.as_deref() {
        Some(csrf) if PageContext::form_is_ours(&headers, csrf) => {
            state.openid.logout_confirmed(&form.query, session(&headers)).await
        }
        Some(_) => return csrf_refused(&page),
        None => state.openid.logout_request(&form.query, session(&headers)).await,
    };
    logout_answer(&state, &page, &form.query, step)
}

#[derive(Debug, Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
}

/// `GET /device`: the form to enter a device's code (pre-filled from `verification_uri_complete`).
pub async fn device_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<DeviceQuery>, QueryRejection>,
) -> Response {
    let page = context(&state, &headers);
    let code = query.ok().and_then(|Query(q)| q.user_code).unwrap_or_default();
    let shown: String = code.chars().take(16).collect();
    page.device(&shown, None)
}

#[derive(Debug, Deserialize)]
pub struct DeviceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_code: String,
}

pub async fn device_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<DeviceForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    match state
        .openid
        .device_code_entered(&form.user_code, session(&headers))
        .await
    {
        Ok(Some(result)) => answer(&page, Ok(result)),
        Ok(None) => {
            let shown: String = form.user_code.chars().take(16).collect();
            page.device(
                &shown,
                Some("That code is unknown or has expired. Check your device and try again."),
            )
        }
        Err(e) => failed(&page, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct FactorForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    code: String,
}

/// The second-factor page's form.
pub async fn second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    PageForm(form): PageForm<FactorForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    let result = state
        .openid
        .second_factor(&form.handle, &form.mfa_token, &form.code, session(&headers), client)
        .await;
    answer(&page, result)
}

/// The enrolment page's form (an organisation that requires a second factor).
pub async fn enrol_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    PageForm(form): PageForm<FactorForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    let result = state
        .openid
        .enrol_factor(&form.handle, &form.mfa_token, &form.code, session(&headers), client)
        .await;
    answer(&page, result)
}

#[derive(Debug, Deserialize)]
pub struct HandleForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    csrf: String,
}

/// "Continue" after the recovery codes.
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<HandleForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    let result = state.openid.resume_request(&form.handle, session(&headers)).await;
    answer(&page, result.map(Answer::from))
}

#[derive(Debug, Deserialize)]
pub struct PasskeyOptionsForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mfa_token: Option<String>,
}

/// `POST /oauth2/passkey/options`: the page's script asks for a passkey challenge (JSON
/// `{ceremony_id, options}`); for the second-factor page's account when the form carries its
/// `mfa_token`, else for any passkey (the login page). 403 without the page's CSRF token, 404
/// when the login request or its challenge is gone.
pub async fn passkey_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<PasskeyOptionsForm>,
) -> Response {
    use crate::http::error::ApiError;
    use axum::response::IntoResponse;
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return ApiError::Forbidden(
            "csrf_token_invalid",
            "the form's security token is missing or wrong".into(),
        )
        .into_response();
    }
    let token = form.mfa_token.as_deref().filter(|t| !t.is_empty());
    match state.openid.passkey_options(&form.handle, token).await {
        Ok(Some(started)) => axum::Json(crate::http::mfa::CeremonyView::from(started)).into_response(),
        Ok(None) => {
            ApiError::NotFound("the login request or its challenge expired; reload the page".into()).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    ceremony_id: String,
    #[serde(default)]
    credential: String,
}

impl PasskeyForm {
    /// The passkey's answer the page's script put in the form.
    fn assertion(&self) -> Option<crate::service::mfa::Assertion> {
        Some(crate::service::mfa::Assertion {
            ceremony: self.ceremony_id.parse().ok()?,
            credential: serde_json::from_str(&self.credential).ok()?,
        })
    }
}

fn malformed_passkey(page: &PageContext) -> Response {
    page.message(
        StatusCode::BAD_REQUEST,
        &house(),
        "The passkey's answer did not arrive",
        "The page sent no usable passkey answer. Go back, reload the page and try again.",
    )
}

/// The login page's passkey form: a passwordless login.
pub async fn passkey_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    PageForm(form): PageForm<PasskeyForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    let Some(assertion) = form.assertion() else {
        return malformed_passkey(&page);
    };
    let result = state
        .openid
        .passkey_login(&form.handle, &assertion, session(&headers), client)
        .await;
    answer(&page, result)
}

/// The second-factor page's passkey form.
pub async fn passkey_second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    PageForm(form): PageForm<PasskeyForm>,
) -> Response {
    let page = context(&state, &headers);
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return csrf_refused(&page);
    }
    let Some(assertion) = form.assertion() else {
        return malformed_passkey(&page);
    };
    let result = state
        .openid
        .passkey_second_factor(&form.handle, &form.mfa_token, assertion, session(&headers), client)
        .await;
    answer(&page, result)
}
