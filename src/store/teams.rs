//! Teams and team memberships. Every query is filtered by organisation.
use super::{Conn, Result, page};
use crate::model::{Page, PageRequest, Team, TeamGrant, TeamMember, User};
use chrono::{DateTime, Utc};
use entity::{team, team_member, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

impl From<team::Model> for Team {
    fn from(m: team::Model) -> Self {
        Self {
            id: m.id,
            org_id: m.org_id,
            slug: m.slug,
            name: m.name,
            external_ref: m.external_ref,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

pub struct NewTeam {
    pub id: Option<Uuid>,
    pub slug: String,
    pub name: String,
    pub external_ref: Option<String>,
    pub active: bool,
}

pub async fn insert<C: Conn>(c: &C, org_id: Uuid, new: NewTeam, now: DateTime<Utc>) -> Result<Team> {
    Ok(team::ActiveModel {
        id: Set(new.id.unwrap_or_else(Uuid::now_v7)),
        org_id: Set(org_id),
        slug: Set(new.slug),
        name: Set(new.name),
        external_ref: Set(new.external_ref),
        active: Set(new.active),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(c)
    .await?
    .into())
}

pub async fn find<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<Option<Team>> {
    Ok(team::Entity::find_by_id(id)
        .filter(team::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(Team::from))
}

pub async fn find_by_slug<C: Conn>(c: &C, org_id: Uuid, slug: &str) -> Result<Option<Team>> {
    Ok(team::Entity::find()
        .filter(team::Column::OrgId.eq(org_id))
        .filter(team::Column::Slug.eq(slug))
        .one(c)
        .await?
        .map(Team::from))
}

pub async fn list<C: Conn>(c: &C, org_id: Uuid, request: PageRequest) -> Result<Page<Team>> {
    let base = team::Entity::find().filter(team::Column::OrgId.eq(org_id));
    page::paginate(c, base, team::Column::Id, request, Team::from, |t| t.id).await
}

pub async fn list_all<C: Conn>(c: &C, org_id: Uuid) -> Result<Vec<Team>> {
    Ok(team::Entity::find()
        .filter(team::Column::OrgId.eq(org_id))
        .order_by_asc(team::Column::Slug)
        .all(c)
        .await?
        .into_iter()
        .map(Team::from)
        .collect())
}

pub struct TeamChanges {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub external_ref: Option<Option<String>>,
    pub active: Option<bool>,
}

pub async fn update<C: Conn>(c: &C, team: Team, changes: TeamChanges, now: DateTime<Utc>) -> Result<Team> {
    let mut model = team::ActiveModel {
        id: Set(team.id),
        ..Default::default()
    };
    if let Some(slug) = changes.slug {
        model.slug = Set(slug);
    }
    if let Some(name) = changes.name {
        model.name = Set(name);
    }
    if let Some(external_ref) = changes.external_ref {
        model.external_ref = Set(external_ref);
    }
    if let Some(active) = changes.active {
        model.active = Set(active);
    }
    model.updated_at = Set(now);
    Ok(model.update(c).await?.into())
}

pub async fn delete<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<()> {
    team_member::Entity::delete_many()
        .filter(team_member::Column::TeamId.eq(id))
        .filter(team_member::Column::OrgId.eq(org_id))
        .exec(c)
        .await?;
    team::Entity::delete_many()
        .filter(team::Column::Id.eq(id))
        .filter(team::Column::OrgId.eq(org_id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn member_ids<C: Conn>(c: &C, org_id: Uuid, team_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(team_member::Entity::find()
        .filter(team_member::Column::OrgId.eq(org_id))
        .filter(team_member::Column::TeamId.eq(team_id))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect())
}

pub async fn members<C: Conn>(c: &C, org_id: Uuid, team_id: Uuid) -> Result<Vec<TeamMember>> {
    let rows = team_member::Entity::find()
        .filter(team_member::Column::OrgId.eq(org_id))
        .filter(team_member::Column::TeamId.eq(team_id))
        .all(c)
        .await?;
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().map(|r| r.user_id)))
        .all(c)
        .await?;
    let mut out: Vec<TeamMember> = rows
        .into_iter()
        .filter_map(|r| {
            let u = users.iter().find(|u| u.id == r.user_id)?.clone();
            Some(TeamMember {
                user: User::from(u),
                role: r.role,
            })
        })
        .collect();
    out.sort_by(|a, b| a.user.email.cmp(&b.user.email));
    Ok(out)
}

/// Adds the user to the team or changes their role; true if anything changed.
pub async fn put_member<C: Conn>(
    c: &C,
    org_id: Uuid,
    team_id: Uuid,
    user_id: Uuid,
    role: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let existing = team_member::Entity::find_by_id((team_id, user_id)).one(c).await?;
    match existing {
        Some(m) if m.role == role => Ok(false),
        Some(_) => {
            team_member::Entity::update_many()
                .col_expr(team_member::Column::Role, Expr::value(role))
                .filter(team_member::Column::TeamId.eq(team_id))
                .filter(team_member::Column::UserId.eq(user_id))
                .filter(team_member::Column::OrgId.eq(org_id))
                .exec(c)
                .await?;
            Ok(true)
        }
        None => {
            team_member::ActiveModel {
                team_id: Set(team_id),
                user_id: Set(user_id),
                org_id: Set(org_id),
                role: Set(role.to_owned()),
                created_at: Set(now),
            }
            .insert(c)
            .await?;
            Ok(true)
        }
    }
}

pub async fn remove_member<C: Conn>(c: &C, org_id: Uuid, team_id: Uuid, user_id: Uuid) -> Result<bool> {
    let done = team_member::Entity::delete_many()
        .filter(team_member::Column::OrgId.eq(org_id))
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .exec(c)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Removes the user from every team of the organisation.
pub async fn remove_user<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<()> {
    team_member::Entity::delete_many()
        .filter(team_member::Column::OrgId.eq(org_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .exec(c)
        .await?;
    Ok(())
}

/// The active teams of a user in an organisation, by slug.
pub async fn grants<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<Vec<TeamGrant>> {
    let memberships = team_member::Entity::find()
        .filter(team_member::Column::OrgId.eq(org_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .all(c)
        .await?;
    if memberships.is_empty() {
        return Ok(Vec::new());
    }
    let teams = team::Entity::find()
        .filter(team::Column::OrgId.eq(org_id))
        .filter(team::Column::Active.eq(true))
        .filter(team::Column::Id.is_in(memberships.iter().map(|m| m.team_id)))
        .order_by_asc(team::Column::Slug)
        .all(c)
        .await?;
    Ok(teams
        .into_iter()
        .filter_map(|t| {
            let role = memberships.iter().find(|m| m.team_id == t.id)?.role.clone();
            Some(TeamGrant {
                id: t.id,
                slug: t.slug,
                name: t.name,
                role,
            })
        })
        .collect())
}

/// Every team membership of a user in an organisation (active teams or not): team id → role.
pub async fn roles_of<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<Vec<(Uuid, String)>> {
    Ok(team_member::Entity::find()
        .filter(team_member::Column::OrgId.eq(org_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .all(c)
        .await?
        .into_iter()
        .map(|m| (m.team_id, m.role))
        .collect())
}

/// Every team membership in an organisation, by user: (team id, role) (one query).
pub async fn roles_in_org<C: Conn>(c: &C, org_id: Uuid) -> Result<HashMap<Uuid, Vec<(Uuid, String)>>> {
    let mut out: HashMap<Uuid, Vec<(Uuid, String)>> = HashMap::new();
    for m in team_member::Entity::find()
        .filter(team_member::Column::OrgId.eq(org_id))
        .all(c)
        .await?
    {
        out.entry(m.user_id).or_default().push((m.team_id, m.role));
    }
    Ok(out)
}

/// Adds team memberships (team id, user id, role) that do not exist yet, in multi-row inserts.
pub async fn add_members<C: Conn>(
    c: &C,
    org_id: Uuid,
    members: &[(Uuid, Uuid, String)],
    now: DateTime<Utc>,
) -> Result<()> {
    let rows: Vec<_> = members
        .iter()
        .map(|(team_id, user_id, role)| team_member::ActiveModel {
            team_id: Set(*team_id),
            user_id: Set(*user_id),
            org_id: Set(org_id),
            role: Set(role.clone()),
            created_at: Set(now),
        })
        .collect();
    super::insert_rows(c, rows).await
}
