//! The domain tree of the caller's organisation. A change to the tree (a node added under an
//! assigned one, moved, renamed, deactivated or deleted) can change what every assigned user is
//! granted, so it bumps `mv` for all users with an assignment in the organisation.
use super::authz::{Caller, OrgAdmin};
use super::core::{Core, denied};
use super::journal::{Invalidation, Journal};
use serde_json::{Value, json};

use super::tree::DomainTree;
use super::validate::{self, Problems};
use super::{Result, ServiceError};
use crate::model::{Domain, DomainGrant};
use crate::store::{self, StoreError, Tx};
use std::sync::Arc;
use uuid::Uuid;

pub struct NewDomain {
    pub key: String,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub active: Option<bool>,
}

pub struct DomainPatch {
    pub key: Option<String>,
    pub name: Option<String>,
    pub parent_id: Option<Option<Uuid>>,
    pub active: Option<bool>,
}

/// A domain with its path (when reachable through active ancestors).
pub struct DomainNode {
    pub domain: Domain,
    pub path: Option<String>,
    pub children: Vec<DomainNode>,
}

const NOT_FOUND: ServiceError = ServiceError::NotFound("domain not found");

fn conflict(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => ServiceError::Conflict("domain_exists", "a domain with this key already exists"),
        e => e.into(),
    }
}

pub struct DomainService {
    core: Arc<Core>,
}

impl DomainService {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The caller's domains, each assignment expanded to its subtree.
    pub async fn mine(&self, caller: &Caller) -> Result<Vec<DomainGrant>> {
        Ok(self
            .core
            .context(caller.user_id, caller.org_id)
            .await?
            .map_err(denied)?
            .expanded_domains
            .clone())
    }

    /// Every domain of the organisation, parents before children.
    pub async fn flat(&self, caller: &Caller) -> Result<Vec<DomainNode>> {
        let tree = self.tree(caller.org_id).await?;
        Ok(tree
            .ordered()
            .into_iter()
            .map(|d| DomainNode {
                domain: d.clone(),
                path: tree.path(d.id),
                children: vec![],
            })
            .collect())
    }

