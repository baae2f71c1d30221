//! Teams of the caller's organisation: reading for members, writing for its admins. Every change
//! to who is in a team, or to a team itself, bumps `mv` for the users it touches.
use super::authz::Caller;
use super::core::{Core, denied};
use super::journal::Invalidation;
use serde_json::{Value, json};

use super::validate::{self, Problems};
use super::{Result, ServiceError};
use crate::model::{Page, PageRequest, Team, TeamGrant, TeamMember};
use crate::store::{self, StoreError};
use std::sync::Arc;
use uuid::Uuid;

/// Roles a user can hold in a team.
pub use seed::TEAM_ROLES;

pub struct NewTeam {
    pub slug: String,
    pub name: String,
    pub external_ref: Option<String>,
    pub active: Option<bool>,
}

pub struct TeamPatch {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub external_ref: Option<Option<String>>,
    pub active: Option<bool>,
}

const NOT_FOUND: ServiceError = ServiceError::NotFound("team not found");
const TEAM_EXISTS: ServiceError = ServiceError::Conflict("team_exists", "a team with this slug already exists");

pub struct TeamService {
    core: Arc<Core>,
}

fn conflict(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => TEAM_EXISTS,
        e => e.into(),
    }
}

impl TeamService {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The caller's own active teams.
    pub async fn mine(&self, caller: &Caller) -> Result<Vec<TeamGrant>> {
        Ok(self
            .core
            .context(caller.user_id, caller.org_id)
            .await?
            .map_err(denied)?
            .teams
            .clone())
    }

    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<Team>> {
        Ok(store::teams::list(&self.core.db, caller.org_id, page).await?)
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Team> {
        store::teams::find(&self.core.db, caller.org_id, id)
            .await?
            .ok_or(NOT_FOUND)
    }

    pub async fn create(&self, caller: &Caller, input: NewTeam) -> Result<Team> {
        let admin = caller.admin()?;
        let mut problems = Problems::default();
        let slug = problems.check("slug", validate::slug(&input.slug));
        let name = problems.check("name", validate::display_name(&input.name));
        let external_ref = match input.external_ref.as_deref() {
            Some(r) => problems.check("external_ref", validate::reference(r)).map(Some),
            None => Some(None),
        };
        problems.finish()?;
        let (Some(slug), Some(name), Some(external_ref)) = (slug, name, external_ref) else {
            return Err(ServiceError::Internal(anyhow::anyhow!("validated fields missing")));
        };
        let new = store::teams::NewTeam {
            id: None,
            slug,
            name,
            external_ref,
            active: input.active.unwrap_or(true),
        };
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let team = store::teams::insert(&tx, admin.org_id(), new, journal.now())
            .await
            .map_err(conflict)?;
        journal.event(
            Some(team.org_id),
            "team",
            team.id,
            "created",
            "TeamCreated",
            team_data(&team),
        );
        journal.audit(
            Some(team.org_id),
            &caller.actor(),
            "team.create",
            Some(("team", team.id.to_string())),
            None,
        );
        self.core.commit(tx, journal).await?;
        Ok(team)
    }

    pub async fn update(&self, caller: &Caller, id: Uuid, patch: TeamPatch) -> Result<Team> {
        let admin = caller.admin()?;
        let mut problems = Problems::default();
        let slug = patch.slug.map(|s| problems.check("slug", validate::slug(&s)));
        let name = patch.name.map(|n| problems.check("name", validate::display_name(&n)));
        if let Some(Some(r)) = &patch.external_ref {
            problems.check("external_ref", validate::reference(r));
        }
        problems.finish()?;
        let db = &self.core.db;
        let team = store::teams::find(db, admin.org_id(), id).await?.ok_or(NOT_FOUND)?;
        let changes = store::teams::TeamChanges {
            slug: slug.flatten(),
            name: name.flatten(),
            external_ref: patch.external_ref,
            active: patch.active,
        };
        let mut journal = self.core.journal();
        let tx = store::begin(db).await?;
        let before = team_data(&team);
        let updated = store::teams::update(&tx, team, changes, journal.now())
            .await
            .map_err(conflict)?;
        let members = store::teams::member_ids(&tx, admin.org_id(), id).await?;
        store::orgs::bump_mv(&tx, admin.org_id(), &members, journal.now()).await?;
        journal.event(
            Some(admin.org_id()),
            "team",
            id,
            "updated",
            "TeamUpdated",
            json!({"before": before, "after": team_data(&updated)}),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "team.update",
            Some(("team", id.to_string())),
            None,
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: members,
        });
        self.core.commit(tx, journal).await?;
        Ok(updated)
    }

