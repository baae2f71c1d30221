//! The organisation's settings in the console: its name, the logo of its hosted login pages, and
//! whether its members must log in with a second factor (`require_mfa`). The API's `UpdateOrg`
//! parses the form; `OrgService::update` applies it for the organisation's admins.
use super::{Console, FieldErrors, Nav};
use crate::http::openid::pages::PageForm;
use crate::http::orgs::UpdateOrg;
use crate::http::state::AppState;
use crate::model::OrgId;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    logo_url: String,
    #[serde(default)]
    require_mfa: Option<String>,
}

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage<'a> {
    nav: &'a Nav,
    slug: String,
    form: &'a SettingsForm,
    errors: FieldErrors,
    saved: bool,
}

async fn render(
    state: &AppState,
    console: &Console,
    form: Option<&SettingsForm>,
    errors: FieldErrors,
    saved: bool,
) -> Response {
    let org = match state.orgs.get(&console.caller, OrgId(console.caller.org_id)).await {
        Ok(org) => org,
        Err(e) => return console.failed(e),
    };
    if let Err(e) = console.caller.admin_of(org.id) {
        return console.failed(e);
    }
    let stored = SettingsForm {
        csrf: String::new(),
        name: org.name.clone(),
        logo_url: org.logo_url.clone().unwrap_or_default(),
        require_mfa: org.require_mfa.then(|| "1".to_owned()),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = SettingsPage {
        nav: &console.nav,
        slug: org.slug,
        form: form.unwrap_or(&stored),
        errors,
        saved,
    };
    console.render(status, &view)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match Console::of(&state, &headers, "/console/settings", "settings").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    render(&state, &console, None, FieldErrors::default(), false).await
}

pub async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<SettingsForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/settings", "settings").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let request = UpdateOrg {
        name: Some(form.name.clone()),
        is_active: None,
        logo_url: Some(form.logo_url.trim().to_owned()),
        require_mfa: Some(form.require_mfa.is_some()),
    };
    let org = OrgId(console.caller.org_id);
    let result = match request.parse() {
        Ok((name, logo_url)) => {
            state
                .orgs
                .update(&console.caller, org, name, None, logo_url, request.require_mfa)
                .await
        }
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(_) => render(&state, &console, None, FieldErrors::default(), true).await,
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => render(&state, &console, Some(&form), errors, false).await,
            None => console.failed(e),
        },
    }
}
