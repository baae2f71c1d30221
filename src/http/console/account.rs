//! The account page (`/account`): every user's own security. Profile (read here; changed by an
//! admin or the API), password change, live sessions with "sign out" per session and
//! everywhere, second factors (an authenticator app with its QR code, passkeys, recovery codes)
//! and the organisations the user belongs to, with a switch into each. The same services as
//! `/auth/*` with the console session's caller.
use super::{Console, CsrfOnly, FieldErrors, Nav};
use crate::http::openid::pages::PageForm;
use crate::http::state::AppState;
use crate::model::input::{Password, Problems, presented_password};
use crate::model::{IdentityId, PageRequest, SessionId};
use crate::service::ServiceError;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use uuid::Uuid;

pub struct SessionRow {
    pub id: Uuid,
    pub current: bool,
    pub client: String,
    pub from: String,
    pub started: String,
    pub last_used: String,
}

pub struct OrgRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub current: bool,
}

pub struct IdentityRow {
    pub id: Uuid,
    pub provider: String,
    pub email: String,
    pub last_login: String,
}

pub struct PasskeyRow {
    pub id: Uuid,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

/// An authenticator app being enrolled: its key and QR code, until the first code confirms it.
pub struct Enrolling {
    pub secret: String,
    pub qr_base64: String,
}

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage<'a> {
    nav: &'a Nav,
    email: String,
    verified: bool,
    sessions: Vec<SessionRow>,
    orgs: Vec<OrgRow>,
    totp: bool,
    passkeys: Vec<PasskeyRow>,
    identities: Vec<IdentityRow>,
    /// The profile form as typed (when refused), else the account's.
    form_name: String,
    form_email: String,
    recovery_codes_left: u64,
    /// Whether passkeys work here (the public URL is a domain name).
    passkeys_available: bool,
    enrolling: Option<Enrolling>,
    /// Recovery codes just made: shown once.
    new_codes: Vec<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// What the page shows besides the account itself.
#[derive(Default)]
struct Extra {
    /// The profile form as typed, when it was refused.
    profile: Option<(String, String)>,
    enrolling: Option<Enrolling>,
    new_codes: Vec<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

async fn render(state: &AppState, console: &Console, extra: Extra) -> Response {
    let caller = &console.caller;
    let user = match crate::store::users::find(&state.db, caller.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return console.failed(ServiceError::NotFound("user not found")),
        Err(e) => return console.failed(e.into()),
    };
    let sessions = match state
        .auth
        .sessions(caller, PageRequest { limit: 50, after: None })
        .await
    {
        Ok(page) => page.items,
        Err(e) => return console.failed(e),
    };
    let status = match state.mfa.status(caller.user_id).await {
        Ok(status) => status,
        Err(e) => return console.failed(e),
    };
    let passkeys = match state.mfa.passkeys(caller.user_id).await {
        Ok(passkeys) => passkeys,
        Err(e) => return console.failed(e),
    };
    let ids = match crate::store::members::orgs_of(&state.db, caller.user_id).await {
        Ok(ids) => ids,
        Err(e) => return console.failed(e.into()),
    };
    let mut orgs = Vec::with_capacity(ids.len());
    for id in ids {
        match crate::store::orgs::find(&state.db, id).await {
            Ok(Some(org)) if org.active => orgs.push(org),
            Ok(_) => {}
            Err(e) => return console.failed(e.into()),
        }
    }
    let identities = match state.users.identities(caller).await {
        Ok(identities) => identities,
        Err(e) => return console.failed(e),
    };
    let (form_name, form_email) = extra
        .profile
        .clone()
        .unwrap_or_else(|| (user.display_name.clone(), user.email.clone()));
    let code = if extra.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AccountPage {
        nav: &console.nav,
        email: user.email,
        verified: user.email_verified,
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                id: s.id,
                current: s.id == caller.session_id,
                client: s.client_id.unwrap_or_else(|| "guildhall API".into()),
                from: [s.ip, s.user_agent]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · "),
                started: when(s.created_at),
                last_used: when(s.last_used_at),
            })
            .collect(),
        orgs: orgs
            .into_iter()
            .map(|o| OrgRow {
                id: o.id,
                current: o.id == caller.org_id,
                slug: o.slug,
                name: o.name,
            })
            .collect(),
        totp: status.totp,
        passkeys: passkeys
            .into_iter()
            .map(|p| PasskeyRow {
                id: p.id,
                name: p.name,
                created: when(p.created_at),
                last_used: p.last_used_at.map(when).unwrap_or_else(|| "never".into()),
            })
            .collect(),
        identities: identities
            .into_iter()
            .map(|i| IdentityRow {
                id: i.id,
                provider: i.provider,
                email: i.email.unwrap_or_default(),
                last_login: when(i.last_login_at),
            })
            .collect(),
        form_name,
        form_email,
        recovery_codes_left: status.recovery_codes_left,
        passkeys_available: state.mfa.passkeys_available(),
        enrolling: extra.enrolling,
        new_codes: extra.new_codes,
        errors: extra.errors,
        notice: extra.notice,
    };
    console.render(code, &page)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match Console::of(&state, &headers, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    render(&state, &console, Extra::default()).await
}

#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

/// The profile form: the name, and the email address with the current password (a new address
/// gets a verification mail). The same rules as an admin's change: `DisplayName`, `Email`.
pub async fn profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<ProfileForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let mut problems = Problems::default();
    let name = problems.parse::<crate::model::input::DisplayName>("name", &form.name);
    let email = problems.parse::<crate::model::input::Email>("email", &form.email);
    let changing_email = email.as_ref().is_some_and(|e| e.as_str() != console.caller.email);
    let password = if changing_email {
        problems.check("profile_password", presented_password(form.current_password.clone()))
    } else {
        Some(secrecy::SecretString::from(String::new()))
    };
    let typed = Some((form.name.clone(), form.email.clone()));
    let result = match problems.done((name, email, password)) {
        Ok((name, email, password)) => {
            let email = changing_email.then_some((email, password));
            state.users.update_own(&console.caller, Some(name), email).await
        }
        Err(invalid) => Err(invalid.into()),
    };
    let errors = match result {
        Ok(_) => {
            let notice = if changing_email {
                "Saved. A mail went to the new address: follow it to confirm the address."
            } else {
                "Saved."
            };
            let extra = Extra {
                notice: Some(notice),
                ..Extra::default()
            };
            return render(&state, &console, extra).await;
        }
        Err(ServiceError::InvalidCredentials) => FieldErrors::one("profile_password", "is not your password"),
        Err(ServiceError::Conflict(_, detail)) => FieldErrors::one("email", detail),
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => errors,
            None => return console.failed(e),
        },
    };
    let extra = Extra {
        profile: typed,
        errors,
        ..Extra::default()
    };
    render(&state, &console, extra).await
}

