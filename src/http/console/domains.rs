//! The console's domain tree: shown as a tree (each domain under its parent), a child added
//! anywhere, a domain renamed, moved under another parent (or to the top), deactivated or
//! activated, and users assigned to it by email. The API's parsers and the same
//! `DomainService` (which refuses cycles and other organisations' parents).
use super::{Console, FieldErrors, Nav};
use crate::http::domains::{CreateDomain, UpdateDomain};
use crate::http::openid::pages::PageForm;
use crate::http::state::AppState;
use crate::model::{DomainId, UserId};
use crate::service::ServiceError;
use crate::service::domains::DomainNode;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

/// A domain as a row of the tree: its depth gives its indentation.
pub struct TreeRow {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub depth: usize,
    pub active: bool,
    pub path: String,
}

fn rows(forest: Vec<DomainNode>) -> Vec<TreeRow> {
    fn walk(node: DomainNode, depth: usize, out: &mut Vec<TreeRow>) {
        out.push(TreeRow {
            id: node.domain.id,
            key: node.domain.key,
            name: node.domain.name,
            depth: depth.min(8),
            active: node.domain.active,
            path: node.path.unwrap_or_default(),
        });
        for child in node.children {
            walk(child, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    for root in forest {
        walk(root, 0, &mut out);
    }
    out
}

#[derive(Debug, Default, Deserialize)]
pub struct DomainForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    active: String,
    /// Which of the domain page's forms: `rename`, `move` or `active`.
    #[serde(default)]
    op: String,
}

#[derive(Template)]
#[template(path = "console/domains.html")]
struct DomainsPage<'a> {
    nav: &'a Nav,
    rows: Vec<TreeRow>,
    form: &'a DomainForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "console/domain.html")]
struct DomainPage<'a> {
    nav: &'a Nav,
    row: TreeRow,
    parent: Option<Uuid>,
    /// Where it can move: every domain but itself and its subtree.
    targets: Vec<TreeRow>,
    form: &'a DomainForm,
    errors: FieldErrors,
    assigned: bool,
}

fn parent_of(raw: &str) -> Result<Option<Uuid>, FieldErrors> {
    match raw.trim() {
        "" => Ok(None),
        id => id
            .parse()
            .map(Some)
            .map_err(|_| FieldErrors::one("parent_id", "is not a domain of this organisation")),
    }
}

fn status_of(errors: &FieldErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

async fn domains_page(state: &AppState, console: &Console, form: &DomainForm, errors: FieldErrors) -> Response {
    let forest = match state.domains.forest(&console.caller).await {
        Ok(forest) => forest,
        Err(e) => return console.failed(e),
    };
    let view = DomainsPage {
        nav: &console.nav,
        rows: rows(forest),
        form,
        errors,
    };
    console.render(status_of(&view.errors), &view)
}

pub async fn domains(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match Console::of(&state, &headers, "/console/domains", "domains").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    domains_page(&state, &console, &DomainForm::default(), FieldErrors::default()).await
}

/// Adds a domain (at the top, or under the chosen parent).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<DomainForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/domains", "domains").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let parent = match parent_of(&form.parent) {
        Ok(parent) => parent,
        Err(errors) => return domains_page(&state, &console, &form, errors).await,
    };
    let request = CreateDomain {
        key: form.key.clone(),
        name: form.name.clone(),
        parent_id: parent,
        is_active: None,
    };
    let result = match request.parse() {
        Ok(input) => state.domains.create(&console.caller, input).await,
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(_) => console.done("/console/domains"),
        Err(e) => match FieldErrors::of(&e).or_else(|| conflict_on("key", &e)) {
            Some(errors) => domains_page(&state, &console, &form, errors).await,
            None => console.failed(e),
        },
    }
}

fn conflict_on(field: &str, e: &ServiceError) -> Option<FieldErrors> {
    match e {
        ServiceError::Conflict(_, detail) => Some(FieldErrors::one(field, detail)),
        _ => None,
    }
}

fn domain_id(raw: &str) -> Result<DomainId, ServiceError> {
    raw.parse::<Uuid>()
        .map(DomainId)
        .map_err(|_| ServiceError::NotFound("domain not found"))
}

