//! Organisation administration: organisations (superusers create and delete them), members and
//! their roles, and roles with their permissions.
use super::authz::{Caller, OrgAdmin};
use super::core::Core;
use super::journal::{Invalidation, Journal};
use serde_json::json;

use super::validate::{self, Problems};
use super::{Result, ServiceError};
use crate::model::{OrgMember, Organisation, Page, PageRequest};
use crate::store::{self, StoreError};
use std::sync::Arc;
use uuid::Uuid;

/// Who to add to an organisation: by email or by id.
pub struct NewMember {
    pub email: Option<String>,
    pub user_id: Option<Uuid>,
    pub roles: Option<Vec<String>>,
}

pub struct RolePatch {
    pub name: Option<String>,
    pub permissions: Option<Vec<String>>,
}

const ORG_NOT_FOUND: ServiceError = ServiceError::NotFound("organization not found");
const USER_NOT_FOUND: ServiceError = ServiceError::NotFound("user not found");

pub struct OrgService {
    pub(super) core: Arc<Core>,
}

impl OrgService {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Superusers see every organisation; everyone else the ones they belong to.
    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<Organisation>> {
        let db = &self.core.db;
        if caller.superuser {
            return Ok(store::orgs::list(db, None, page).await?);
        }
        let mine = store::orgs::orgs_of(db, caller.user_id).await?;
        Ok(store::orgs::list(db, Some(&mine), page).await?)
    }

