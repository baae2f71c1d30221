//! Invitations: `/orgs/{id}/invitations` for an organisation's admins, `/invitations/{token}` for
//! whoever holds the mailed token (preview, accept).
use super::dto::{OrgView, PageOf, PageQuery, TokenResponse};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, Bearer, OptionalJson};
use super::state::AppState;
use crate::config::PasswordPolicy;
use crate::model::input::{DisplayName, Email, Invalid, Problems};
use crate::model::{ClientInfo, Invitation, InvitationId, InvitationStatus, OrgId, Organisation};
use crate::service::consent::invitations::{MAX_EXPIRY, MIN_EXPIRY, NewInvitation, Preview};
use crate::service::consent::{Acceptance, Accepted};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    #[schema(example = "dana@acme.test")]
    pub email: String,
    /// Role keys; default `["member"]`; `owner` only from an owner.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Team slug → `member`, `maintainer` or `owner`.
    #[serde(default)]
    pub teams: Option<BTreeMap<String, String>>,
    /// Domain keys.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// Seconds until the invitation expires (3600 to 2592000); default `AUTH_INVITATION_TTL`.
    #[serde(default)]
    #[schema(minimum = 3600, maximum = 2592000)]
    pub expires_in: Option<i64>,
}

impl CreateInvitation {
    pub(crate) fn parse(self) -> Result<NewInvitation, Invalid> {
        let mut problems = Problems::default();
        let email = problems.parse::<Email>("email", &self.email);
        let expires_in = self.expires_in.map(Duration::seconds);
        if expires_in.is_some_and(|d| d < MIN_EXPIRY || d > MAX_EXPIRY) {
            problems.add("expires_in", "must be between 3600 and 2592000 seconds");
        }
        let (email,) = problems.done((email,))?;
        Ok(NewInvitation {
            email,
            roles: self.roles,
            teams: self.teams.unwrap_or_default(),
            domains: self.domains.unwrap_or_default(),
            expires_in,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub teams: BTreeMap<String, String>,
    pub domains: Vec<String>,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: &'static str,
    pub invited_by: Option<Uuid>,
    pub inviter_name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When the mail (or its latest resend) went out.
    pub sent_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl InvitationView {
    fn new(i: Invitation, now: DateTime<Utc>) -> Self {
        Self {
            status: i.status(now).as_str(),
            id: i.id,
            email: i.email,
            roles: i.roles,
            teams: i.teams,
            domains: i.domains,
            invited_by: i.invited_by,
            inviter_name: i.inviter_name,
            created_at: i.created_at,
            expires_at: i.expires_at,
            sent_at: i.sent_at,
            accepted_at: i.accepted_at,
            accepted_by: i.accepted_by,
            revoked_at: i.revoked_at,
        }
    }
}

/// `?status=pending|accepted|revoked|expired`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    #[param(inline)]
    pub status: Option<StatusFilter>,
}

/// An invitation's status, as a list filter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl StatusQuery {
    fn parse(&self) -> Option<InvitationStatus> {
        self.status.map(|s| match s {
            StatusFilter::Pending => InvitationStatus::Pending,
            StatusFilter::Accepted => InvitationStatus::Accepted,
            StatusFilter::Revoked => InvitationStatus::Revoked,
            StatusFilter::Expired => InvitationStatus::Expired,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    pub organization: OrgView,
    pub inviter_name: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

impl From<Preview> for PreviewView {
    fn from(p: Preview) -> Self {
        Self {
            organization: org_view(p.organization),
            inviter_name: p.inviter_name,
            email: p.email,
            expires_at: p.expires_at,
        }
    }
}

pub fn org_view(o: Organisation) -> OrgView {
    OrgView {
        id: o.id,
        slug: o.slug,
        name: o.name,
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// Without a bearer: the account's display name (new or taken-over accounts).
    #[serde(default)]
    #[schema(value_type = Option<crate::http::schema::DisplayName>)]
    pub name: Option<String>,
    /// Without a bearer: the account's (new) password; required then.
    #[serde(default)]
    #[schema(value_type = Option<crate::http::schema::NewPassword>)]
    pub password: Option<String>,
}

impl AcceptRequest {
    pub(crate) fn parse(self, policy: &PasswordPolicy) -> Result<Acceptance, Invalid> {
        let mut problems = Problems::default();
        let name = problems.parse_opt::<DisplayName>("name", self.name.as_deref());
        let password = problems.password_opt("password", self.password, policy);
        let (name, password) = problems.done((name, password))?;
        Ok(Acceptance { name, password })
    }
}

/// The bearer's account joined.
#[derive(Debug, Serialize, ToSchema)]
pub struct Joined {
    pub organization: OrgView,
    pub roles: Vec<String>,
}

#[utoipa::path(post, path = "/orgs/{id}/invitations", tag = "orgs", security(("bearer" = [])), params(("id" = Uuid, Path)),
    request_body = CreateInvitation,
    responses((status = 201, body = InvitationView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiJson(body): ApiJson<CreateInvitation>,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
    let invitation = state.invitations.create(&caller, id, body.parse()?).await?;
    let now = state.changes.now();
    Ok((StatusCode::CREATED, Json(InvitationView::new(invitation, now))))
}

#[utoipa::path(get, path = "/orgs/{id}/invitations", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), StatusQuery, PageQuery),
    responses((status = 200, body = PageOf<InvitationView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<OrgId>,
    ApiQuery(status): ApiQuery<StatusQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageOf<InvitationView>>> {
    let found = state
        .invitations
        .list(&caller, id, status.parse(), page.request()?)
        .await?;
    let now = state.changes.now();
    Ok(Json(PageOf::map(found, |i| InvitationView::new(i, now))))
}

#[utoipa::path(get, path = "/orgs/{id}/invitations/{invitation_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path)),
    responses((status = 200, body = InvitationView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, invitation)): ApiPath<(OrgId, InvitationId)>,
) -> ApiResult<Json<InvitationView>> {
    let found = state.invitations.get(&caller, id, invitation).await?;
    Ok(Json(InvitationView::new(found, state.changes.now())))
}

/// Revokes an invitation: its token stops working.
#[utoipa::path(delete, path = "/orgs/{id}/invitations/{invitation_id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, invitation)): ApiPath<(OrgId, InvitationId)>,
) -> ApiResult<StatusCode> {
    state.invitations.revoke(&caller, id, invitation).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails the invitation again with a new token (the old one stops working) and a fresh expiry.
#[utoipa::path(post, path = "/orgs/{id}/invitations/{invitation_id}/resend", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path)),
    responses((status = 202, body = InvitationView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn resend(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, invitation)): ApiPath<(OrgId, InvitationId)>,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
    let renewed = state.invitations.resend(&caller, id, invitation).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(InvitationView::new(renewed, state.changes.now())),
    ))
}

/// What an invitation is, for whoever holds its token: the organisation, the inviter's name, the
/// address and the expiry (nothing about accounts). Unknown, expired, used or revoked: one 404.
#[utoipa::path(get, path = "/invitations/{token}", tag = "auth", params(("token" = String, Path)),
    responses((status = 200, body = PreviewView), (status = 404, body = ErrorBody)))]
pub async fn preview(State(state): State<AppState>, ApiPath(token): ApiPath<String>) -> ApiResult<Json<PreviewView>> {
    Ok(Json(state.invitations.preview(&token).await?.into()))
}

/// Accepts an invitation: with the bearer of the invited address's account (200 `Joined`), or
/// without one with `{name?, password}` for a new account (201) or an unverified one taken over
/// (200), both with the usual token response. See the README for every case and error code.
#[utoipa::path(post, path = "/invitations/{token}/accept", tag = "auth", params(("token" = String, Path)),
    request_body(content = Option<AcceptRequest>), security((), ("bearer" = [])),
    responses((status = 200, description = "joined (`Joined`), or an account taken over (`TokenResponse`)", body = Joined),
        (status = 201, body = TokenResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    client: ClientInfo,
    Bearer(bearer): Bearer,
    ApiPath(token): ApiPath<String>,
    OptionalJson(body): OptionalJson<AcceptRequest>,
) -> ApiResult<Response> {
    let input = body.unwrap_or_default().parse(&state.config.password_policy)?;
    Ok(
        match state
            .invitations
            .accept(&token, bearer.as_deref(), input, client)
            .await?
        {
            Accepted::Joined { organization, roles } => Json(Joined {
                organization: org_view(organization),
                roles,
            })
            .into_response(),
            Accepted::Session { grant, created: true } => {
                (StatusCode::CREATED, Json(TokenResponse::from(*grant))).into_response()
            }
            Accepted::Session { grant, .. } => Json(TokenResponse::from(*grant)).into_response(),
        },
    )
}