    /// The organisation's domains as a forest.
    pub async fn forest(&self, caller: &Caller) -> Result<Vec<DomainNode>> {
        let tree = self.tree(caller.org_id).await?;
        fn build(tree: &DomainTree, d: &Domain) -> DomainNode {
            let children = tree.children_of(d.id).into_iter().map(|c| build(tree, c)).collect();
            DomainNode {
                domain: d.clone(),
                path: tree.path(d.id),
                children,
            }
        }
        Ok(tree
            .ordered()
            .into_iter()
            .filter(|d| d.parent_id.is_none())
            .map(|d| build(&tree, d))
            .collect())
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<DomainNode> {
        let tree = self.tree(caller.org_id).await?;
        let domain = tree.get(id).ok_or(NOT_FOUND)?.clone();
        Ok(DomainNode {
            path: tree.path(id),
            domain,
            children: vec![],
        })
    }

    pub async fn create(&self, caller: &Caller, input: NewDomain) -> Result<Domain> {
        let admin = caller.admin()?;
        let mut problems = Problems::default();
        let key = problems.check("key", validate::key(&input.key));
        let name = problems.check("name", validate::display_name(&input.name));
        let tree = self.tree(admin.org_id()).await?;
        if let Some(parent) = input.parent_id
            && tree.get(parent).is_none()
        {
            problems.add("parent_id", "is not a domain of this organisation");
        }
        problems.finish()?;
        let (Some(key), Some(name)) = (key, name) else {
            return Err(ServiceError::Internal(anyhow::anyhow!("validated fields missing")));
        };
        let new = store::domains::NewDomain {
            id: None,
            key,
            name,
            parent_id: input.parent_id,
            active: input.active.unwrap_or(true),
        };
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let domain = store::domains::insert(&tx, admin.org_id(), new, journal.now())
            .await
            .map_err(conflict)?;
        journal.event(
            Some(admin.org_id()),
            "domain",
            domain.id,
            "created",
            "DomainCreated",
            domain_data(&domain),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "domain.create",
            Some(("domain", domain.id.to_string())),
            None,
        );
        self.commit_tree_change(tx, journal, admin).await?;
        Ok(domain)
    }

    pub async fn update(&self, caller: &Caller, id: Uuid, patch: DomainPatch) -> Result<Domain> {
        let admin = caller.admin()?;
        let tree = self.tree(admin.org_id()).await?;
        tree.get(id).ok_or(NOT_FOUND)?;
        let mut problems = Problems::default();
        let key = patch.key.map(|k| problems.check("key", validate::key(&k)));
        let name = patch.name.map(|n| problems.check("name", validate::display_name(&n)));
        if let Some(Some(parent)) = patch.parent_id
            && tree.get(parent).is_none()
        {
            problems.add("parent_id", "is not a domain of this organisation");
        }
        problems.finish()?;
        if let Some(Some(parent)) = patch.parent_id
            && tree.would_cycle(id, parent)
        {
            return Err(ServiceError::Conflict(
                "domain_cycle",
                "a domain cannot move under itself or its descendants",
            ));
        }
        let changes = store::domains::DomainChanges {
            key: key.flatten(),
            name: name.flatten(),
            parent_id: patch.parent_id,
            active: patch.active,
        };
        let before = tree.get(id).map(domain_data);
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let domain = store::domains::update(&tx, id, changes, journal.now())
            .await
            .map_err(conflict)?;
        journal.event(
            Some(admin.org_id()),
            "domain",
            id,
            "updated",
            "DomainUpdated",
            json!({"before": before, "after": domain_data(&domain)}),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "domain.update",
            Some(("domain", id.to_string())),
            None,
        );
        self.commit_tree_change(tx, journal, admin).await?;
        Ok(domain)
    }

    /// Deletes a domain with its whole subtree and their assignments.
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let admin = caller.admin()?;
        let tree = self.tree(admin.org_id()).await?;
        tree.get(id).ok_or(NOT_FOUND)?;
        let mut doomed = tree.subtree(id);
        doomed.reverse();
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let affected = store::domains::assigned_users(&tx, admin.org_id(), None).await?;
        store::domains::delete_many(&tx, admin.org_id(), &doomed).await?;
        store::orgs::bump_mv(&tx, admin.org_id(), &affected, journal.now()).await?;
        for gone in &doomed {
            journal.event(
                Some(admin.org_id()),
                "domain",
                gone,
                "deleted",
                "DomainDeleted",
                json!({"domain_id": gone, "deleted_with": id}),
            );
        }
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "domain.delete",
            Some(("domain", id.to_string())),
            Some(json!({"subtree": doomed})),
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: affected,
        });
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    pub async fn assign(&self, caller: &Caller, id: Uuid, user_id: Uuid) -> Result<()> {
        let admin = caller.admin()?;
        let db = &self.core.db;
        store::domains::find(db, admin.org_id(), id).await?.ok_or(NOT_FOUND)?;
        if !store::orgs::is_member(db, admin.org_id(), user_id).await? {
            return Err(ServiceError::NotFound("user not found"));
        }
        let mut journal = self.core.journal();
        let tx = store::begin(db).await?;
        if store::domains::assign(&tx, admin.org_id(), id, user_id, journal.now()).await? {
            store::orgs::bump_mv(&tx, admin.org_id(), &[user_id], journal.now()).await?;
            journal.event(
                Some(admin.org_id()),
                "domain",
                id,
                "users.changed",
                "DomainUsersChanged",
                json!({"domain_id": id, "user_id": user_id, "action": "assigned"}),
            );
            journal.audit(
                Some(admin.org_id()),
                &caller.actor(),
                "domain.assign",
                Some(("user", user_id.to_string())),
                Some(json!({"domain_id": id})),
            );
            journal.invalidate(Invalidation::Members {
                org: admin.org_id(),
                users: vec![user_id],
            });
        }
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    pub async fn unassign(&self, caller: &Caller, id: Uuid, user_id: Uuid) -> Result<()> {
        let admin = caller.admin()?;
        let db = &self.core.db;
        store::domains::find(db, admin.org_id(), id).await?.ok_or(NOT_FOUND)?;
        let mut journal = self.core.journal();
        let tx = store::begin(db).await?;
        if !store::domains::unassign(&tx, admin.org_id(), id, user_id).await? {
            return Err(ServiceError::NotFound("the user is not assigned to this domain"));
        }
        store::orgs::bump_mv(&tx, admin.org_id(), &[user_id], journal.now()).await?;
        journal.event(
            Some(admin.org_id()),
            "domain",
            id,
            "users.changed",
            "DomainUsersChanged",
            json!({"domain_id": id, "user_id": user_id, "action": "unassigned"}),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "domain.unassign",
            Some(("user", user_id.to_string())),
            Some(json!({"domain_id": id})),
        );
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: vec![user_id],
        });
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    async fn tree(&self, org_id: Uuid) -> Result<DomainTree> {
        Ok(DomainTree::new(store::domains::list(&self.core.db, org_id).await?))
    }

    /// Bumps `mv` for every user with an assignment in the organisation, then commits.
    async fn commit_tree_change(&self, tx: Tx, mut journal: Journal, admin: OrgAdmin) -> Result<()> {
        let affected = store::domains::assigned_users(&tx, admin.org_id(), None).await?;
        store::orgs::bump_mv(&tx, admin.org_id(), &affected, journal.now()).await?;
        journal.invalidate(Invalidation::Members {
            org: admin.org_id(),
            users: affected,
        });
        self.core.commit(tx, journal).await
    }
}

fn domain_data(d: &Domain) -> Value {
    json!({"domain_id": d.id, "org_id": d.org_id, "key": d.key, "name": d.name, "parent_id": d.parent_id, "is_active": d.active})
}
