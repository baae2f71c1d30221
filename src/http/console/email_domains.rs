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