    pub async fn create(&self, caller: &Caller, slug: String, name: String) -> Result<Organisation> {
        caller.superuser()?;
        let mut problems = Problems::default();
        let slug = problems.check("slug", validate::slug(&slug));
        let name = problems.check("name", validate::display_name(&name));
        problems.finish()?;
        let (Some(slug), Some(name)) = (slug, name) else {
            return Err(ServiceError::Internal(anyhow::anyhow!("validated fields missing")));
        };
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let org = store::orgs::insert(&tx, None, &slug, &name, journal.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    ServiceError::Conflict("organization_exists", "an organisation with this slug already exists")
                }
                e => e.into(),
            })?;
        journal.event(
            Some(org.id),
            "org",
            org.id,
            "created",
            "OrganizationCreated",
            json!({"org_id": org.id, "slug": org.slug, "name": org.name}),
        );
        journal.audit(
            Some(org.id),
            &caller.actor(),
            "org.create",
            Some(("org", org.id.to_string())),
            None,
        );
        self.core.commit(tx, journal).await?;
        Ok(org)
    }

    /// Members read their own organisation; superusers any.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Organisation> {
        if !caller.superuser && id != caller.org_id {
            return Err(ORG_NOT_FOUND);
        }
        store::orgs::find(&self.core.db, id).await?.ok_or(ORG_NOT_FOUND)
    }

    /// Admins rename; only superusers activate or deactivate.
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        name: Option<String>,
        active: Option<bool>,
    ) -> Result<Organisation> {
        let admin = caller.admin_of(id)?;
        if active.is_some() && !admin.is_superuser() {
            return Err(ServiceError::Forbidden(
                "forbidden",
                "only a superuser can activate or deactivate an organisation",
            ));
        }
        let mut problems = Problems::default();
        let name = name.map(|n| problems.check("name", validate::display_name(&n)));
        problems.finish()?;
        let before = store::orgs::find(&self.core.db, id).await?.ok_or(ORG_NOT_FOUND)?;
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let org = store::orgs::update(&tx, id, name.flatten(), active, journal.now()).await?;
        journal.event(Some(id), "org", id, "updated", "OrganizationUpdated", json!({
            "before": {"name": before.name, "is_active": before.active}, "after": {"name": org.name, "is_active": org.active}}));
        journal.audit(
            Some(id),
            &caller.actor(),
            "org.update",
            Some(("org", id.to_string())),
            None,
        );
        journal.invalidate(Invalidation::Org { org: id });
        self.core.commit(tx, journal).await?;
        Ok(org)
    }

    /// Deletes an organisation and everything in it; its sessions end. The default organisation
    /// stays.
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        caller.superuser()?;
        let org = store::orgs::find(&self.core.db, id).await?.ok_or(ORG_NOT_FOUND)?;
        if org.slug == self.core.config.default_org {
            return Err(ServiceError::Conflict(
                "default_organization",
                "the default organisation cannot be deleted",
            ));
        }
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let sessions = store::sessions::unrevoked_in_org(&tx, id).await?;
        self.core
            .end_sessions(&tx, &mut journal, sessions, "organization_deleted")
            .await?;
        store::orgs::delete(&tx, id).await?;
        journal.event(
            Some(id),
            "org",
            id,
            "deleted",
            "OrganizationDeleted",
            json!({"org_id": id, "slug": org.slug}),
        );
        journal.audit(
            None,
            &caller.actor(),
            "org.delete",
            Some(("org", id.to_string())),
            Some(json!({"slug": org.slug})),
        );
        journal.invalidate(Invalidation::Org { org: id });
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    pub async fn members(&self, caller: &Caller, id: Uuid, page: PageRequest) -> Result<Page<OrgMember>> {
        let admin = self.admin_of_existing(caller, id).await?;
        Ok(store::orgs::members(&self.core.db, admin.org_id(), page).await?)
    }

    pub async fn add_member(&self, caller: &Caller, id: Uuid, input: NewMember) -> Result<OrgMember> {
        let admin = self.admin_of_existing(caller, id).await?;
        let db = &self.core.db;
        let user = match (input.user_id, input.email.as_deref()) {
            (Some(user_id), _) => store::users::find(db, user_id).await?,
            (None, Some(email)) => store::users::find_by_email(db, &email.trim().to_lowercase()).await?,
            (None, None) => {
                let mut problems = Problems::default();
                problems.add("email", "email or user_id is required");
                return Err(problems.finish().err().unwrap_or(USER_NOT_FOUND));
            }
        }
        .ok_or(USER_NOT_FOUND)?;
        let roles = self
            .role_ids(admin, input.roles.as_deref().unwrap_or(&["member".into()]))
            .await?;
        self.check_owner_grant(caller, admin, &roles.1)?;
        let mut journal = self.core.journal();
        let now = journal.now();
        let tx = store::begin(db).await?;
        store::orgs::add_member(&tx, admin.org_id(), user.id, &[], now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::Conflict("already_a_member", "the user is already a member"),
                e => e.into(),
            })?;
        store::orgs::set_member_roles(&tx, admin.org_id(), user.id, &roles.0).await?;
        membership_changed(&mut journal, admin.org_id(), user.id, "added", &[], &roles.1);
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "org.member.add",
            Some(("user", user.id.to_string())),
            Some(json!({"roles": roles.1})),
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: vec![user.id],
        });
        self.core.commit(tx, journal).await?;
        Ok(OrgMember {
            user,
            roles: roles.1,
            joined_at: now,
        })
    }

    /// Replaces a member's roles. Granting or taking `owner` needs an owner or a superuser.
    pub async fn set_roles(&self, caller: &Caller, id: Uuid, user_id: Uuid, roles: Vec<String>) -> Result<Vec<String>> {
        let admin = self.admin_of_existing(caller, id).await?;
        let db = &self.core.db;
        let current = store::orgs::membership(db, admin.org_id(), user_id)
            .await?
            .ok_or(USER_NOT_FOUND)?;
        let (ids, keys) = self.role_ids(admin, &roles).await?;
        if keys.contains(&"owner".to_owned()) != current.roles.contains(&"owner".to_owned()) {
            self.check_owner_grant(caller, admin, &["owner".to_owned()])?;
        }
        let mut journal = self.core.journal();
        let tx = store::begin(db).await?;
        store::orgs::set_member_roles(&tx, admin.org_id(), user_id, &ids).await?;
        store::orgs::bump_mv(&tx, admin.org_id(), &[user_id], journal.now()).await?;
        membership_changed(
            &mut journal,
            admin.org_id(),
            user_id,
            "roles_changed",
            &current.roles,
            &keys,
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "org.member.roles",
            Some(("user", user_id.to_string())),
            Some(json!({"before": current.roles, "after": keys})),
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: vec![user_id],
        });
        self.core.commit(tx, journal).await?;
        Ok(keys)
    }

    /// Removes a membership with the user's teams and domains there, and ends their sessions in it.
    pub async fn remove_member(&self, caller: &Caller, id: Uuid, user_id: Uuid) -> Result<()> {
        let admin = self.admin_of_existing(caller, id).await?;
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let Some(before) = store::orgs::membership(&tx, admin.org_id(), user_id).await? else {
            return Err(USER_NOT_FOUND);
        };
        store::orgs::remove_member(&tx, admin.org_id(), user_id).await?;
        store::teams::remove_user(&tx, admin.org_id(), user_id).await?;
        store::domains::remove_user(&tx, admin.org_id(), user_id).await?;
        let sessions = store::sessions::unrevoked_of_user_in_org(&tx, user_id, admin.org_id()).await?;
        self.core
            .end_sessions(&tx, &mut journal, sessions, "membership_removed")
            .await?;
        membership_changed(&mut journal, admin.org_id(), user_id, "removed", &before.roles, &[]);
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "org.member.remove",
            Some(("user", user_id.to_string())),
            None,
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: vec![user_id],
        });
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    /// Admin rights over an organisation that exists (superusers may name any id).
    pub async fn admin_of_existing(&self, caller: &Caller, id: Uuid) -> Result<OrgAdmin> {
        let admin = caller.admin_of(id)?;
        store::orgs::find(&self.core.db, id).await?.ok_or(ORG_NOT_FOUND)?;
        Ok(admin)
    }

    /// The ids of the named roles (sorted keys), or a 422 naming the unknown ones.
    pub(super) async fn role_ids(&self, admin: OrgAdmin, keys: &[String]) -> Result<(Vec<Uuid>, Vec<String>)> {
        let roles = store::orgs::roles(&self.core.db, admin.org_id()).await?;
        let mut ids = Vec::new();
        let mut found = Vec::new();
        let mut problems = Problems::default();
        for key in keys {
            match roles.iter().find(|r| &r.key == key) {
                Some(role) => {
                    if !ids.contains(&role.id) {
                        ids.push(role.id);
                        found.push(role.key.clone());
                    }
                }
                None => problems.add("roles", format!("unknown role \"{key}\"")),
            }
        }
        problems.finish()?;
        found.sort();
        Ok((ids, found))
    }

    fn check_owner_grant(&self, caller: &Caller, admin: OrgAdmin, roles: &[String]) -> Result<()> {
        let owner_here = caller.org_owner && caller.org_id == admin.org_id();
        if roles.iter().any(|r| r == "owner") && !admin.is_superuser() && !owner_here {
            return Err(ServiceError::Forbidden(
                "forbidden",
                "only an owner can grant or take the owner role",
            ));
        }
        Ok(())
    }
}

/// `auth.org.{org}.membership.changed`, with the roles added and removed.
pub(super) fn membership_changed(
    journal: &mut Journal,
    org: Uuid,
    user: Uuid,
    action: &str,
    before: &[String],
    after: &[String],
) {
    let added: Vec<&String> = after.iter().filter(|r| !before.contains(r)).collect();
    let removed: Vec<&String> = before.iter().filter(|r| !after.contains(r)).collect();
    let data = json!({"org_id": org, "user_id": user, "action": action, "roles": after, "roles_added": added, "roles_removed": removed});
    journal.event(Some(org), "org", org, "membership.changed", "MembershipChanged", data);
}
