//! The domain tree of the caller's organisation. A change to the tree (a node added under an
//! assigned one, moved, renamed, deactivated or deleted) can change what every assigned user is
//! granted, so it bumps `mv` for all users with an assignment in the organisation.
use super::authz::{Caller, OrgAdmin};
use super::core::{Core, denied};
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
            key,
            name,
            parent_id: input.parent_id,
            active: input.active.unwrap_or(true),
        };
        let tx = store::begin(&self.core.db).await?;
        let domain = store::domains::insert(&tx, admin.org_id(), new, self.core.clock.now())
            .await
            .map_err(conflict)?;
        self.commit_tree_change(tx, admin).await?;
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
        let tx = store::begin(&self.core.db).await?;
        let domain = store::domains::update(&tx, id, changes, self.core.clock.now())
            .await
            .map_err(conflict)?;
        self.commit_tree_change(tx, admin).await?;
        Ok(domain)
    }

    /// Deletes a domain with its whole subtree and their assignments.
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let admin = caller.admin()?;
        let tree = self.tree(admin.org_id()).await?;
        tree.get(id).ok_or(NOT_FOUND)?;
        let mut doomed = tree.subtree(id);
        doomed.reverse();
        let tx = store::begin(&self.core.db).await?;
        let affected = store::domains::assigned_users(&tx, admin.org_id(), None).await?;
        store::domains::delete_many(&tx, admin.org_id(), &doomed).await?;
        store::orgs::bump_mv(&tx, admin.org_id(), &affected, self.core.clock.now()).await?;
        store::commit(tx).await?;
        self.core.changed_members(admin.org_id(), &affected);
        Ok(())
    }

    pub async fn assign(&self, caller: &Caller, id: Uuid, user_id: Uuid) -> Result<()> {
        let admin = caller.admin()?;
        let db = &self.core.db;
        store::domains::find(db, admin.org_id(), id).await?.ok_or(NOT_FOUND)?;
        if !store::orgs::is_member(db, admin.org_id(), user_id).await? {
            return Err(ServiceError::NotFound("user not found"));
        }
        let tx = store::begin(db).await?;
        if store::domains::assign(&tx, admin.org_id(), id, user_id, self.core.clock.now()).await? {
            store::orgs::bump_mv(&tx, admin.org_id(), &[user_id], self.core.clock.now()).await?;
        }
        store::commit(tx).await?;
        self.core.changed_members(admin.org_id(), &[user_id]);
        Ok(())
    }

    pub async fn unassign(&self, caller: &Caller, id: Uuid, user_id: Uuid) -> Result<()> {
        let admin = caller.admin()?;
        let db = &self.core.db;
        store::domains::find(db, admin.org_id(), id).await?.ok_or(NOT_FOUND)?;
        let tx = store::begin(db).await?;
        if !store::domains::unassign(&tx, admin.org_id(), id, user_id).await? {
            return Err(ServiceError::NotFound("the user is not assigned to this domain"));
        }
        store::orgs::bump_mv(&tx, admin.org_id(), &[user_id], self.core.clock.now()).await?;
        store::commit(tx).await?;
        self.core.changed_members(admin.org_id(), &[user_id]);
        Ok(())
    }

    async fn tree(&self, org_id: Uuid) -> Result<DomainTree> {
        Ok(DomainTree::new(store::domains::list(&self.core.db, org_id).await?))
    }

    /// Bumps `mv` for every user with an assignment in the organisation, then commits.
    async fn commit_tree_change(&self, tx: Tx, admin: OrgAdmin) -> Result<()> {
        let affected = store::domains::assigned_users(&tx, admin.org_id(), None).await?;
        store::orgs::bump_mv(&tx, admin.org_id(), &affected, self.core.clock.now()).await?;
        store::commit(tx).await?;
        self.core.changed_members(admin.org_id(), &affected);
        Ok(())
    }
}
