//! Organisation administration: organisations themselves (superusers create and delete them;
//! their admins rename them), their members and roles (`members`), and custom roles with their
//! permissions (`roles`).
pub mod joining;
mod members;
pub mod owners;
mod roles;

pub use members::{MemberRef, NewMember, resolve_roles};
pub use roles::{NewRole, RolePatch};

use super::authz::{Caller, OrgAdmin};
use super::change::{Audit, Changes, Event, SessionsOf};
use super::{Result, ServiceError, conflict};
use crate::config::Config;
use crate::model::input::{DisplayName, Slug};
use crate::model::{OrgId, Organisation, Page, PageRequest};
use crate::store::{self, Db};
use serde_json::json;
use std::sync::Arc;

const ORG_NOT_FOUND: ServiceError = ServiceError::NotFound("organization not found");

pub struct OrgService {
    db: Db,
    changes: Changes,
    config: Arc<Config>,
}

impl OrgService {
    pub fn new(db: Db, changes: Changes, config: Arc<Config>) -> Self {
        Self { db, changes, config }
    }

    /// Superusers see every organisation; everyone else the ones they belong to.
    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<Organisation>> {
        if caller.superuser {
            return Ok(store::orgs::list(&self.db, None, page).await?);
        }
        let mine = store::members::orgs_of(&self.db, caller.user_id).await?;
        Ok(store::orgs::list(&self.db, Some(&mine), page).await?)
    }

    pub async fn create(&self, caller: &Caller, slug: Slug, name: DisplayName) -> Result<Organisation> {
        caller.superuser()?;
        let mut change = self.changes.begin().await?;
        let org = store::orgs::insert(change.tx(), None, slug.as_str(), name.as_str(), change.now())
            .await
            .map_err(conflict(
                "organization_exists",
                "an organisation with this slug already exists",
            ))?;
        change.event(org.id, Event::OrganizationCreated { org: org.clone() });
        change.audit(
            Audit::new(&caller.actor(), "org.create")
                .org(org.id)
                .target("org", org.id),
        );
        change.commit().await?;
        Ok(org)
    }

    /// Members read their own organisation; superusers any.
    pub async fn get(&self, caller: &Caller, id: OrgId) -> Result<Organisation> {
        if !caller.superuser && id.uuid() != caller.org_id {
            return Err(ORG_NOT_FOUND);
        }
        store::orgs::find(&self.db, id.uuid()).await?.ok_or(ORG_NOT_FOUND)
    }

    /// Admins rename; only superusers activate or deactivate.
    pub async fn update(
        &self,
        caller: &Caller,
        id: OrgId,
        name: Option<DisplayName>,
        active: Option<bool>,
        logo_url: Option<Option<String>>,
        require_mfa: Option<bool>,
    ) -> Result<Organisation> {
        let admin = caller.admin_of(id.uuid())?;
        if active.is_some() && !admin.is_superuser() {
            return Err(ServiceError::Forbidden(
                "forbidden",
                "only a superuser can activate or deactivate an organisation",
            ));
        }
        let before = store::orgs::find(&self.db, id.uuid()).await?.ok_or(ORG_NOT_FOUND)?;
        let mut change = self.changes.begin().await?;
        let name = name.map(DisplayName::into_inner);
        let changes = store::orgs::OrgUpdate {
            name,
            active,
            logo_url,
            require_mfa,
        };
        let org = store::orgs::update(change.tx(), id.uuid(), changes, change.now()).await?;
        change.event(
            org.id,
            Event::OrganizationUpdated {
                before,
                after: org.clone(),
            },
        );
        change.audit(
            Audit::new(&caller.actor(), "org.update")
                .org(org.id)
                .target("org", org.id),
        );
        change.org_changed(org.id);
        change.commit().await?;
        Ok(org)
    }

    /// Deletes an organisation and everything in it; its sessions end. The default organisation
    /// stays.
    pub async fn delete(&self, caller: &Caller, id: OrgId) -> Result<()> {
        caller.superuser()?;
        let org = store::orgs::find(&self.db, id.uuid()).await?.ok_or(ORG_NOT_FOUND)?;
        if org.slug == self.config.default_org {
            return Err(ServiceError::Conflict(
                "default_organization",
                "the default organisation cannot be deleted",
            ));
        }
        let mut change = self.changes.begin().await?;
        change
            .end_sessions(SessionsOf::Org(org.id), "organization_deleted")
            .await?;
        store::orgs::delete(change.tx(), org.id).await?;
        change.audit(
            Audit::new(&caller.actor(), "org.delete")
                .target("org", org.id)
                .detail(json!({"slug": org.slug})),
        );
        change.org_changed(org.id);
        change.event(org.id, Event::OrganizationDeleted { org });
        change.commit().await
    }

    /// Admin rights over an organisation that exists (superusers may name any id).
    pub async fn admin_of_existing(&self, caller: &Caller, id: OrgId) -> Result<OrgAdmin> {
        let admin = caller.admin_of(id.uuid())?;
        store::orgs::find(&self.db, id.uuid()).await?.ok_or(ORG_NOT_FOUND)?;
        Ok(admin)
    }
}