    /// Deletes a team with its memberships.
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let admin = caller.admin()?;
        let db = &self.core.db;
        let team = store::teams::find(db, admin.org_id(), id).await?.ok_or(NOT_FOUND)?;
        let mut journal = self.core.journal();
        let tx = store::begin(db).await?;
        let members = store::teams::member_ids(&tx, admin.org_id(), id).await?;
        store::teams::delete(&tx, admin.org_id(), id).await?;
        store::orgs::bump_mv(&tx, admin.org_id(), &members, journal.now()).await?;
        journal.event(
            Some(admin.org_id()),
            "team",
            id,
            "deleted",
            "TeamDeleted",
            json!({"team": team_data(&team), "members": members}),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "team.delete",
            Some(("team", id.to_string())),
            None,
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: members,
        });
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    pub async fn members(&self, caller: &Caller, id: Uuid) -> Result<Vec<TeamMember>> {
        let db = &self.core.db;
        store::teams::find(db, caller.org_id, id).await?.ok_or(NOT_FOUND)?;
        Ok(store::teams::members(db, caller.org_id, id).await?)
    }

    /// Adds a member of the organisation to the team, or changes their role.
    pub async fn put_member(&self, caller: &Caller, id: Uuid, user_id: Uuid, role: Option<String>) -> Result<()> {
        let admin = caller.admin()?;
        let role = role.unwrap_or_else(|| "member".into());
        if !TEAM_ROLES.contains(&role.as_str()) {
            let mut problems = Problems::default();
            problems.add("role", "must be member, maintainer or owner");
            problems.finish()?;
        }
        let db = &self.core.db;
        store::teams::find(db, admin.org_id(), id).await?.ok_or(NOT_FOUND)?;
        if !store::orgs::is_member(db, admin.org_id(), user_id).await? {
            return Err(ServiceError::NotFound("user not found"));
        }
        let mut journal = self.core.journal();
        let tx = store::begin(db).await?;
        let changed = store::teams::put_member(&tx, admin.org_id(), id, user_id, &role, journal.now()).await?;
        if changed {
            store::orgs::bump_mv(&tx, admin.org_id(), &[user_id], journal.now()).await?;
            journal.event(
                Some(admin.org_id()),
                "team",
                id,
                "members.changed",
                "TeamMembersChanged",
                json!({"team_id": id, "user_id": user_id, "action": "put", "role": role}),
            );
            journal.audit(
                Some(admin.org_id()),
                &caller.actor(),
                "team.member.put",
                Some(("user", user_id.to_string())),
                Some(json!({"team_id": id, "role": role})),
            );
            journal.invalidate(Invalidation::Members {
                org: admin.org_id(),
                users: vec![user_id],
            });
        }
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    pub async fn remove_member(&self, caller: &Caller, id: Uuid, user_id: Uuid) -> Result<()> {
        let admin = caller.admin()?;
        let db = &self.core.db;
        store::teams::find(db, admin.org_id(), id).await?.ok_or(NOT_FOUND)?;
        let mut journal = self.core.journal();
        let tx = store::begin(db).await?;
        if !store::teams::remove_member(&tx, admin.org_id(), id, user_id).await? {
            return Err(ServiceError::NotFound("not a member of this team"));
        }
        store::orgs::bump_mv(&tx, admin.org_id(), &[user_id], journal.now()).await?;
        journal.event(
            Some(admin.org_id()),
            "team",
            id,
            "members.changed",
            "TeamMembersChanged",
            json!({"team_id": id, "user_id": user_id, "action": "removed"}),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "team.member.remove",
            Some(("user", user_id.to_string())),
            Some(json!({"team_id": id})),
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: vec![user_id],
        });
        self.core.commit(tx, journal).await?;
        Ok(())
    }
}

fn team_data(t: &Team) -> Value {
    json!({"team_id": t.id, "org_id": t.org_id, "slug": t.slug, "name": t.name, "external_ref": t.external_ref, "is_active": t.active})
}
