//! `/teams`: the active organisation's teams and their members.
use super::dto::{PageOf, PageQuery, TeamView, nullable};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, OptionalJson};
use super::schema;
use super::state::AppState;
use crate::model::input::{DisplayName, Invalid, Problems, Reference, Slug};
use crate::model::{Team, TeamId, TeamMember, UserId};
use crate::service::teams::{NewTeam, TeamPatch, TeamRole};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamDetail {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub external_ref: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Team> for TeamDetail {
    fn from(t: Team) -> Self {
        Self {
            id: t.id,
            slug: t.slug,
            name: t.name,
            external_ref: t.external_ref,
            is_active: t.active,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    #[schema(value_type = schema::Slug)]
    pub slug: String,
    #[schema(value_type = schema::DisplayName)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Option<schema::Reference>)]
    pub external_ref: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl CreateTeam {
    pub(crate) fn parse(self) -> Result<NewTeam, Invalid> {
        let mut problems = Problems::default();
        let slug = problems.parse::<Slug>("slug", &self.slug);
        let name = problems.parse::<DisplayName>("name", &self.name);
        let external_ref = problems.parse_opt::<Reference>("external_ref", self.external_ref.as_deref());
        let (slug, name, external_ref) = problems.done((slug, name, external_ref))?;
        Ok(NewTeam {
            slug,
            name,
            external_ref,
            active: self.is_active,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    #[serde(default)]
    #[schema(value_type = Option<schema::Slug>)]
    pub slug: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<schema::DisplayName>)]
    pub name: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<schema::Reference>)]
    pub external_ref: Option<Option<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl UpdateTeam {
    pub(crate) fn parse(self) -> Result<TeamPatch, Invalid> {
        let mut problems = Problems::default();
        let slug = problems.parse_opt::<Slug>("slug", self.slug.as_deref());
        let name = problems.parse_opt::<DisplayName>("name", self.name.as_deref());
        let external_ref = match self.external_ref {
            Some(r) => problems.parse_opt::<Reference>("external_ref", r.as_deref()).map(Some),
            None => Some(None),
        };
        let (slug, name, external_ref) = problems.done((slug, name, external_ref))?;
        Ok(TeamPatch {
            slug,
            name,
            external_ref,
            active: self.is_active,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMember {
    /// `member` (default), `maintainer` or `owner`.
    #[serde(default)]
    #[schema(value_type = Option<TeamRoleName>)]
    pub role: Option<String>,
}

/// A member's role in a team (`seed::TEAM_ROLES`).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum TeamRoleName {
    Member,
    Maintainer,
    Owner,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamMemberView {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
}

impl From<TeamMember> for TeamMemberView {
    fn from(m: TeamMember) -> Self {
        Self {
            user_id: m.user.id,
            email: m.user.email,
            name: m.user.display_name,
            role: m.role,
        }
    }
}

#[utoipa::path(get, path = "/teams", tag = "teams", security(("bearer" = [])),
    responses((status = 200, body = Vec<TeamView>), (status = 401, body = ErrorBody)))]
pub async fn mine(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Vec<TeamView>>> {
    Ok(Json(
        state.teams.mine(&caller).await?.iter().map(TeamView::from).collect(),
    ))
}

#[utoipa::path(get, path = "/teams/all", tag = "teams", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageOf<TeamDetail>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn all(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageOf<TeamDetail>>> {
    let page = state.teams.list(&caller, page.request()?).await?;
    Ok(Json(PageOf::map(page, TeamDetail::from)))
}

#[utoipa::path(post, path = "/teams", tag = "teams", security(("bearer" = [])), request_body = CreateTeam,
    responses((status = 201, body = TeamDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<CreateTeam>,
) -> ApiResult<(StatusCode, Json<TeamDetail>)> {
    let team = state.teams.create(&caller, body.parse()?).await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

#[utoipa::path(get, path = "/teams/{id}", tag = "teams", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TeamDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Json<TeamDetail>> {
    Ok(Json(state.teams.get(&caller, id).await?.into()))
}

#[utoipa::path(patch, path = "/teams/{id}", tag = "teams", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateTeam,
    responses((status = 200, body = TeamDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<TeamId>,
    ApiJson(body): ApiJson<UpdateTeam>,
) -> ApiResult<Json<TeamDetail>> {
    Ok(Json(state.teams.update(&caller, id, body.parse()?).await?.into()))
}

#[utoipa::path(delete, path = "/teams/{id}", tag = "teams", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<StatusCode> {
    state.teams.delete(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/teams/{id}/members", tag = "teams", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<TeamMemberView>), (status = 404, body = ErrorBody)))]
pub async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Json<Vec<TeamMemberView>>> {
    let members = state.teams.members(&caller, id).await?;
    Ok(Json(members.into_iter().map(TeamMemberView::from).collect()))
}

#[utoipa::path(put, path = "/teams/{id}/members/{user_id}", tag = "teams", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = Option<PutMember>,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, user_id)): ApiPath<(TeamId, UserId)>,
    OptionalJson(body): OptionalJson<PutMember>,
) -> ApiResult<StatusCode> {
    let role = TeamRole::parse(body.and_then(|b| b.role))?;
    state.teams.put_member(&caller, id, user_id, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/teams/{id}/members/{user_id}", tag = "teams", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((id, user_id)): ApiPath<(TeamId, UserId)>,
) -> ApiResult<StatusCode> {
    state.teams.remove_member(&caller, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
