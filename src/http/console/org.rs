//! The console's organisation pages: members (search, pages, roles, remove), invitations (send,
//! resend, revoke) and teams (create, rename, members with their team role). Each handler calls
//! the service the API's handler calls, with the console session's caller, and parses its form
//! with the API's own parser.
use super::{Console, CsrfOnly, FieldErrors, Nav};
use crate::http::invitations::CreateInvitation;
use crate::http::openid::pages::PageForm;
use crate::http::state::AppState;
use crate::http::teams::CreateTeam;
use crate::model::{InvitationId, OrgId, PageRequest, TeamId, UserId};
use crate::service::ServiceError;
use crate::service::teams::TeamPatch;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

const PAGE_SIZE: u64 = 25;

/// A row of the members table.
pub struct MemberRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub roles: String,
    pub joined: String,
}

#[derive(Template)]
#[template(path = "console/members.html")]
struct MembersPage<'a> {
    nav: &'a Nav,
    q: &'a str,
    rows: Vec<MemberRow>,
    total: Option<u64>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: Option<String>,
}

fn page_request(cursor: Option<&str>) -> PageRequest {
    PageRequest {
        limit: PAGE_SIZE,
        after: cursor.and_then(|c| c.parse().ok()),
    }
}

fn date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

pub async fn members(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let console = match Console::of(&state, &headers, "/console/members", "members").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let org = OrgId(console.caller.org_id);
    let search = Some(q.q.as_str()).filter(|s| !s.trim().is_empty());
    let found = state
        .orgs
        .members_matching(&console.caller, org, search, page_request(q.cursor.as_deref()))
        .await;
    let page = match found {
        Ok(page) => page,
        Err(e) => return console.failed(e),
    };
    let rows = page
        .items
        .into_iter()
        .map(|m| MemberRow {
            id: m.user.id,
            email: m.user.email,
            name: m.user.display_name,
            roles: m.roles.join(", "),
            joined: date(m.joined_at),
        })
        .collect();
    let view = MembersPage {
        nav: &console.nav,
        q: &q.q,
        rows,
        total: page.total,
        next: page.next_cursor,
    };
    console.render(StatusCode::OK, &view)
}

#[derive(Debug, Default, Deserialize)]
pub struct RolesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    roles: String,
}

/// Replaces a member's roles (role keys, comma separated): the API's rules (owners only by an
/// owner, unknown keys refused).
pub async fn set_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<RolesForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/members", "members").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(user) = id.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("user not found"));
    };
    let roles: Vec<String> = form
        .roles
        .split([',', ' '])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let org = OrgId(console.caller.org_id);
    match state.orgs.set_roles(&console.caller, org, UserId(user), roles).await {
        Ok(_) => console.done("/console/members"),
        Err(e) => console.failed(e),
    }
}

pub async fn remove_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/members", "members").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(user) = id.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("user not found"));
    };
    let org = OrgId(console.caller.org_id);
    match state.orgs.remove_member(&console.caller, org, UserId(user)).await {
        Ok(()) => console.done("/console/members"),
        Err(e) => console.failed(e),
    }
}

/// A row of the invitations table.
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub roles: String,
    pub status: &'static str,
    pub expires: String,
}

/// The invitation form as typed.
#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "console/invitations.html")]
struct InvitationsPage<'a> {
    nav: &'a Nav,
    rows: Vec<InvitationRow>,
    form: &'a InviteForm,
    errors: FieldErrors,
    sent: bool,
}

#[derive(Debug, Deserialize)]
pub struct SentQuery {
    #[serde(default)]
    sent: Option<String>,
}

