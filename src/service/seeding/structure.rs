//! Seeding an organisation's structure: custom roles, teams and the domain tree.
use super::{Action, Run};
use crate::model::{Organisation, Role};
use crate::service::change::Event;
use crate::service::tree::DomainTree;
use crate::service::{Result, ServiceError};
use crate::store;
use seed::Domain;
use std::collections::HashMap;
use uuid::Uuid;

impl Run<'_> {
    pub(super) async fn roles(&mut self, org: &Organisation, doc: &seed::Org) -> Result<()> {
        let now = self.change.now();
        let existing = store::roles::list(self.change.tx(), org.id).await?;
        for role in &doc.roles {
            let name = role.name.clone().unwrap_or_else(|| role.key.clone());
            let mut permissions = role.permissions.clone();
            permissions.sort();
            permissions.dedup();
            let what = format!("role {}/{}", org.slug, role.key);
            match existing.iter().find(|r| r.key == role.key) {
                None => {
                    let tx = self.change.tx();
                    let created = store::roles::insert(tx, org.id, &role.key, &name, &permissions, false, now).await?;
                    self.change.event(org.id, Event::RoleCreated { role: created });
                    self.plan.note(Action::Create, what);
                }
                Some(current) if current.name != name || current.permissions != permissions => {
                    let tx = self.change.tx();
                    store::roles::rename(tx, current.id, &name).await?;
                    store::roles::set_permissions(tx, current.id, &permissions).await?;
                    self.change.role_changed(org.id, &current.key).await?;
                    let after = Role {
                        name,
                        permissions,
                        ..current.clone()
                    };
                    let before = current.clone();
                    self.change.event(org.id, Event::RoleUpdated { before, after });
                    self.plan.note(Action::Update, what);
                }
                Some(_) => self.plan.note(Action::Unchanged, what),
            }
        }
        if self.options.prune {
            for role in existing
                .into_iter()
                .filter(|r| !r.builtin && !doc.roles.iter().any(|d| d.key == r.key))
            {
                let holders = store::roles::holders(self.change.tx(), org.id, role.id).await?;
                self.change.role_changed(org.id, &role.key).await?;
                store::roles::delete(self.change.tx(), org.id, role.id).await?;
                self.plan
                    .note(Action::Delete, format!("role {}/{}", org.slug, role.key));
                self.change.event(org.id, Event::RoleDeleted { role, holders });
            }
        }
        Ok(())
    }

    /// Teams of the organisation by slug, after the run.
    pub(super) async fn teams(&mut self, org: &Organisation, doc: &seed::Org) -> Result<HashMap<String, Uuid>> {
        let now = self.change.now();
        let existing = store::teams::list_all(self.change.tx(), org.id).await?;
        let mut ids = HashMap::new();
        for team in &doc.teams {
            let what = format!("team {}/{}", org.slug, team.slug);
            match existing.iter().find(|t| t.slug == team.slug) {
                None => {
                    let new = store::teams::NewTeam {
                        id: team.id,
                        slug: team.slug.clone(),
                        name: team.name.clone(),
                        external_ref: team.external_ref.clone(),
                        active: team.active,
                    };
                    let created = store::teams::insert(self.change.tx(), org.id, new, now).await?;
                    ids.insert(team.slug.clone(), created.id);
                    self.change.event(org.id, Event::TeamCreated { team: created });
                    self.plan.note(Action::Create, what);
                }
                Some(current) => {
                    ids.insert(team.slug.clone(), current.id);
                    if current.name != team.name
                        || current.external_ref != team.external_ref
                        || current.active != team.active
                    {
                        let changes = store::teams::TeamChanges {
                            slug: None,
                            name: Some(team.name.clone()),
                            external_ref: Some(team.external_ref.clone()),
                            active: Some(team.active),
                        };
                        let tx = self.change.tx();
                        let after = store::teams::update(tx, current.clone(), changes, now).await?;
                        let members = store::teams::member_ids(tx, org.id, current.id).await?;
                        self.change.members_changed(org.id, members);
                        let before = current.clone();
                        self.change.event(org.id, Event::TeamUpdated { before, after });
                        self.plan.note(Action::Update, what);
                    } else {
                        self.plan.note(Action::Unchanged, what);
                    }
                }
            }
        }
        if self.options.prune {
            for team in existing.into_iter().filter(|t| !ids.contains_key(&t.slug)) {
                let members = store::teams::member_ids(self.change.tx(), org.id, team.id).await?;
                store::teams::delete(self.change.tx(), org.id, team.id).await?;
                self.change.members_changed(org.id, members.iter().copied());
                self.plan
                    .note(Action::Delete, format!("team {}/{}", org.slug, team.slug));
                self.change.event(org.id, Event::TeamDeleted { team, members });
            }
        }
        Ok(ids)
    }

    /// Domains of the organisation by key, after the run.
    pub(super) async fn domains(&mut self, org: &Organisation, doc: &seed::Org) -> Result<HashMap<String, Uuid>> {
        let now = self.change.now();
        let mut flat = Vec::new();
        Domain::flatten(&doc.domains, "domains", None, &mut flat);
        let existing = store::domains::list(self.change.tx(), org.id).await?;
        let mut ids: HashMap<String, Uuid> = HashMap::new();
        let mut created = HashMap::new();
        let mut changed_tree = false;
        for (_, domain, _) in &flat {
            if let Some(current) = existing.iter().find(|d| d.key == domain.key) {
                ids.insert(domain.key.clone(), current.id);
            } else {
                let new = store::domains::NewDomain {
                    id: domain.id,
                    key: domain.key.clone(),
                    name: domain.name.clone(),
                    parent_id: None,
                    active: domain.active,
                };
                let domain = store::domains::insert(self.change.tx(), org.id, new, now).await?;
                ids.insert(domain.key.clone(), domain.id);
                created.insert(domain.key.clone(), domain);
            }
        }
        for (_, domain, parent) in &flat {
            let what = format!("domain {}/{}", org.slug, domain.key);
            let parent_id = parent.and_then(|p| ids.get(p).copied());
            let id = ids
                .get(&domain.key)
                .copied()
                .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("domain id missing")))?;
            let current = existing.iter().find(|d| d.key == domain.key);
            let differs =
                current.is_none_or(|c| c.name != domain.name || c.parent_id != parent_id || c.active != domain.active);
            if !differs {
                self.plan.note(Action::Unchanged, what);
                continue;
            }
            let after = match created.remove(&domain.key) {
                // Created above, under no parent yet.
                Some(new) if parent_id.is_none() => new,
                _ => {
                    let changes = store::domains::DomainChanges {
                        key: None,
                        name: Some(domain.name.clone()),
                        parent_id: Some(parent_id),
                        active: Some(domain.active),
                    };
                    store::domains::update(self.change.tx(), id, changes, now).await?
                }
            };
            changed_tree = true;
            match current {
                None => {
                    self.change.event(org.id, Event::DomainCreated { domain: after });
                    self.plan.note(Action::Create, what);
                }
                Some(before) => {
                    let before = before.clone();
                    self.change.event(org.id, Event::DomainUpdated { before, after });
                    self.plan.note(Action::Update, what);
                }
            }
        }
        if self.options.prune {
            let tree = DomainTree::new(store::domains::list(self.change.tx(), org.id).await?);
            let doomed: Vec<Uuid> = tree
                .ordered()
                .iter()
                .rev()
                .filter(|d| !ids.contains_key(&d.key))
                .map(|d| d.id)
                .collect();
            if !doomed.is_empty() {
                store::domains::delete_many(self.change.tx(), org.id, &doomed).await?;
                for id in &doomed {
                    let key = tree.get(*id).map(|d| d.key.clone()).unwrap_or_default();
                    let gone = Event::DomainDeleted {
                        domain: *id,
                        deleted_with: *id,
                    };
                    self.change.event(org.id, gone);
                    self.plan.note(Action::Delete, format!("domain {}/{key}", org.slug));
                }
                changed_tree = true;
            }
        }
        if changed_tree {
            let assigned = store::domains::assigned_users(self.change.tx(), org.id, None).await?;
            self.change.members_changed(org.id, assigned);
        }
        Ok(ids)
    }
}
