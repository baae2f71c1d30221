//! Reading what happened: the event outbox and the audit log. Organisation admins see their
//! organisation's; superusers see everything.
use super::Result;
use super::authz::Caller;
use crate::model::{AuditEntry, Page, PageRequest, StoredEvent};
use crate::store::{self, Db};

pub struct ActivityService {
    db: Db,
}

impl ActivityService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn events(&self, caller: &Caller, page: PageRequest) -> Result<Page<StoredEvent>> {
        let scope = if caller.superuser {
            None
        } else {
            Some(caller.admin()?.org_id())
        };
        Ok(store::events::list(&self.db, scope, page).await?)
    }

    pub async fn audit(&self, caller: &Caller, page: PageRequest) -> Result<Page<AuditEntry>> {
        let scope = if caller.superuser {
            None
        } else {
            Some(caller.admin()?.org_id())
        };
        Ok(store::audit::list(&self.db, scope, page).await?)
    }

    /// The audit log of the caller's organisation (an admin's; a superuser's too), narrowed.
    pub async fn org_audit(
        &self,
        caller: &Caller,
        filter: &store::audit::AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEntry>> {
        let org = if caller.superuser {
            caller.org_id
        } else {
            caller.admin()?.org_id()
        };
        Ok(store::audit::list_filtered(&self.db, Some(org), filter, page).await?)
    }
}
