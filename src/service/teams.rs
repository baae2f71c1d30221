//! Teams of the caller's organisation: reading for members, writing for its admins. Every change
//! to who is in a team, or to a team itself, moves `mv` for the users it touches.
use super::authn::Authenticator;
use super::authz::Caller;
use super::change::{Audit, Change, Changes, Event};
use super::{Result, ServiceError, conflict};
use crate::model::input::{DisplayName, Invalid, Reference, Slug};
use crate::model::{Page, PageRequest, Team, TeamGrant, TeamId, TeamMember, UserId};
use crate::store::{self, Db};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// Roles a user can hold in a team.
pub use seed::TEAM_ROLES;

pub struct NewTeam {
    pub slug: Slug,
    pub name: DisplayName,
    pub external_ref: Option<Reference>,
    pub active: Option<bool>,
}

pub struct TeamPatch {
    pub slug: Option<Slug>,
    pub name: Option<DisplayName>,
    pub external_ref: Option<Option<Reference>>,
    pub active: Option<bool>,
}

/// A role in a team: `member`, `maintainer` or `owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRole(String);

impl TeamRole {
    pub fn parse(raw: Option<String>) -> std::result::Result<Self, Invalid> {
        let role = raw.unwrap_or_else(|| "member".into());
        if TEAM_ROLES.contains(&role.as_str()) {
            Ok(Self(role))
        } else {
            Err(Invalid::field("role", "must be member, maintainer or owner"))
        }
    }
}

const NOT_FOUND: ServiceError = ServiceError::NotFound("team not found");
const TEAM_EXISTS: (&str, &str) = ("team_exists", "a team with this slug already exists");

pub struct TeamService {
    db: Db,
    changes: Changes,
    authn: Arc<Authenticator>,
}

impl TeamService {
    pub fn new(db: Db, changes: Changes, authn: Arc<Authenticator>) -> Self {
        Self { db, changes, authn }
    }

    /// The caller's own active teams.
    pub async fn mine(&self, caller: &Caller) -> Result<Vec<TeamGrant>> {
        Ok(self.authn.current(caller.user_id, caller.org_id).await?.teams.clone())
    }

    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<Team>> {
        Ok(store::teams::list(&self.db, caller.org_id, page).await?)
    }

    pub async fn get(&self, caller: &Caller, id: TeamId) -> Result<Team> {
        store::teams::find(&self.db, caller.org_id, id.uuid())
            .await?
            .ok_or(NOT_FOUND)
    }

    pub async fn create(&self, caller: &Caller, input: NewTeam) -> Result<Team> {
        let admin = caller.admin()?;
        let new = store::teams::NewTeam {
            id: None,
            slug: input.slug.into_inner(),
            name: input.name.into_inner(),
            external_ref: input.external_ref.map(Reference::into_inner),
            active: input.active.unwrap_or(true),
        };
        let mut change = self.changes.begin().await?;
        let team = store::teams::insert(change.tx(), admin.org_id(), new, change.now())
            .await
            .map_err(conflict(TEAM_EXISTS.0, TEAM_EXISTS.1))?;
        change.event(team.org_id, Event::TeamCreated { team: team.clone() });
        change.audit(
            Audit::new(&caller.actor(), "team.create")
                .org(team.org_id)
                .target("team", team.id),
        );
        change.commit().await?;
        Ok(team)
    }

    pub async fn update(&self, caller: &Caller, id: TeamId, patch: TeamPatch) -> Result<Team> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        let team = store::teams::find(&self.db, org, id.uuid()).await?.ok_or(NOT_FOUND)?;
        let changes = store::teams::TeamChanges {
            slug: patch.slug.map(Slug::into_inner),
            name: patch.name.map(DisplayName::into_inner),
            external_ref: patch.external_ref.map(|r| r.map(Reference::into_inner)),
            active: patch.active,
        };
        let mut change = self.changes.begin().await?;
        let updated = store::teams::update(change.tx(), team.clone(), changes, change.now())
            .await
            .map_err(conflict(TEAM_EXISTS.0, TEAM_EXISTS.1))?;
        let members = store::teams::member_ids(change.tx(), org, team.id).await?;
        change.members_changed(org, members);
        change.event(
            org,
            Event::TeamUpdated {
                before: team,
                after: updated.clone(),
            },
        );
        change.audit(Audit::new(&caller.actor(), "team.update").org(org).target("team", id));
        change.commit().await?;
        Ok(updated)
    }

    /// Deletes a team with its memberships.
    pub async fn delete(&self, caller: &Caller, id: TeamId) -> Result<()> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        let team = store::teams::find(&self.db, org, id.uuid()).await?.ok_or(NOT_FOUND)?;
        let mut change = self.changes.begin().await?;
        let members = store::teams::member_ids(change.tx(), org, team.id).await?;
        store::teams::delete(change.tx(), org, team.id).await?;
        change.members_changed(org, members.iter().copied());
        change.event(org, Event::TeamDeleted { team, members });
        change.audit(Audit::new(&caller.actor(), "team.delete").org(org).target("team", id));
        change.commit().await
    }

    pub async fn members(&self, caller: &Caller, id: TeamId) -> Result<Vec<TeamMember>> {
        store::teams::find(&self.db, caller.org_id, id.uuid())
            .await?
            .ok_or(NOT_FOUND)?;
        Ok(store::teams::members(&self.db, caller.org_id, id.uuid()).await?)
    }

    /// Adds a member of the organisation to the team, or changes their role.
    pub async fn put_member(&self, caller: &Caller, id: TeamId, user: UserId, role: TeamRole) -> Result<()> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        store::teams::find(&self.db, org, id.uuid()).await?.ok_or(NOT_FOUND)?;
        if !store::members::is_member(&self.db, org, user.uuid()).await? {
            return Err(ServiceError::NotFound("user not found"));
        }
        let mut change = self.changes.begin().await?;
        let TeamRole(role) = role;
        if store::teams::put_member(change.tx(), org, id.uuid(), user.uuid(), &role, change.now()).await? {
            member_changed(&mut change, caller, org, id, user, Some(role));
        }
        change.commit().await
    }

    pub async fn remove_member(&self, caller: &Caller, id: TeamId, user: UserId) -> Result<()> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        store::teams::find(&self.db, org, id.uuid()).await?.ok_or(NOT_FOUND)?;
        let mut change = self.changes.begin().await?;
        if !store::teams::remove_member(change.tx(), org, id.uuid(), user.uuid()).await? {
            return Err(ServiceError::NotFound("not a member of this team"));
        }
        member_changed(&mut change, caller, org, id, user, None);
        change.commit().await
    }
}

/// A user's place in a team changed: `role` is theirs now, `None` when they left it.
fn member_changed(change: &mut Change, caller: &Caller, org: Uuid, team: TeamId, user: UserId, role: Option<String>) {
    change.members_changed(org, [user.uuid()]);
    let audit = match &role {
        Some(role) => Audit::new(&caller.actor(), "team.member.put").detail(json!({"team_id": team, "role": role})),
        None => Audit::new(&caller.actor(), "team.member.remove").detail(json!({"team_id": team})),
    };
    change.audit(audit.org(org).target("user", user));
    let event = Event::TeamMembersChanged {
        team: team.uuid(),
        user: user.uuid(),
        role,
    };
    change.event(org, event);
}
