//! The domain tree of the caller's organisation. A change to the tree (a node added under an
//! assigned one, moved, renamed, deactivated or deleted) can change what every assigned user is
//! granted, so it moves `mv` for all users with an assignment in the organisation.
use super::authn::Authenticator;
use super::authz::Caller;
use super::change::{Audit, Change, Changes, Event};
use super::tree::DomainTree;
use super::{Result, ServiceError, conflict};
use crate::model::input::{DisplayName, Invalid, Key};
use crate::model::{Domain, DomainGrant, DomainId, UserId};
use crate::store::{self, Db};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

pub struct NewDomain {
    pub key: Key,
    pub name: DisplayName,
    pub parent_id: Option<DomainId>,
    pub active: Option<bool>,
}

pub struct DomainPatch {
    pub key: Option<Key>,
    pub name: Option<DisplayName>,
    pub parent_id: Option<Option<DomainId>>,
    pub active: Option<bool>,
}

/// A domain with its path (when reachable through active ancestors).
pub struct DomainNode {
    pub domain: Domain,
    pub path: Option<String>,
    pub children: Vec<DomainNode>,
}

const NOT_FOUND: ServiceError = ServiceError::NotFound("domain not found");
const DOMAIN_EXISTS: (&str, &str) = ("domain_exists", "a domain with this key already exists");

fn not_in_tree() -> Invalid {
    Invalid::field("parent_id", "is not a domain of this organisation")
}

pub struct DomainService {
    db: Db,
    changes: Changes,
    authn: Arc<Authenticator>,
}

impl DomainService {
    pub fn new(db: Db, changes: Changes, authn: Arc<Authenticator>) -> Self {
        Self { db, changes, authn }
    }

    /// The caller's domains, each assignment expanded to its subtree.
    pub async fn mine(&self, caller: &Caller) -> Result<Vec<DomainGrant>> {
        Ok(self
            .authn
            .current(caller.user_id, caller.org_id)
            .await?
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

    pub async fn get(&self, caller: &Caller, id: DomainId) -> Result<DomainNode> {
        let tree = self.tree(caller.org_id).await?;
        let domain = tree.get(id.uuid()).ok_or(NOT_FOUND)?.clone();
        Ok(DomainNode {
            path: tree.path(id.uuid()),
            domain,
            children: vec![],
        })
    }

    /// Creates a domain; answers it with its path.
    pub async fn create(&self, caller: &Caller, input: NewDomain) -> Result<DomainNode> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        let tree = self.tree(org).await?;
        if input.parent_id.is_some_and(|p| tree.get(p.uuid()).is_none()) {
            return Err(not_in_tree().into());
        }
        let new = store::domains::NewDomain {
            id: None,
            key: input.key.into_inner(),
            name: input.name.into_inner(),
            parent_id: input.parent_id.map(DomainId::uuid),
            active: input.active.unwrap_or(true),
        };
        let mut change = self.changes.begin().await?;
        let domain = store::domains::insert(change.tx(), org, new, change.now())
            .await
            .map_err(conflict(DOMAIN_EXISTS.0, DOMAIN_EXISTS.1))?;
        change.event(org, Event::DomainCreated { domain: domain.clone() });
        change.audit(
            Audit::new(&caller.actor(), "domain.create")
                .org(org)
                .target("domain", domain.id),
        );
        self.commit_tree_change(change, org).await?;
        self.get(caller, DomainId(domain.id)).await
    }

    /// Changes a domain; answers it with its (perhaps new) path.
    pub async fn update(&self, caller: &Caller, id: DomainId, patch: DomainPatch) -> Result<DomainNode> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        let tree = self.tree(org).await?;
        let before = tree.get(id.uuid()).ok_or(NOT_FOUND)?.clone();
        if let Some(Some(parent)) = patch.parent_id {
            if tree.get(parent.uuid()).is_none() {
                return Err(not_in_tree().into());
            }
            if tree.would_cycle(id.uuid(), parent.uuid()) {
                return Err(ServiceError::Conflict(
                    "domain_cycle",
                    "a domain cannot move under itself or its descendants",
                ));
            }
        }
        let changes = store::domains::DomainChanges {
            key: patch.key.map(Key::into_inner),
            name: patch.name.map(DisplayName::into_inner),
            parent_id: patch.parent_id.map(|p| p.map(DomainId::uuid)),
            active: patch.active,
        };
        let mut change = self.changes.begin().await?;
        let domain = store::domains::update(change.tx(), id.uuid(), changes, change.now())
            .await
            .map_err(conflict(DOMAIN_EXISTS.0, DOMAIN_EXISTS.1))?;
        change.event(
            org,
            Event::DomainUpdated {
                before,
                after: domain.clone(),
            },
        );
        change.audit(
            Audit::new(&caller.actor(), "domain.update")
                .org(org)
                .target("domain", id),
        );
        self.commit_tree_change(change, org).await?;
        self.get(caller, id).await
    }