#[derive(Debug, Deserialize)]
pub struct RemovePasskeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    passkey: String,
    #[serde(default)]
    code: String,
}

/// Removes a passkey after a fresh factor typed on the page: a code of the app or a recovery
/// code (the API also takes another passkey's answer).
pub async fn remove_passkey(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<RemovePasskeyForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(id) = form.passkey.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("passkey not found"));
    };
    let factor = crate::service::mfa::factor_of(&form.code);
    let errors = match state.mfa.remove_passkey(&console.caller, id, &factor).await {
        Ok(()) => {
            let extra = Extra {
                notice: Some("The passkey was removed."),
                ..Extra::default()
            };
            return render(&state, &console, extra).await;
        }
        Err(ServiceError::Unauthorized(..) | ServiceError::Conflict(..)) => {
            FieldErrors::one("remove_code", "is not a code of your app or a recovery code")
        }
        Err(e) => return console.failed(e),
    };
    let extra = Extra {
        errors,
        ..Extra::default()
    };
    render(&state, &console, extra).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Changes the password with the current one (the API's rules: policy, throttle, audit).
pub async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<PasswordForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let mut problems = Problems::default();
    let current = problems.check("current_password", presented_password(form.current_password));
    let new = problems.check(
        "new_password",
        Password::new(form.new_password, &state.config.password_policy),
    );
    let result = match problems.done((current, new)) {
        Ok((current, new)) => state.auth.change_password(&console.caller, current, new).await,
        Err(invalid) => Err(invalid.into()),
    };
    let errors = match result {
        Ok(()) => {
            let extra = Extra {
                notice: Some("Your password was changed; your other sessions were signed out."),
                ..Extra::default()
            };
            return render(&state, &console, extra).await;
        }
        Err(ServiceError::InvalidCredentials) => FieldErrors::one("current_password", "is not your password"),
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => errors,
            None => return console.failed(e),
        },
    };
    render(
        &state,
        &console,
        Extra {
            errors,
            ..Extra::default()
        },
    )
    .await
}

/// Signs out one of the user's sessions (another user's is "not found").
pub async fn revoke_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("session not found"));
    };
    match state.auth.revoke_session(&console.caller, SessionId(id)).await {
        Ok(()) if id == console.caller.session_id => console.done("/console/login?next=/account"),
        Ok(()) => console.done("/account"),
        Err(e) => console.failed(e),
    }
}

/// Unlinks a sign-in provider (`UserService::unlink_identity`: never the account's last way in).
pub async fn unlink_identity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("linked identity not found"));
    };
    match state.users.unlink_identity(&console.caller, IdentityId(id)).await {
        Ok(()) => console.done("/account"),
        Err(e) => console.failed(e),
    }
}

