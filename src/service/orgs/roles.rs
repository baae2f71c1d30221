//! Roles of an organisation and their permissions (`/orgs/{id}/roles`). Built-in roles are
//! fixed; changing a custom role moves the organisation's roles version, and with it every
//! member's `mv` (`Change::role_changed`).
use super::OrgService;
use crate::model::input::{DisplayName, Key, Permissions};
use crate::model::{OrgId, Role, RoleId};
use crate::service::authz::{Caller, OrgAdmin};
use crate::service::change::{Audit, Event};
use crate::service::{Result, ServiceError, conflict};
use crate::store;

pub struct NewRole {
    pub key: Key,
    /// Defaults to the key.
    pub name: Option<DisplayName>,
    pub permissions: Permissions,
}

pub struct RolePatch {
    pub name: Option<DisplayName>,
    pub permissions: Option<Permissions>,
}

const ROLE_NOT_FOUND: ServiceError = ServiceError::NotFound("role not found");

impl OrgService {
    pub async fn roles(&self, caller: &Caller, id: OrgId) -> Result<Vec<Role>> {
        let admin = self.admin_of_existing(caller, id).await?;
        Ok(store::roles::list(&self.db, admin.org_id()).await?)
    }

    pub async fn create_role(&self, caller: &Caller, id: OrgId, input: NewRole) -> Result<Role> {
        let admin = self.admin_of_existing(caller, id).await?;
        let org = admin.org_id();
        let name = input
            .name
            .map_or_else(|| input.key.to_string(), DisplayName::into_inner);
        let mut change = self.changes.begin().await?;
        let role = store::roles::insert(
            change.tx(),
            org,
            input.key.as_str(),
            &name,
            input.permissions.as_slice(),
            false,
            change.now(),
        )
        .await
        .map_err(conflict("role_exists", "a role with this key already exists"))?;
        change.event(org, Event::RoleCreated { role: role.clone() });
        change.audit(
            Audit::new(&caller.actor(), "role.create")
                .org(org)
                .target("role", role.id),
        );
        change.commit().await?;
        Ok(role)
    }

    /// Renames a custom role or replaces its permissions; every member's `mv` moves.
    pub async fn update_role(&self, caller: &Caller, id: OrgId, role_id: RoleId, patch: RolePatch) -> Result<Role> {
        let admin = self.admin_of_existing(caller, id).await?;
        let org = admin.org_id();
        let role = self.custom_role(admin, role_id).await?;
        let mut change = self.changes.begin().await?;
        if let Some(name) = &patch.name {
            store::roles::rename(change.tx(), role.id, name.as_str()).await?;
        }
        if let Some(permissions) = &patch.permissions {
            store::roles::set_permissions(change.tx(), role.id, permissions.as_slice()).await?;
        }
        let after = store::roles::list(change.tx(), org)
            .await?
            .into_iter()
            .find(|r| r.id == role.id)
            .ok_or(ROLE_NOT_FOUND)?;
        change.role_changed(org, &role.key).await?;
        change.event(
            org,
            Event::RoleUpdated {
                before: role,
                after: after.clone(),
            },
        );
        change.audit(
            Audit::new(&caller.actor(), "role.update")
                .org(org)
                .target("role", after.id),
        );
        change.commit().await?;
        Ok(after)
    }

    pub async fn delete_role(&self, caller: &Caller, id: OrgId, role_id: RoleId) -> Result<()> {
        let admin = self.admin_of_existing(caller, id).await?;
        let org = admin.org_id();
        let role = self.custom_role(admin, role_id).await?;
        let mut change = self.changes.begin().await?;
        let holders = store::roles::holders(change.tx(), org, role.id).await?;
        change.role_changed(org, &role.key).await?;
        store::roles::delete(change.tx(), org, role.id).await?;
        change.audit(
            Audit::new(&caller.actor(), "role.delete")
                .org(org)
                .target("role", role.id),
        );
        change.event(org, Event::RoleDeleted { role, holders });
        change.commit().await
    }

    async fn custom_role(&self, admin: OrgAdmin, role_id: RoleId) -> Result<Role> {
        let role = store::roles::list(&self.db, admin.org_id())
            .await?
            .into_iter()
            .find(|r| r.id == role_id.uuid())
            .ok_or(ROLE_NOT_FOUND)?;
        if role.builtin {
            return Err(ServiceError::Conflict(
                "builtin_role",
                "built-in roles cannot be changed or deleted",
            ));
        }
        Ok(role)
    }
}