async fn invitations_page(
    state: &AppState,
    console: &Console,
    form: &InviteForm,
    errors: FieldErrors,
    sent: bool,
) -> Response {
    let org = OrgId(console.caller.org_id);
    let listed = state
        .invitations
        .list(
            &console.caller,
            org,
            None,
            PageRequest {
                limit: 100,
                after: None,
            },
        )
        .await;
    let page = match listed {
        Ok(page) => page,
        Err(e) => return console.failed(e),
    };
    let now = state.changes.now();
    let rows = page
        .items
        .into_iter()
        .map(|i| InvitationRow {
            id: i.id,
            status: i.status(now).as_str(),
            email: i.email,
            roles: i.roles.join(", "),
            expires: date(i.expires_at),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = InvitationsPage {
        nav: &console.nav,
        rows,
        form,
        errors,
        sent,
    };
    console.render(status, &view)
}

pub async fn invitations(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<SentQuery>) -> Response {
    let console = match Console::of(&state, &headers, "/console/invitations", "invitations").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    invitations_page(
        &state,
        &console,
        &InviteForm::default(),
        FieldErrors::default(),
        q.sent.is_some(),
    )
    .await
}

/// Sends an invitation: the API's `CreateInvitation` parses the form, the same service sends
/// it. A refused form comes back with its errors beside the fields and what was typed.
pub async fn invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<InviteForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/invitations", "invitations").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let role = form.role.trim();
    let request = CreateInvitation {
        email: form.email.clone(),
        roles: (!role.is_empty()).then(|| vec![role.to_owned()]),
        teams: None,
        domains: None,
        expires_in: None,
    };
    let org = OrgId(console.caller.org_id);
    let result = match request.parse() {
        Ok(input) => state.invitations.create(&console.caller, org, input).await.map(|_| ()),
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(()) => console.done("/console/invitations?sent=1"),
        Err(e) => match form_errors(&e) {
            Some(errors) => invitations_page(&state, &console, &form, errors, false).await,
            None => console.failed(e),
        },
    }
}

/// The errors a form shows beside its fields: validation, and refusals that are about one
/// field (an address already a member or invited, an unknown role).
fn form_errors(e: &ServiceError) -> Option<FieldErrors> {
    if let Some(errors) = FieldErrors::of(e) {
        return Some(errors);
    }
    match e {
        ServiceError::Conflict(_, detail) => Some(FieldErrors::one("email", detail)),
        _ => None,
    }
}

pub async fn revoke_invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    invitation_action(state, headers, id, form, false).await
}

pub async fn resend_invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    invitation_action(state, headers, id, form, true).await
}

async fn invitation_action(state: AppState, headers: HeaderMap, id: String, form: CsrfOnly, resend: bool) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/invitations", "invitations").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Ok(invitation) = id.parse::<Uuid>() else {
        return console.failed(ServiceError::NotFound("invitation not found"));
    };
    let (org, invitation) = (OrgId(console.caller.org_id), InvitationId(invitation));
    let result = if resend {
        state
            .invitations
            .resend(&console.caller, org, invitation)
            .await
            .map(|_| ())
    } else {
        state.invitations.revoke(&console.caller, org, invitation).await
    };
    match result {
        Ok(()) => console.done("/console/invitations"),
        Err(e) => console.failed(e),
    }
}

/// A row of the teams table.
pub struct TeamRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
}

#[derive(Template)]
#[template(path = "console/teams.html")]
struct TeamsPage<'a> {
    nav: &'a Nav,
    rows: Vec<TeamRow>,
    form: &'a TeamForm,
    errors: FieldErrors,
}

async fn teams_page(state: &AppState, console: &Console, form: &TeamForm, errors: FieldErrors) -> Response {
    let listed = state
        .teams
        .list(
            &console.caller,
            PageRequest {
                limit: 200,
                after: None,
            },
        )
        .await;
    let page = match listed {
        Ok(page) => page,
        Err(e) => return console.failed(e),
    };
    let rows = page
        .items
        .into_iter()
        .map(|t| TeamRow {
            id: t.id,
            slug: t.slug,
            name: t.name,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = TeamsPage {
        nav: &console.nav,
        rows,
        form,
        errors,
    };
    console.render(status, &view)
}

pub async fn teams(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match Console::of(&state, &headers, "/console/teams", "teams").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    teams_page(&state, &console, &TeamForm::default(), FieldErrors::default()).await
}

pub async fn create_team(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<TeamForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/teams", "teams").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let request = CreateTeam {
        slug: form.slug.clone(),
        name: form.name.clone(),
        external_ref: None,
        is_active: None,
    };
    let result = match request.parse() {
        Ok(input) => state.teams.create(&console.caller, input).await,
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(team) => console.done(&format!("/console/teams/{}", team.id)),
        Err(e) => match FieldErrors::of(&e).or_else(|| match &e {
            ServiceError::Conflict(_, detail) => Some(FieldErrors::one("slug", detail)),
            _ => None,
        }) {
            Some(errors) => teams_page(&state, &console, &form, errors).await,
            None => console.failed(e),
        },
    }
}

/// A member of a team, as its page lists them.
pub struct TeamMemberRow {
    pub id: Uuid,
    pub email: String,
    pub role: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct TeamMemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    name: String,
}

#[derive(Template)]
#[template(path = "console/team.html")]
struct TeamPage<'a> {
    nav: &'a Nav,
    id: Uuid,
    slug: String,
    name: String,
    members: Vec<TeamMemberRow>,
    form: &'a TeamMemberForm,
    errors: FieldErrors,
}

