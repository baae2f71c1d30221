//! The console's applications (OAuth clients: create, rotate the secret) and service accounts
//! (create, remove). A secret is shown once, on the page that made it, and never again. The
//! same `AppService` and `ClientService` as `/orgs/{id}/clients` and `/orgs/{id}/service-accounts`,
//! with the API's own parsers (`AppDraft`, `CreateServiceAccount`).
use super::{Console, CsrfOnly, FieldErrors, Nav};
use crate::http::openid::pages::PageForm;
use crate::http::service_accounts::CreateServiceAccount;
use crate::http::state::AppState;
use crate::model::{AppDraft, AppId, OrgId, ServiceAccountId};
use crate::service::ServiceError;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

pub struct AppRow {
    pub id: Uuid,
    pub name: String,
    pub client_id: String,
    pub kind: &'static str,
    pub redirects: String,
    pub has_secret: bool,
}

pub struct AccountRow {
    pub id: Uuid,
    pub name: String,
    pub client_id: String,
    pub permissions: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct AppForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    first_party: Option<String>,
    #[serde(default)]
    permissions: String,
}

/// A secret just made: for whom, and the secret itself (shown once).
pub struct NewSecret {
    pub what: String,
    pub client_id: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "console/applications.html")]
struct AppsPage<'a> {
    nav: &'a Nav,
    apps: Vec<AppRow>,
    accounts: Vec<AccountRow>,
    form: &'a AppForm,
    errors: FieldErrors,
    secret: Option<NewSecret>,
}

async fn render(
    state: &AppState,
    console: &Console,
    form: &AppForm,
    errors: FieldErrors,
    secret: Option<NewSecret>,
) -> Response {
    let org = OrgId(console.caller.org_id);
    let apps = match state.apps.list(&console.caller, org).await {
        Ok(apps) => apps,
        Err(e) => return console.failed(e),
    };
    let accounts = match state.clients.list(&console.caller, org).await {
        Ok(accounts) => accounts,
        Err(e) => return console.failed(e),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = AppsPage {
        nav: &console.nav,
        apps: apps
            .into_iter()
            .map(|a| AppRow {
                id: a.id,
                has_secret: a.secret_hash.is_some(),
                kind: if a.is_public() { "public" } else { "confidential" },
                name: a.name,
                client_id: a.client_id,
                redirects: a.redirect_uris.join(" "),
            })
            .collect(),
        accounts: accounts
            .into_iter()
            .map(|a| AccountRow {
                id: a.id,
                name: a.name,
                client_id: a.client_id,
                permissions: a.permissions.join(", "),
            })
            .collect(),
        form,
        errors,
        secret,
    };
    console.render(status, &view)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match Console::of(&state, &headers, "/console/applications", "applications").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    render(&state, &console, &AppForm::default(), FieldErrors::default(), None).await
}

/// Registers an application: the API's `AppDraft` from the form's fields.
pub async fn create_app(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<AppForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/applications", "applications").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let redirects: Vec<&str> = form.redirect_uris.split_whitespace().collect();
    let draft = serde_json::json!({
        "name": form.name,
        "kind": if form.kind == "public" { "public" } else { "confidential" },
        "redirect_uris": redirects,
        "first_party": form.first_party.is_some(),
    });
    let draft: AppDraft = match serde_json::from_value(draft) {
        Ok(draft) => draft,
        Err(_) => return console.failed(ServiceError::Validation(vec![])),
    };
    let org = OrgId(console.caller.org_id);
    match state.apps.create(&console.caller, org, draft).await {
        Ok((app, secret)) => {
            let secret = secret.map(|secret| NewSecret {
                what: app.name.clone(),
                client_id: app.client_id.clone(),
                secret,
            });
            render(&state, &console, &AppForm::default(), FieldErrors::default(), secret).await
        }
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => render(&state, &console, &form, errors, None).await,
            None => console.failed(e),
        },
    }
}

/// A new secret for a confidential application; the old one stops working.
pub async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/applications", "applications").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("application not found"));
    };
    let org = OrgId(console.caller.org_id);
    match state.apps.rotate_secret(&console.caller, org, AppId(id)).await {
        Ok((app, secret)) => {
            let secret = Some(NewSecret {
                what: app.name,
                client_id: app.client_id,
                secret,
            });
            render(&state, &console, &AppForm::default(), FieldErrors::default(), secret).await
        }
        Err(e) => console.failed(e),
    }
}

/// Creates a service account (client credentials for a backend).
pub async fn create_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<AppForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/applications", "applications").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let request = CreateServiceAccount {
        name: form.name.clone(),
        permissions: form
            .permissions
            .split([',', ' '])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let org = OrgId(console.caller.org_id);
    let result = match request.parse() {
        Ok((name, permissions)) => state.clients.create(&console.caller, org, name, permissions).await,
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok((account, secret)) => {
            let secret = Some(NewSecret {
                what: account.name,
                client_id: account.client_id,
                secret,
            });
            render(&state, &console, &AppForm::default(), FieldErrors::default(), secret).await
        }
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => {
                // The service account form's fields, so the errors sit beside them.
                let errors = FieldErrors::from_pairs(
                    ["name", "permissions"]
                        .iter()
                        .filter_map(|f| errors.get(f).map(|m| (format!("account_{f}"), m.to_owned())))
                        .collect(),
                );
                render(&state, &console, &form, errors, None).await
            }
            None => console.failed(e),
        },
    }
}

pub async fn remove_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/applications", "applications").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("service account not found"));
    };
    let org = OrgId(console.caller.org_id);
    match state.clients.delete(&console.caller, org, ServiceAccountId(id)).await {
        Ok(()) => console.done("/console/applications"),
        Err(e) => console.failed(e),
    }
}