async fn domain_page(
    state: &AppState,
    console: &Console,
    id: DomainId,
    form: &DomainForm,
    errors: FieldErrors,
    assigned: bool,
) -> Response {
    let node = match state.domains.get(&console.caller, id).await {
        Ok(node) => node,
        Err(e) => return console.failed(e),
    };
    let forest = match state.domains.forest(&console.caller).await {
        Ok(forest) => forest,
        Err(e) => return console.failed(e),
    };
    let all = rows(forest);
    // Its subtree: the rows after it that are deeper, up to the next at its depth or above.
    let at = all.iter().position(|r| r.id == id.uuid());
    let targets = match at {
        Some(at) => {
            let depth = all[at].depth;
            let end = all[at + 1..]
                .iter()
                .position(|r| r.depth <= depth)
                .map_or(all.len(), |p| at + 1 + p);
            all.into_iter()
                .enumerate()
                .filter(|(i, _)| *i < at || *i >= end)
                .map(|(_, r)| r)
                .collect()
        }
        None => all,
    };
    let view = DomainPage {
        nav: &console.nav,
        parent: node.domain.parent_id,
        row: TreeRow {
            id: node.domain.id,
            key: node.domain.key,
            name: node.domain.name,
            depth: 0,
            active: node.domain.active,
            path: node.path.unwrap_or_default(),
        },
        targets,
        form,
        errors,
        assigned,
    };
    console.render(status_of(&view.errors), &view)
}

#[derive(Debug, Deserialize)]
pub struct AssignedQuery {
    #[serde(default)]
    assigned: Option<String>,
}

pub async fn domain(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<AssignedQuery>,
) -> Response {
    let console = match Console::of(&state, &headers, "/console/domains", "domains").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    match domain_id(&id) {
        Ok(id) => {
            domain_page(
                &state,
                &console,
                id,
                &DomainForm::default(),
                FieldErrors::default(),
                q.assigned.is_some(),
            )
            .await
        }
        Err(e) => console.failed(e),
    }
}

/// Renames, moves, deactivates or activates a domain (the fields the form sent).
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<DomainForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/domains", "domains").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let id = match domain_id(&id) {
        Ok(id) => id,
        Err(e) => return console.failed(e),
    };
    let (mut name, mut parent, mut active) = (None, None, None);
    match form.op.as_str() {
        "rename" => name = Some(form.name.clone()),
        "move" => match parent_of(&form.parent) {
            Ok(p) => parent = Some(p),
            Err(errors) => return domain_page(&state, &console, id, &form, errors, false).await,
        },
        "active" => active = Some(form.active == "true"),
        _ => return console.failed(ServiceError::NotFound("no such form")),
    }
    let request = UpdateDomain {
        key: None,
        name,
        parent_id: parent,
        is_active: active,
    };
    let result = match request.parse() {
        Ok(patch) => state.domains.update(&console.caller, id, patch).await,
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(_) => console.done(&format!("/console/domains/{}", id.uuid())),
        Err(e) => match FieldErrors::of(&e).or_else(|| conflict_on("parent_id", &e)) {
            Some(errors) => domain_page(&state, &console, id, &form, errors, false).await,
            None => console.failed(e),
        },
    }
}

/// Assigns a member of the organisation (by email) to the domain.
pub async fn assign(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<DomainForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/domains", "domains").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let id = match domain_id(&id) {
        Ok(id) => id,
        Err(e) => return console.failed(e),
    };
    let member = match console.member_by_email(&state, &form.email).await {
        Ok(member) => member,
        Err(e) => return console.failed(e),
    };
    let Some(member) = member else {
        let errors = FieldErrors::one("email", "is not a member of this organisation");
        return domain_page(&state, &console, id, &form, errors, false).await;
    };
    match state.domains.assign(&console.caller, id, UserId(member.user.id)).await {
        Ok(()) => console.done(&format!("/console/domains/{}?assigned=1", id.uuid())),
        Err(e) => console.failed(e),
    }
}
