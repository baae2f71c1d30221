//! The console's verified email domains: claim a domain (the TXT record to publish is shown),
//! verify it (guildhall looks the record up), and see each one's join policy. The API's
//! `ClaimDomain` parses the form; the same `EmailDomainService` claims and verifies.
use super::{Console, CsrfOnly, FieldErrors, Nav};
use crate::http::email_domains::ClaimDomain;
use crate::http::openid::pages::PageForm;
use crate::http::state::AppState;
use crate::model::OrgId;
use crate::service::ServiceError;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

pub struct DomainRow {
    pub domain: String,
    pub record: String,
    pub value: String,
    pub verified: bool,
    pub policy: &'static str,
    /// The roles joining grants (auto_join), comma separated.
    pub roles: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ClaimForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
}

#[derive(Template)]
#[template(path = "console/email_domains.html")]
struct EmailDomainsPage<'a> {
    nav: &'a Nav,
    rows: Vec<DomainRow>,
    form: &'a ClaimForm,
    errors: FieldErrors,
    /// A verification that did not find the record yet: which domain, and why.
    not_yet: Option<(String, String)>,
}

async fn render(
    state: &AppState,
    console: &Console,
    form: &ClaimForm,
    errors: FieldErrors,
    not_yet: Option<(String, String)>,
) -> Response {
    let domains = match state
        .email_domains
        .list(&console.caller, OrgId(console.caller.org_id))
        .await
    {
        Ok(domains) => domains,
        Err(e) => return console.failed(e),
    };
    let status = if errors.is_empty() && not_yet.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = EmailDomainsPage {
        nav: &console.nav,
        rows: domains
            .into_iter()
            .map(|d| DomainRow {
                record: d.record_name(),
                value: d.challenge.clone(),
                verified: d.verified_at.is_some(),
                roles: match &d.policy {
                    crate::model::JoinPolicy::AutoJoin { roles } => roles.join(", "),
                    crate::model::JoinPolicy::InviteOnly => String::new(),
                },
                policy: d.policy.name(),
                domain: d.domain,
            })
            .collect(),
        form,
        errors,
        not_yet,
    };
    console.render(status, &view)
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match Console::of(&state, &headers, "/console/email-domains", "email-domains").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    render(&state, &console, &ClaimForm::default(), FieldErrors::default(), None).await
}

pub async fn claim(State(state): State<AppState>, headers: HeaderMap, PageForm(form): PageForm<ClaimForm>) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/email-domains", "email-domains").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let request = ClaimDomain {
        domain: form.domain.clone(),
        join_policy: None,
        roles: None,
    };
    let org = OrgId(console.caller.org_id);
    let result = match request.parse() {
        Ok((domain, policy)) => state.email_domains.claim(&console.caller, org, &domain, policy).await,
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(_) => console.done("/console/email-domains"),
        Err(e) => match FieldErrors::of(&e).or_else(|| match &e {
            ServiceError::Conflict(_, detail) => Some(FieldErrors::one("domain", detail)),
            _ => None,
        }) {
            Some(errors) => render(&state, &console, &form, errors, None).await,
            None => console.failed(e),
        },
    }
}

/// Looks the TXT record up now; when it is not there (yet), the page says so beside the domain.
pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/email-domains", "email-domains").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let org = OrgId(console.caller.org_id);
    match state.email_domains.verify(&console.caller, org, &domain).await {
        Ok(_) => console.done("/console/email-domains"),
        Err(e @ (ServiceError::Conflict(..) | ServiceError::Forbidden(..) | ServiceError::Upstream(..))) => {
            let reason = crate::http::error::ApiError::from(e).body().1;
            render(
                &state,
                &console,
                &ClaimForm::default(),
                FieldErrors::default(),
                Some((domain, reason)),
            )
            .await
        }
        Err(e) => console.failed(e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    join_policy: String,
    #[serde(default)]
    roles: String,
}

/// Sets a verified domain's join policy: `invite_only`, or `auto_join` with the roles joining
/// grants (never `owner`; the API's rules).
pub async fn set_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(domain): Path<String>,
    PageForm(form): PageForm<PolicyForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/email-domains", "email-domains").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let roles: Vec<String> = form
        .roles
        .split([',', ' '])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let request = crate::http::email_domains::UpdateDomain {
        join_policy: form.join_policy.clone(),
        roles: (form.join_policy == "auto_join" && !roles.is_empty()).then_some(roles),
    };
    let org = OrgId(console.caller.org_id);
    let result = match request.parse() {
        Ok(policy) => {
            state
                .email_domains
                .set_policy(&console.caller, org, &domain, policy)
                .await
        }
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(_) => console.done("/console/email-domains"),
        Err(e @ (ServiceError::Validation(_) | ServiceError::Conflict(..) | ServiceError::Forbidden(..))) => {
            let reason = crate::http::error::ApiError::from(e).body().1;
            render(
                &state,
                &console,
                &ClaimForm::default(),
                FieldErrors::default(),
                Some((domain, reason)),
            )
            .await
        }
        Err(e) => console.failed(e),
    }
}
