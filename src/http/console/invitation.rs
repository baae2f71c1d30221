//! Accepting an invitation in the browser (`/account/invitation?token=…`, the link the
//! invitation mail carries unless `AUTH_INVITATION_URL` names another page). The page shows who
//! invites to which organisation; the same service as `POST /invitations/{token}/accept` then
//! takes the person in: with a console session as that account (the address must match), or
//! without one by creating the account with a name and a password (an existing, verified
//! account is asked to log in first, and comes back here).
use super::{FieldErrors, console_session};
use crate::http::invitations::AcceptRequest;
use crate::http::openid::pages::{PageContext, PageForm, Scripts, house};
use crate::http::state::AppState;
use crate::model::ClientInfo;
use crate::service::ServiceError;
use crate::service::consent::Accepted;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "console/invitation.html")]
struct InvitationPage<'a> {
    brand: &'a crate::service::openid::Branding,
    csrf: &'a str,
    token: &'a str,
    org_name: &'a str,
    inviter: &'a str,
    email: &'a str,
    /// The console session's account, when there is one.
    signed_in_as: Option<&'a str>,
    name: &'a str,
    errors: FieldErrors,
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn gone(page: &PageContext) -> Response {
    page.message(
        StatusCode::NOT_FOUND,
        &house(),
        "This invitation is not open",
        "The invitation was already accepted, revoked, or has expired. Ask for a new one.",
    )
}

async fn show(state: &AppState, headers: &HeaderMap, token: &str, name: &str, errors: FieldErrors) -> Response {
    let page = PageContext::new(headers, state.openid.secure_cookies());
    let preview = match state.invitations.preview(token).await {
        Ok(preview) => preview,
        Err(ServiceError::NotFound(_)) => return gone(&page),
        Err(e) => {
            return page.message(
                crate::http::error::ApiError::from(e).status(),
                &house(),
                "Something went wrong",
                "guildhall is busy or cannot reach its database; try again in a moment.",
            );
        }
    };
    let caller = console_session(state, headers).await;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let brand = house();
    let view = InvitationPage {
        brand: &brand,
        csrf: &page.csrf,
        token,
        org_name: &preview.organization.name,
        inviter: &preview.inviter_name,
        email: &preview.email,
        signed_in_as: caller.as_ref().map(|c| c.email.as_str()),
        name,
        errors,
    };
    match view.render() {
        Ok(body) => page.html(status, body, &[], Scripts::None),
        Err(_) => gone(&page),
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<TokenQuery>) -> Response {
    show(&state, &headers, q.token.trim(), "", FieldErrors::default()).await
}

#[derive(Debug, Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// Accepts: as the console session's account, or as a new account.
pub async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    PageForm(form): PageForm<AcceptForm>,
) -> Response {
    let page = PageContext::new(&headers, state.openid.secure_cookies());
    if !PageContext::form_is_ours(&headers, &form.csrf) {
        return page.message(
            StatusCode::FORBIDDEN,
            &house(),
            "This form has expired",
            "The form was not sent from this browser's page (its security token is missing or wrong). Reload the page and try again.",
        );
    }
    let token = form.token.trim().to_owned();
    let bearer = super::cookie(&headers, super::CONSOLE_COOKIE).map(str::to_owned);
    let signed_in = match &bearer {
        Some(_) => console_session(&state, &headers).await.is_some(),
        None => false,
    };
    let input = if signed_in {
        Ok(Default::default())
    } else {
        AcceptRequest {
            name: Some(form.name.clone()).filter(|n| !n.trim().is_empty()),
            password: Some(form.password.clone()),
        }
        .parse(&state.config.password_policy)
    };
    let result = match input {
        Ok(input) => {
            let bearer = if signed_in { bearer.as_deref() } else { None };
            state.invitations.accept(&token, bearer, input, client).await
        }
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(Accepted::Joined { organization, .. }) => page.message(
            StatusCode::OK,
            &house(),
            &format!("You joined {}", organization.name),
            "Switch to it from your account page (/account).",
        ),
        Ok(Accepted::Session { .. }) => page.message(
            StatusCode::OK,
            &house(),
            "Welcome",
            "Your account was made and joined the organisation. Log in with your email and the new password.",
        ),
        Err(ServiceError::Unauthorized("login_required", _)) => {
            let errors = FieldErrors::one(
                "login",
                "An account with this address exists: log in first, then accept.",
            );
            show(&state, &headers, &token, &form.name, errors).await
        }
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => show(&state, &headers, &token, &form.name, errors).await,
            None => match e {
                ServiceError::NotFound(_) => gone(&page),
                ServiceError::Forbidden(_, detail) => {
                    page.message(StatusCode::FORBIDDEN, &house(), "Not for this account", detail)
                }
                other => page.message(
                    crate::http::error::ApiError::from(other).status(),
                    &house(),
                    "Something went wrong",
                    "Nothing was changed. Try again in a moment.",
                ),
            },
        },
    }
}
