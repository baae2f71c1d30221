//! The console's organisations page, for superusers: every organisation, and a new one. The
//! API's `CreateOrg` parses the form and `OrgService::create` refuses anyone but a superuser, as
//! `POST /orgs` does. A new organisation is managed by switching into it from the account page
//! once someone is its member (an owner added through the API, the CLI or a seed). A superuser
//! also deactivates an organisation (its members can no longer log in to it or refresh into
//! it) and activates it again, through `OrgService::update` as `PATCH /orgs/{id}` does; the
//! organisation the console session is in is not offered, so the superuser cannot lock
//! themselves out from here.
use super::{Console, FieldErrors, Nav};
use crate::http::openid::pages::PageForm;
use crate::http::orgs::CreateOrg;
use crate::http::state::AppState;
use crate::model::{OrgId, PageRequest};
use crate::service::ServiceError;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

pub struct OrgRow {
    pub id: uuid::Uuid,
    /// The organisation the console session is in.
    pub current: bool,
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
                id: o.id,
                current: o.id == console.caller.org_id,
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

#[derive(Debug, Default, Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    active: String,
}

/// Deactivates (`active=false`) or activates (`active=true`) an organisation.
pub async fn set_active(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<ActiveForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/organisations", "organisations").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    if !console.caller.superuser {
        return console.failed(ServiceError::Forbidden("forbidden", "superusers only"));
    }
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return console.failed(ServiceError::NotFound("organization not found"));
    };
    let active = match form.active.as_str() {
        "true" => true,
        "false" if id == console.caller.org_id => {
            let why = "the organisation this console session is in cannot be deactivated from here";
            return console.failed(ServiceError::Conflict("current_organization", why));
        }
        "false" => false,
        _ => {
            let invalid = crate::model::input::FieldError {
                field: "active".into(),
                message: "is true or false".into(),
            };
            return console.failed(ServiceError::Validation(vec![invalid]));
        }
    };
    let result = match state.orgs.get(&console.caller, OrgId(id)).await {
        Ok(_) => {
            state
                .orgs
                .update(&console.caller, OrgId(id), None, Some(active), None, None)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => console.done("/console/organisations"),
        Err(e) => console.failed(e),
    }
}