/// Signs out everywhere, this console too.
pub async fn revoke_all(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    match state.auth.logout_all(&console.caller).await {
        Ok(_) => console.done("/console/login?next=/account"),
        Err(e) => console.failed(e),
    }
}

/// Starts enrolling an authenticator app: its key and QR code, and the form for its first code.
pub async fn start_totp(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let enrolment = match state.mfa.enrolment_in_progress(console.caller.user_id).await {
        Ok(Some(e)) => Ok(e),
        Ok(None) => state.mfa.enroll_totp(console.caller.user_id).await,
        Err(e) => Err(e),
    };
    match enrolment {
        Ok(e) => {
            let extra = Extra {
                enrolling: Some(Enrolling {
                    qr_base64: base64::engine::general_purpose::STANDARD.encode(e.qr_svg.as_bytes()),
                    secret: e.secret,
                }),
                ..Extra::default()
            };
            render(&state, &console, extra).await
        }
        Err(e) => console.failed(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// The app's first code confirms it; the recovery codes are shown once.
pub async fn confirm_totp(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<CodeForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    match state.mfa.confirm(&console.caller, form.code.trim()).await {
        Ok(codes) => {
            let extra = Extra {
                new_codes: codes,
                notice: Some("The authenticator app is set up. Keep these recovery codes somewhere safe."),
                ..Extra::default()
            };
            render(&state, &console, extra).await
        }
        Err(ServiceError::Unauthorized("invalid_mfa_code", _)) => {
            let enrolling = match state.mfa.enrolment_in_progress(console.caller.user_id).await {
                Ok(e) => e.map(|e| Enrolling {
                    qr_base64: base64::engine::general_purpose::STANDARD.encode(e.qr_svg.as_bytes()),
                    secret: e.secret,
                }),
                Err(e) => return console.failed(e),
            };
            let extra = Extra {
                enrolling,
                errors: FieldErrors::one("code", "is not the code the app shows now"),
                ..Extra::default()
            };
            render(&state, &console, extra).await
        }
        Err(e) => console.failed(e),
    }
}

/// The page's script asks for the options of a new passkey (JSON `{ceremony_id, options}`).
pub async fn passkey_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    use axum::response::IntoResponse;
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    match state.mfa.start_registration(&console.caller).await {
        Ok(started) => axum::Json(crate::http::mfa::CeremonyView::from(started)).into_response(),
        Err(e) => crate::http::error::ApiError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ceremony_id: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
}

/// The browser's new passkey (its `toJSON()`, put in the form by the page's script).
pub async fn add_passkey(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<PasskeyForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let name = match crate::service::mfa::passkeys::parse_name(Some(&form.name)) {
        Ok(name) => name,
        Err(message) => {
            let extra = Extra {
                errors: FieldErrors::one("passkey_name", &message),
                ..Extra::default()
            };
            return render(&state, &console, extra).await;
        }
    };
    let (Ok(ceremony), Ok(credential)) = (form.ceremony_id.parse::<Uuid>(), serde_json::from_str(&form.credential))
    else {
        let extra = Extra {
            errors: FieldErrors::one("passkey_name", "the browser sent no usable passkey; try again"),
            ..Extra::default()
        };
        return render(&state, &console, extra).await;
    };
    match state
        .mfa
        .finish_registration(&console.caller, ceremony, name, &credential)
        .await
    {
        Ok(registered) => {
            let extra = Extra {
                new_codes: registered.recovery_codes.unwrap_or_default(),
                notice: Some("The passkey was added."),
                ..Extra::default()
            };
            render(&state, &console, extra).await
        }
        Err(e @ (ServiceError::Unauthorized(..) | ServiceError::Conflict(..))) => {
            let message = crate::http::error::ApiError::from(e).body().1;
            let extra = Extra {
                errors: FieldErrors::one("passkey_name", &message),
                ..Extra::default()
            };
            render(&state, &console, extra).await
        }
        Err(e) => console.failed(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct LeaveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    organization: String,
}

/// Leaves one of the user's organisations (not the last one; an owner only while another owner
/// stays). Leaving the console's own organisation ends this console session too.
pub async fn leave(State(state): State<AppState>, headers: HeaderMap, PageForm(form): PageForm<LeaveForm>) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/account", "account").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(org) = form.organization.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("organization not found"));
    };
    match state.orgs.leave(&console.caller, crate::model::OrgId(org)).await {
        Ok(()) if org == console.caller.org_id => console.done("/console/login?next=/account"),
        Ok(()) => {
            let extra = Extra {
                notice: Some("You left the organisation."),
                ..Extra::default()
            };
            render(&state, &console, extra).await
        }
        Err(ServiceError::Conflict(_, detail)) => {
            let extra = Extra {
                errors: FieldErrors::one("leave", detail),
                ..Extra::default()
            };
            render(&state, &console, extra).await
        }
        Err(e) => console.failed(e),
    }
}
