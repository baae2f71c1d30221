//! The console's identity providers (OpenID Connect, for single sign-on): listed, created,
//! edited (a secret is write-only: left empty it is kept), and "test connection", which fetches
//! the issuer's discovery document now and shows its endpoints or why it failed, and its claim
//! mappings (what a provider's group grants: roles, team roles, domains), added and removed one
//! at a time. The same `ProviderService` as `/orgs/{id}/identity-providers` checks every field;
//! a mapping's errors show beside the mapping form.
use super::{Console, FieldErrors, Nav};
use crate::http::openid::pages::PageForm;
use crate::http::state::AppState;
use crate::model::{ClaimMapping, IdentityProvider, OrgId, ProviderId};
use crate::service::ServiceError;
use crate::service::providers::ProviderInput;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
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
    scopes: String,
    #[serde(default)]
    groups_claim: String,
    #[serde(default)]
    jit: Option<String>,
    #[serde(default)]
    link_by_email: Option<String>,
    #[serde(default)]
    active: Option<String>,
}

impl Default for ProviderForm {
    /// A new provider's form: the scopes and the groups claim the API defaults to, active.
    fn default() -> Self {
        Self {
            csrf: String::new(),
            slug: String::new(),
            name: String::new(),
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            email_domains: String::new(),
            scopes: "openid email profile".to_owned(),
            groups_claim: "groups".to_owned(),
            jit: None,
            link_by_email: None,
            active: Some("1".to_owned()),
        }
    }
}

/// Words separated by spaces, commas or line breaks.
fn words(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\r'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn checked(on: bool) -> Option<String> {
    on.then(|| "1".to_owned())
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
            scopes: p.scopes.join(" "),
            groups_claim: p.groups_claim.clone(),
            jit: checked(p.jit),
            link_by_email: checked(p.link_by_email),
            active: checked(p.active),
        }
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

/// A claim mapping being added: the claim's value, and what it grants (role keys, `team=role`
/// pairs and domain keys, each list space separated).
#[derive(Debug, Default, Deserialize)]
pub struct MappingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    roles: String,
    #[serde(default)]
    teams: String,
    #[serde(default)]
    domains: String,
}

impl MappingForm {
    /// The mapping, or the `teams` field's problem (a pair without its `=`).
    fn mapping(&self) -> Result<ClaimMapping, FieldErrors> {
        let mut teams = std::collections::BTreeMap::new();
        for pair in words(&self.teams) {
            let Some((team, role)) = pair.split_once('=') else {
                return Err(FieldErrors::one("teams", "are written team=role, e.g. ops=maintainer"));
            };
            teams.insert(team.to_owned(), role.to_owned());
        }
        Ok(ClaimMapping {
            value: self.value.trim().to_owned(),
            roles: words(&self.roles),
            teams,
            domains: words(&self.domains),
        })
    }
}

pub struct MappingRow {
    pub value: String,
    pub roles: String,
    pub teams: String,
    pub domains: String,
}

impl MappingRow {
    fn of(m: &ClaimMapping) -> Self {
        Self {
            value: m.value.clone(),
            roles: m.roles.join(" "),
            teams: m
                .teams
                .iter()
                .map(|(t, r)| format!("{t}={r}"))
                .collect::<Vec<_>>()
                .join(" "),
            domains: m.domains.join(" "),
        }
    }
}

/// Removes the mapping at `at`, if it still is the one of `value` (the page may be stale).
#[derive(Debug, Default, Deserialize)]
pub struct RemoveMapping {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    at: usize,
    #[serde(default)]
    value: String,
}

#[derive(Template)]
#[template(path = "console/provider.html")]
struct ProviderPage<'a> {
    nav: &'a Nav,
    id: Uuid,
    has_secret: bool,
    form: &'a ProviderForm,
    errors: FieldErrors,
    mappings: Vec<MappingRow>,
    mapping: &'a MappingForm,
    mapping_errors: FieldErrors,
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
        // Left empty: the defaults (`openid email profile`, the `groups` claim).
        scopes: Some(words(&form.scopes)).filter(|s| !s.is_empty()),
        email_domains: words(&form.email_domains),
        jit: form.jit.is_some(),
        link_by_email: form.link_by_email.is_some(),
        groups_claim: Some(form.groups_claim.trim().to_owned()).filter(|g| !g.is_empty()),
        mappings: before.map(|b| b.mappings.clone()).unwrap_or_default(),
        active: form.active.is_some(),
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

/// What the provider page shows besides the stored provider: a form sent back with its errors,
/// a mapping being added with its errors, a connection test's outcome.
#[derive(Default)]
struct Shown<'a> {
    form: Option<&'a ProviderForm>,
    errors: FieldErrors,
    mapping: Option<&'a MappingForm>,
    mapping_errors: FieldErrors,
    tested: Option<Result<Vec<(&'static str, String)>, String>>,
}

