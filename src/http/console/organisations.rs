//! The console's organisations page, for superusers: every organisation, and a new one. The
//! API's `CreateOrg` parses the form and `OrgService::create` refuses anyone but a superuser, as
//! `POST /orgs` does. A new organisation is managed by switching into it from the account page
//! once someone is its member (an owner added through the API, the CLI or a seed).
use super::{Console, FieldErrors, Nav};
use crate::http::openid::pages::PageForm;
use crate::http::orgs::CreateOrg;
use crate::http::state::AppState;
use crate::model::PageRequest;
use crate::service::ServiceError;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

pub struct OrgRow {
    pub slug: String,
    pub name: String,
    pub active: bool,
    pub created: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
}

#[derive(Template)]
#[template(path = "console/organisations.html")]
struct OrgsPage<'a> {
    nav: &'a Nav,
    rows: Vec<OrgRow>,
    form: &'a OrgForm,
    errors: FieldErrors,
}

async fn render(state: &AppState, console: &Console, form: &OrgForm, errors: FieldErrors) -> Response {
    if !console.caller.superuser {
        return console.failed(ServiceError::Forbidden("forbidden", "superusers only"));
    }
    let orgs = match state
        .orgs
        .list(
            &console.caller,
            PageRequest {
                limit: 200,
                after: None,
            },
        )
        .await
    {
        Ok(page) => page.items,
        Err(e) => return console.failed(e),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = OrgsPage {
        nav: &console.nav,
        rows: orgs
            .into_iter()
            .map(|o| OrgRow {
                slug: o.slug,
                name: o.name,
                active: o.active,
                created: o.created_at.format("%Y-%m-%d").to_string(),
            })
            .collect(),
        form,
        errors,
    };
    console.render(status, &view)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match Console::of(&state, &headers, "/console/organisations", "organisations").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    render(&state, &console, &OrgForm::default(), FieldErrors::default()).await
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, PageForm(form): PageForm<OrgForm>) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/organisations", "organisations").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let request = CreateOrg {
        slug: form.slug.clone(),
        name: form.name.clone(),
    };
    let result = match request.parse() {
        Ok((slug, name)) => state.orgs.create(&console.caller, slug, name).await,
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(_) => console.done("/console/organisations"),
        Err(e) => match FieldErrors::of(&e).or_else(|| match &e {
            ServiceError::Conflict(_, detail) => Some(FieldErrors::one("slug", detail)),
            _ => None,
        }) {
            Some(errors) => render(&state, &console, &form, errors).await,
            None => console.failed(e),
        },
    }
}