async fn team_page(
    state: &AppState,
    console: &Console,
    id: TeamId,
    form: &TeamMemberForm,
    errors: FieldErrors,
) -> Response {
    let team = match state.teams.get(&console.caller, id).await {
        Ok(team) => team,
        Err(e) => return console.failed(e),
    };
    let members = match state.teams.members(&console.caller, id).await {
        Ok(members) => members,
        Err(e) => return console.failed(e),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = TeamPage {
        nav: &console.nav,
        id: team.id,
        slug: team.slug,
        name: team.name,
        members: members
            .into_iter()
            .map(|m| TeamMemberRow {
                id: m.user.id,
                email: m.user.email,
                role: m.role,
            })
            .collect(),
        form,
        errors,
    };
    console.render(status, &view)
}

fn team_id(id: &str) -> Result<TeamId, ServiceError> {
    id.parse::<Uuid>()
        .map(TeamId)
        .map_err(|_| ServiceError::NotFound("team not found"))
}

pub async fn team(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let console = match Console::of(&state, &headers, "/console/teams", "teams").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    match team_id(&id) {
        Ok(id) => team_page(&state, &console, id, &TeamMemberForm::default(), FieldErrors::default()).await,
        Err(e) => console.failed(e),
    }
}

/// Renames a team (the form of its page).
pub async fn rename_team(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<TeamMemberForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/teams", "teams").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let id = match team_id(&id) {
        Ok(id) => id,
        Err(e) => return console.failed(e),
    };
    let patch = crate::http::teams::UpdateTeam {
        slug: None,
        name: Some(form.name.clone()),
        external_ref: None,
        is_active: None,
    }
    .parse();
    let result = match patch {
        Ok(patch) => rename(&state, &console, id, patch).await,
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(()) => console.done(&format!("/console/teams/{}", id.uuid())),
        Err(e) => match FieldErrors::of(&e) {
            Some(errors) => team_page(&state, &console, id, &form, errors).await,
            None => console.failed(e),
        },
    }
}

async fn rename(state: &AppState, console: &Console, id: TeamId, patch: TeamPatch) -> Result<(), ServiceError> {
    state.teams.update(&console.caller, id, patch).await.map(|_| ())
}

/// Adds a member of the organisation (named by email) to the team with a team role.
pub async fn add_team_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(form): PageForm<TeamMemberForm>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/teams", "teams").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let id = match team_id(&id) {
        Ok(id) => id,
        Err(e) => return console.failed(e),
    };
    let role = Some(form.role.trim().to_owned()).filter(|r| !r.is_empty());
    let role = match crate::service::teams::TeamRole::parse(role) {
        Ok(role) => role,
        Err(invalid) => {
            let errors = FieldErrors::of(&invalid.into()).unwrap_or_default();
            return team_page(&state, &console, id, &form, errors).await;
        }
    };
    let member = match console.member_by_email(&state, &form.email).await {
        Ok(member) => member,
        Err(e) => return console.failed(e),
    };
    let Some(member) = member else {
        let errors = FieldErrors::one("email", "is not a member of this organisation");
        return team_page(&state, &console, id, &form, errors).await;
    };
    match state
        .teams
        .put_member(&console.caller, id, UserId(member.user.id), role)
        .await
    {
        Ok(()) => console.done(&format!("/console/teams/{}", id.uuid())),
        Err(e) => console.failed(e),
    }
}

pub async fn remove_team_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, user)): Path<(String, String)>,
    PageForm(form): PageForm<CsrfOnly>,
) -> Response {
    let console = match Console::posted(&state, &headers, &form.csrf, "/console/teams", "teams").await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let (Ok(id), Ok(user)) = (team_id(&id), user.parse::<Uuid>()) else {
        return console.failed(ServiceError::NotFound("team not found"));
    };
    match state.teams.remove_member(&console.caller, id, UserId(user)).await {
        Ok(()) => console.done(&format!("/console/teams/{}", id.uuid())),
        Err(e) => console.failed(e),
    }
}