    /// Deletes a domain with its whole subtree and their assignments.
    pub async fn delete(&self, caller: &Caller, id: DomainId) -> Result<()> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        let tree = self.tree(org).await?;
        tree.get(id.uuid()).ok_or(NOT_FOUND)?;
        let mut doomed = tree.subtree(id.uuid());
        doomed.reverse();
        let mut change = self.changes.begin().await?;
        let affected = store::domains::assigned_users(change.tx(), org, None).await?;
        store::domains::delete_many(change.tx(), org, &doomed).await?;
        change.members_changed(org, affected);
        for gone in &doomed {
            change.event(
                org,
                Event::DomainDeleted {
                    domain: *gone,
                    deleted_with: id.uuid(),
                },
            );
        }
        change.audit(
            Audit::new(&caller.actor(), "domain.delete")
                .org(org)
                .target("domain", id)
                .detail(json!({"subtree": doomed})),
        );
        change.commit().await
    }

    pub async fn assign(&self, caller: &Caller, id: DomainId, user: UserId) -> Result<()> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        store::domains::find(&self.db, org, id.uuid()).await?.ok_or(NOT_FOUND)?;
        if !store::members::is_member(&self.db, org, user.uuid()).await? {
            return Err(ServiceError::NotFound("user not found"));
        }
        let mut change = self.changes.begin().await?;
        if store::domains::assign(change.tx(), org, id.uuid(), user.uuid(), change.now()).await? {
            self.assignment_changed(&mut change, caller, org, id, user, true);
        }
        change.commit().await
    }

    pub async fn unassign(&self, caller: &Caller, id: DomainId, user: UserId) -> Result<()> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        store::domains::find(&self.db, org, id.uuid()).await?.ok_or(NOT_FOUND)?;
        let mut change = self.changes.begin().await?;
        if !store::domains::unassign(change.tx(), org, id.uuid(), user.uuid()).await? {
            return Err(ServiceError::NotFound("the user is not assigned to this domain"));
        }
        self.assignment_changed(&mut change, caller, org, id, user, false);
        change.commit().await
    }

    fn assignment_changed(
        &self,
        change: &mut Change,
        caller: &Caller,
        org: Uuid,
        id: DomainId,
        user: UserId,
        assigned: bool,
    ) {
        change.members_changed(org, [user.uuid()]);
        change.event(
            org,
            Event::DomainUsersChanged {
                domain: id.uuid(),
                user: user.uuid(),
                assigned,
            },
        );
        let action = if assigned { "domain.assign" } else { "domain.unassign" };
        change.audit(
            Audit::new(&caller.actor(), action)
                .org(org)
                .target("user", user)
                .detail(json!({"domain_id": id})),
        );
    }

    async fn tree(&self, org_id: Uuid) -> Result<DomainTree> {
        Ok(DomainTree::new(store::domains::list(&self.db, org_id).await?))
    }

    /// Every user with an assignment in the organisation may see the tree differently now.
    async fn commit_tree_change(&self, mut change: Change, org: Uuid) -> Result<()> {
        let affected = store::domains::assigned_users(change.tx(), org, None).await?;
        change.members_changed(org, affected);
        change.commit().await
    }
}
