//! Roles of an organisation and their permissions (`/orgs/{id}/roles`). Built-in roles are
//! fixed; changing a custom role moves `mv` for everyone holding it.
use super::authz::{Caller, OrgAdmin};
use super::journal::Invalidation;
use super::orgs::{OrgService, RolePatch};
use super::validate::{self, Problems};
use super::{Result, ServiceError};
use crate::model::Role;
use crate::store::{self, StoreError};
use serde_json::{Value, json};
use uuid::Uuid;

const ROLE_NOT_FOUND: ServiceError = ServiceError::NotFound("role not found");

impl OrgService {
    pub async fn roles(&self, caller: &Caller, id: Uuid) -> Result<Vec<Role>> {
        let admin = self.admin_of_existing(caller, id).await?;
        Ok(store::orgs::roles(&self.core.db, admin.org_id()).await?)
    }

    pub async fn create_role(
        &self,
        caller: &Caller,
        id: Uuid,
        key: String,
        name: Option<String>,
        permissions: Vec<String>,
    ) -> Result<Role> {
        let admin = self.admin_of_existing(caller, id).await?;
        let mut problems = Problems::default();
        let key = problems.check("key", validate::key(&key));
        let name = problems.check(
            "name",
            validate::display_name(name.as_deref().unwrap_or(key.as_deref().unwrap_or(""))),
        );
        let permissions = problems.check("permissions", validate::permissions(&permissions));
        problems.finish()?;
        let (Some(key), Some(name), Some(permissions)) = (key, name, permissions) else {
            return Err(ServiceError::Internal(anyhow::anyhow!("validated fields missing")));
        };
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let role = store::orgs::insert_role(&tx, admin.org_id(), &key, &name, &permissions, false, journal.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::Conflict("role_exists", "a role with this key already exists"),
                e => e.into(),
            })?;
        journal.event(
            Some(admin.org_id()),
            "role",
            role.id,
            "created",
            "RoleCreated",
            role_data(&role),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "role.create",
            Some(("role", role.id.to_string())),
            None,
        );
        self.core.commit(tx, journal).await?;
        Ok(role)
    }

    /// Renames a custom role or replaces its permissions; its holders' `mv` moves.
    pub async fn update_role(&self, caller: &Caller, id: Uuid, role_id: Uuid, patch: RolePatch) -> Result<Role> {
        let admin = self.admin_of_existing(caller, id).await?;
        let role = self.custom_role(admin, role_id).await?;
        let mut problems = Problems::default();
        let name = patch.name.map(|n| problems.check("name", validate::display_name(&n)));
        let permissions = patch
            .permissions
            .map(|p| problems.check("permissions", validate::permissions(&p)));
        problems.finish()?;
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        if let Some(Some(name)) = &name {
            store::orgs::rename_role(&tx, role.id, name).await?;
        }
        if let Some(Some(permissions)) = &permissions {
            store::orgs::set_role_permissions(&tx, role.id, permissions).await?;
        }
        let holders = store::orgs::role_holders(&tx, admin.org_id(), role.id).await?;
        store::orgs::bump_mv(&tx, admin.org_id(), &holders, journal.now()).await?;
        let after = store::orgs::roles(&tx, admin.org_id())
            .await?
            .into_iter()
            .find(|r| r.id == role_id)
            .ok_or(ROLE_NOT_FOUND)?;
        journal.event(
            Some(admin.org_id()),
            "role",
            role.id,
            "updated",
            "RoleUpdated",
            json!({"before": role_data(&role), "after": role_data(&after)}),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "role.update",
            Some(("role", role.id.to_string())),
            None,
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: holders,
        });
        self.core.commit(tx, journal).await?;
        Ok(after)
    }

    pub async fn delete_role(&self, caller: &Caller, id: Uuid, role_id: Uuid) -> Result<()> {
        let admin = self.admin_of_existing(caller, id).await?;
        let role = self.custom_role(admin, role_id).await?;
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let holders = store::orgs::role_holders(&tx, admin.org_id(), role.id).await?;
        store::orgs::delete_role(&tx, admin.org_id(), role.id).await?;
        store::orgs::bump_mv(&tx, admin.org_id(), &holders, journal.now()).await?;
        journal.event(
            Some(admin.org_id()),
            "role",
            role.id,
            "deleted",
            "RoleDeleted",
            json!({"role": role_data(&role), "holders": holders}),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "role.delete",
            Some(("role", role.id.to_string())),
            None,
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: holders,
        });
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    async fn custom_role(&self, admin: OrgAdmin, role_id: Uuid) -> Result<Role> {
        let role = store::orgs::roles(&self.core.db, admin.org_id())
            .await?
            .into_iter()
            .find(|r| r.id == role_id)
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

fn role_data(r: &Role) -> Value {
    json!({"role_id": r.id, "org_id": r.org_id, "key": r.key, "name": r.name, "permissions": r.permissions})
}
