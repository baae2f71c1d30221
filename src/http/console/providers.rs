//! The console's identity providers (OpenID Connect, for single sign-on): listed, created,
//! edited (a secret is write-only: left empty it is kept), and "test connection", which fetches
//! the issuer's discovery document now and shows its endpoints or why it failed. The same
//! `ProviderService` as `/orgs/{id}/identity-providers`; claim mappings and scopes stay as they
//! are (set through the API or a seed).
use super::{Console, FieldErrors, Nav};
use crate::http::openid::pages::PageForm;
use crate::http::state::AppState;
use crate::model::{IdentityProvider, OrgId, ProviderId};
use crate::service::ServiceError;
use crate::service::providers::ProviderInput;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
pub struct ProviderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    email_domains: String,
    #[serde(default)]
    jit: Option<String>,
}

impl ProviderForm {
    fn of(p: &IdentityProvider) -> Self {
        Self {
            csrf: String::new(),
            slug: p.slug.clone(),
            name: p.name.clone(),
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            client_secret: String::new(),
            email_domains: p.email_domains.join(" "),
            jit: p.jit.then(|| "1".to_owned()),
        }
    }

    fn domains(&self) -> Vec<String> {
        self.email_domains
            .split([',', ' ', '\n', '\r'])
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

pub struct ProviderRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "console/providers.html")]
struct ProvidersPage<'a> {
    nav: &'a Nav,
    rows: Vec<ProviderRow>,
    form: &'a ProviderForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "console/provider.html")]
struct ProviderPage<'a> {
    nav: &'a Nav,
    id: Uuid,
    has_secret: bool,
    form: &'a ProviderForm,
    errors: FieldErrors,
    /// The connection test's outcome: the endpoints found, or why not.
    tested: Option<Result<Vec<(&'static str, String)>, String>>,
}

fn status_of(errors: &FieldErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

async fn list_page(state: &AppState, console: &Console, form: &ProviderForm, errors: FieldErrors) -> Response {
    let providers = match state
        .providers
        .list(&console.caller, OrgId(console.caller.org_id))
        .await
    {
        Ok(p) => p,
        Err(e) => return console.failed(e),
    };
    let view = ProvidersPage {
        nav: &console.nav,
        rows: providers
            .into_iter()
            .map(|p| ProviderRow {
                id: p.id,
                slug: p.slug,
                name: p.name,
                issuer: p.issuer,
                active: p.active,
            })
            .collect(),
        form,
        errors,
    };
    console.render(status_of(&view.errors), &view)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match Console::of(&state, &headers, "/console/providers", "providers").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    list_page(&state, &console, &ProviderForm::default(), FieldErrors::default()).await
}

fn input(form: &ProviderForm, before: Option<&IdentityProvider>) -> ProviderInput {
    let secret = form.client_secret.trim();
    ProviderInput {
        slug: form.slug.clone(),
        name: form.name.clone(),
        issuer: form.issuer.trim().to_owned(),
        client_id: form.client_id.clone(),
        // Empty: keep the stored secret (an edit), or none (a new public client with PKCE).
        client_secret: (!secret.is_empty()).then(|| Some(secret.to_owned())),
        scopes: before.map(|b| b.scopes.clone()),
        email_domains: form.domains(),
        jit: form.jit.is_some(),
        link_by_email: before.is_some_and(|b| b.link_by_email),
        groups_claim: before.map(|b| b.groups_claim.clone()),
        mappings: before.map(|b| b.mappings.clone()).unwrap_or_default(),
        active: before.is_none_or(|b| b.active),
    }
}

fn field_errors(e: &ServiceError) -> Option<FieldErrors> {
    FieldErrors::of(e).or_else(|| match e {
        ServiceError::Conflict(_, detail) => Some(FieldErrors::one("slug", detail)),
        _ => None,
    })
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<ProviderForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/providers", "providers").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let org = OrgId(console.caller.org_id);
    match state.providers.create(&console.caller, org, input(&form, None)).await {
        Ok(p) => console.done(&format!("/console/providers/{}", p.id)),
        Err(e) => match field_errors(&e) {
            Some(errors) => list_page(&state, &console, &form, errors).await,
            None => console.failed(e),
        },
    }
}

fn provider_id(raw: &str) -> Result<ProviderId, ServiceError> {
    raw.parse::<Uuid>()
        .map(ProviderId)
        .map_err(|_| ServiceError::NotFound("identity provider not found"))
}

async fn provider_page(
    state: &AppState,
    console: &Console,
    id: ProviderId,
    form: Option<&ProviderForm>,
    errors: FieldErrors,
    tested: Option<Result<Vec<(&'static str, String)>, String>>,
) -> Response {
    let provider = match state
        .providers
        .get(&console.caller, OrgId(console.caller.org_id), id)
        .await
    {
        Ok(p) => p,
        Err(e) => return console.failed(e),
    };
    let shown = ProviderForm::of(&provider);
    let view = ProviderPage {
        nav: &console.nav,
        id: provider.id,
        has_secret: provider.has_client_secret,
        form: form.unwrap_or(&shown),
        errors,
        tested,
    };
    let status = if view.errors.is_empty() && !matches!(view.tested, Some(Err(_))) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    console.render(status, &view)
}

pub async fn provider(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let console = match Console::of(&state, &headers, "/console/providers", "providers").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    match provider_id(&id) {
        Ok(id) => provider_page(&state, &console, id, None, FieldErrors::default(), None).await,
        Err(e) => console.failed(e),
    }
}

pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<ProviderForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/providers", "providers").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let id = match provider_id(&id) {
        Ok(id) => id,
        Err(e) => return console.failed(e),
    };
    let org = OrgId(console.caller.org_id);
    let before = match state.providers.get(&console.caller, org, id).await {
        Ok(p) => p,
        Err(e) => return console.failed(e),
    };
    match state
        .providers
        .update(&console.caller, org, id, input(&form, Some(&before)))
        .await
    {
        Ok(_) => console.done(&format!("/console/providers/{}", id.uuid())),
        Err(e) => match field_errors(&e) {
            Some(errors) => provider_page(&state, &console, id, Some(&form), errors, None).await,
            None => console.failed(e),
        },
    }
}

/// Fetches the provider's discovery document now.
pub async fn test(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<super::CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/providers", "providers").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let id = match provider_id(&id) {
        Ok(id) => id,
        Err(e) => return console.failed(e),
    };
    let provider = match state
        .providers
        .get(&console.caller, OrgId(console.caller.org_id), id)
        .await
    {
        Ok(p) => p,
        Err(e) => return console.failed(e),
    };
    let tested = state.oidc.test_connection(&provider.issuer).await.map(|found| {
        let mut rows = vec![("Authorization endpoint", found.authorization_endpoint)];
        if let Some(token) = found.token_endpoint {
            rows.push(("Token endpoint", token));
        }
        if let Some(userinfo) = found.userinfo_endpoint {
            rows.push(("Userinfo endpoint", userinfo));
        }
        rows
    });
    provider_page(&state, &console, id, None, FieldErrors::default(), Some(tested)).await
}
