//! The console's roles: each with its permissions, a new role, and a role's permissions
//! replaced (one per line or comma separated). The API's `CreateRole` and `UpdateRole` parse
//! the forms; the same `OrgService` applies them (an owner's role only by an owner), and every
//! member's context follows.
use super::{Console, FieldErrors, Nav};
use crate::http::openid::pages::PageForm;
use crate::http::roles::{CreateRole, UpdateRole};
use crate::http::state::AppState;
use crate::model::{OrgId, RoleId};
use crate::service::ServiceError;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

pub struct RoleRow {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub permissions: String,
    pub builtin: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    permissions: String,
}

#[derive(Template)]
#[template(path = "console/roles.html")]
struct RolesPage<'a> {
    nav: &'a Nav,
    rows: Vec<RoleRow>,
    form: &'a RoleForm,
    /// The role whose form was refused, if it was an edit.
    editing: Option<Uuid>,
    errors: FieldErrors,
}

fn permissions(text: &str) -> Vec<String> {
    text.split([',', '\n', '\r', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn render(
    state: &AppState,
    console: &Console,
    form: &RoleForm,
    editing: Option<Uuid>,
    errors: FieldErrors,
) -> Response {
    let roles = match state.orgs.roles(&console.caller, OrgId(console.caller.org_id)).await {
        Ok(roles) => roles,
        Err(e) => return console.failed(e),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = RolesPage {
        nav: &console.nav,
        rows: roles
            .into_iter()
            .map(|r| RoleRow {
                id: r.id,
                key: r.key,
                name: r.name,
                permissions: r.permissions.join(", "),
                builtin: r.builtin,
            })
            .collect(),
        form,
        editing,
        errors,
    };
    console.render(status, &view)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match Console::of(&state, &headers, "/console/roles", "roles").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    render(&state, &console, &RoleForm::default(), None, FieldErrors::default()).await
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, PageForm(form): PageForm<RoleForm>) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/roles", "roles").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let request = CreateRole {
        key: form.key.clone(),
        name: Some(form.name.clone()).filter(|n| !n.trim().is_empty()),
        permissions: permissions(&form.permissions),
    };
    let org = OrgId(console.caller.org_id);
    let result = match request.parse() {
        Ok(input) => state.orgs.create_role(&console.caller, org, input).await,
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(_) => console.done("/console/roles"),
        Err(e) => match FieldErrors::of(&e).or_else(|| match &e {
            ServiceError::Conflict(_, detail) => Some(FieldErrors::one("key", detail)),
            _ => None,
        }) {
            Some(errors) => render(&state, &console, &form, None, errors).await,
            None => console.failed(e),
        },
    }
}

/// Replaces a role's permissions.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<RoleForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/roles", "roles").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("role not found"));
    };
    let request = UpdateRole {
        name: None,
        permissions: Some(permissions(&form.permissions)),
    };
    let org = OrgId(console.caller.org_id);
    let result = match request.parse() {
        Ok(patch) => state.orgs.update_role(&console.caller, org, RoleId(id), patch).await,
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(_) => console.done("/console/roles"),
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => render(&state, &console, &form, Some(id), errors).await,
            None => console.failed(e),
        },
    }
}
