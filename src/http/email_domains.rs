//! Verified email domains: `/orgs/{id}/email-domains` for an organisation's admins, and
//! `/auth/organizations/joinable` and `/auth/organizations/{slug}/join` for users whose verified
//! address is in an `auto_join` domain.
use super::dto::OrgView;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, Auth};
use super::invitations::{Joined, org_view};
use super::state::AppState;
use crate::model::input::{Invalid, Problems};
use crate::model::{EmailDomain, OrgId};
use crate::service::consent::domains::{Joinable, PolicyInput};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimDomain {
    #[schema(example = "acme.test")]
    pub domain: String,
    /// `invite_only` (default) or `auto_join`.
    #[serde(default)]
    pub join_policy: Option<String>,
    /// With `auto_join`: the roles joining grants (default `["member"]`, never `owner`).
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateEmailDomain)]
pub struct UpdateDomain {
    /// `invite_only` or `auto_join`.
    pub join_policy: String,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

/// A join policy with its roles, or a 422 naming the field.
fn policy(problems: &mut Problems, name: Option<&str>, roles: Option<Vec<String>>) -> Option<PolicyInput> {
    match (name.unwrap_or("invite_only"), roles) {
        ("invite_only", None) => Some(PolicyInput::InviteOnly),
        ("invite_only", Some(_)) => {
            problems.add("roles", "only with join_policy auto_join");
            None
        }
        ("auto_join", roles) => Some(PolicyInput::AutoJoin(roles)),
        _ => {
            problems.add("join_policy", "must be invite_only or auto_join");
            None
        }
    }
}

impl ClaimDomain {
    pub(crate) fn parse(self) -> Result<(String, PolicyInput), Invalid> {
        let mut problems = Problems::default();
        let domain = problems.check("domain", seed::rules::email_domain(&self.domain));
        let policy = policy(&mut problems, self.join_policy.as_deref(), self.roles);
        problems.done((domain, policy))
    }
}

impl UpdateDomain {
    pub(crate) fn parse(self) -> Result<PolicyInput, Invalid> {
        let mut problems = Problems::default();
        let policy = policy(&mut problems, Some(&self.join_policy), self.roles);
        problems.done((policy,)).map(|(p,)| p)
    }
}

/// A domain in a path: normalised like a claim; anything else is not found.
fn domain_in_path(raw: &str) -> Result<String, ApiError> {
    seed::rules::email_domain(raw).map_err(|_| ApiError::NotFound("email domain not found".into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TxtRecord {
    /// Where to publish it: `_guildhall-challenge.<domain>`.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailDomainView {
    pub domain: String,
    pub verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
    /// `invite_only` or `auto_join`.
    pub join_policy: &'static str,
    /// What `auto_join` grants.
    pub roles: Vec<String>,
    /// The record that proves the domain (keep it published: it is looked up only on verify).
    pub txt_record: TxtRecord,
    pub created_at: DateTime<Utc>,
}

impl From<EmailDomain> for EmailDomainView {
    fn from(d: EmailDomain) -> Self {
        Self {
            txt_record: TxtRecord {
                name: d.record_name(),
                kind: "TXT",
                value: d.challenge.clone(),
            },
            verified: d.verified(),
            join_policy: d.policy.name(),
            roles: d.policy.roles().to_vec(),
            domain: d.domain,
            verified_at: d.verified_at,
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JoinableOrg {
    pub organization: OrgView,
    /// What joining grants.
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JoinableList {
    pub organizations: Vec<JoinableOrg>,
}

impl From<Joinable> for JoinableOrg {
    fn from(j: Joinable) -> Self {
        Self {
            organization: org_view(j.organization),
            roles: j.roles,
        }
    }
}

#[utoipa::path(get, path = "/orgs/{id}/email-domains", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<EmailDomainView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
) -> ApiResult<Json<Vec<EmailDomainView>>> {
    let domains = state.email_domains.list(&caller, id).await?;
    Ok(Json(domains.into_iter().map(EmailDomainView::from).collect()))
}

/// Claims a domain; the answer's `txt_record` is what to publish before `verify`.
#[utoipa::path(post, path = "/orgs/{id}/email-domains", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = ClaimDomain,
    responses((status = 201, body = EmailDomainView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn claim(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<ClaimDomain>,
) -> ApiResult<(StatusCode, Json<EmailDomainView>)> {
    let (domain, policy) = body.parse()?;
    let claimed = state.email_domains.claim(&caller, id, &domain, policy).await?;
    Ok((StatusCode::CREATED, Json(claimed.into())))
}

/// Looks up the TXT record and marks the domain verified.
#[utoipa::path(post, path = "/orgs/{id}/email-domains/{domain}/verify", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("domain" = String, Path)),
    responses((status = 200, body = EmailDomainView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, domain)): ApiPath<(OrgId, String)>,
) -> ApiResult<Json<EmailDomainView>> {
    let domain = domain_in_path(&domain)?;
    Ok(Json(state.email_domains.verify(&caller, id, &domain).await?.into()))
}

/// Sets the domain's join policy.
#[utoipa::path(patch, path = "/orgs/{id}/email-domains/{domain}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("domain" = String, Path)), request_body = UpdateDomain,
    responses((status = 200, body = EmailDomainView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, domain)): ApiPath<(OrgId, String)>,
    ApiJson(body): ApiJson<UpdateDomain>,
) -> ApiResult<Json<EmailDomainView>> {
    let (domain, policy) = (domain_in_path(&domain)?, body.parse()?);
    Ok(Json(
        state
            .email_domains
            .set_policy(&caller, id, &domain, policy)
            .await?
            .into(),
    ))
}

#[utoipa::path(delete, path = "/orgs/{id}/email-domains/{domain}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("domain" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, domain)): ApiPath<(OrgId, String)>,
) -> ApiResult<StatusCode> {
    state
        .email_domains
        .delete(&caller, id, &domain_in_path(&domain)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organisations the caller may join through their verified address (an `auto_join` domain).
#[utoipa::path(get, path = "/auth/organizations/joinable", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = JoinableList), (status = 401, body = ErrorBody)))]
pub async fn joinable(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<JoinableList>> {
    let found = state.email_domains.joinable(&caller).await?;
    Ok(Json(JoinableList {
        organizations: found.into_iter().map(JoinableOrg::from).collect(),
    }))
}

/// Leaves one of the caller's organisations: their teams and domains there go, their sessions in
/// it end (this token's too, when it is that organisation's). 409 `last_organization` for the
/// caller's only organisation, 409 `last_owner` for its last owner; 404 if not a member.
#[utoipa::path(post, path = "/auth/organizations/{slug}/leave", tag = "auth", security(("bearer" = [])),
    params(("slug" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn leave(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.orgs.leave_slug(&caller, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Joins an organisation listed by `joinable`; switch to it with `POST /auth/refresh {organization}`.
#[utoipa::path(post, path = "/auth/organizations/{slug}/join", tag = "auth", security(("bearer" = [])),
    params(("slug" = String, Path)),
    responses((status = 201, body = Joined), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn join(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Joined>)> {
    let joined = state.email_domains.join(&caller, &slug).await?;
    let body = Joined {
        organization: org_view(joined.organization),
        roles: joined.roles,
    };
    Ok((StatusCode::CREATED, Json(body)))
}