async fn provider_page(state: &AppState, console: &Console, id: ProviderId, shown: Shown<'_>) -> Response {
    let provider = match state
        .providers
        .get(&console.caller, OrgId(console.caller.org_id), id)
        .await
    {
        Ok(p) => p,
        Err(e) => return console.failed(e),
    };
    let stored = ProviderForm::of(&provider);
    let blank = MappingForm::default();
    let view = ProviderPage {
        nav: &console.nav,
        id: provider.id,
        has_secret: provider.has_client_secret,
        form: shown.form.unwrap_or(&stored),
        errors: shown.errors,
        mappings: provider.mappings.iter().map(MappingRow::of).collect(),
        mapping: shown.mapping.unwrap_or(&blank),
        mapping_errors: shown.mapping_errors,
        tested: shown.tested,
    };
    let status = if view.errors.is_empty() && view.mapping_errors.is_empty() && !matches!(view.tested, Some(Err(_))) {
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
        Ok(id) => provider_page(&state, &console, id, Shown::default()).await,
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
            Some(errors) => {
                let shown = Shown {
                    form: Some(&form),
                    errors,
                    ..Shown::default()
                };
                provider_page(&state, &console, id, shown).await
            }
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
    let shown = Shown {
        tested: Some(tested),
        ..Shown::default()
    };
    provider_page(&state, &console, id, shown).await
}

/// Saves the provider as stored with `mappings` instead of its own.
async fn save_mappings(
    state: &AppState,
    console: &Console,
    id: ProviderId,
    before: &IdentityProvider,
    mappings: Vec<ClaimMapping>,
) -> Result<IdentityProvider, ServiceError> {
    let mut input = input(&ProviderForm::of(before), Some(before));
    input.mappings = mappings;
    state
        .providers
        .update(&console.caller, OrgId(console.caller.org_id), id, input)
        .await
}

/// The console and the provider a mapping form was posted about.
async fn mapping_target(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
    id: &str,
) -> Result<(Console, ProviderId, IdentityProvider), Response> {
    let console = Console::posted(state, headers, csrf, "/console/providers", "providers").await?;
    let found = match provider_id(id) {
        Ok(id) => state
            .providers
            .get(&console.caller, OrgId(console.caller.org_id), id)
            .await
            .map(|p| (id, p)),
        Err(e) => Err(e),
    };
    match found {
        Ok((id, provider)) => Ok((console, id, provider)),
        Err(e) => Err(console.failed(e)),
    }
}

/// Adds a claim mapping; its problems (an unknown role, team or domain) show beside its form.
pub async fn add_mapping(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<MappingForm>,
) -> Response {
    let (console, id, before) = match mapping_target(&state, &headers, &form.csrf, &id).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let again = |mapping_errors| {
        let shown = Shown {
            mapping: Some(&form),
            mapping_errors,
            ..Shown::default()
        };
        provider_page(&state, &console, id, shown)
    };
    let mapping = match form.mapping() {
        Ok(m) => m,
        Err(errors) => return again(errors).await,
    };
    let at = format!("mappings[{}]", before.mappings.len());
    let mut mappings = before.mappings.clone();
    mappings.push(mapping);
    match save_mappings(&state, &console, id, &before, mappings).await {
        Ok(_) => console.done(&format!("/console/providers/{}", id.uuid())),
        Err(e) => match FieldErrors::of(&e) {
            // The new mapping's problems, named by its own fields (`value`, `roles`, ...).
            Some(errors) => {
                let mine = errors
                    .0
                    .into_iter()
                    .filter_map(|(field, message)| {
                        let rest = field.strip_prefix(&at)?.trim_start_matches('.');
                        let name = rest.split(['.', '[']).next().unwrap_or(rest);
                        Some((name.to_owned(), message))
                    })
                    .collect();
                again(FieldErrors::from_pairs(mine)).await
            }
            None => console.failed(e),
        },
    }
}

pub async fn remove_mapping(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<RemoveMapping>,
) -> Response {
    let (console, id, before) = match mapping_target(&state, &headers, &form.csrf, &id).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    if before.mappings.get(form.at).is_none_or(|m| m.value != form.value) {
        return console.failed(ServiceError::NotFound("claim mapping not found"));
    }
    let mut mappings = before.mappings.clone();
    mappings.remove(form.at);
    match save_mappings(&state, &console, id, &before, mappings).await {
        Ok(_) => console.done(&format!("/console/providers/{}", id.uuid())),
        Err(e) => console.failed(e),
    }
}
