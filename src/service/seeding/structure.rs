//! Seeding an organisation's structure: custom roles, teams and the domain tree.
use super::{Action, Plan, SeedOptions, SeedService, Touched};
use crate::model::Organisation;
use crate::service::journal::Journal;
use crate::service::tree::DomainTree;
use crate::service::{Result, ServiceError};
use crate::store::{self, Tx};
use seed::Domain;
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

impl SeedService {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn roles(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        plan: &mut Plan,
        touched: &mut Touched,
        org: &Organisation,
        doc: &seed::Org,
        options: SeedOptions,
    ) -> Result<()> {
        let existing = store::orgs::roles(tx, org.id).await?;
        for role in &doc.roles {
            let name = role.name.clone().unwrap_or_else(|| role.key.clone());
            let mut permissions = role.permissions.clone();
            permissions.sort();
            permissions.dedup();
            let what = format!("role {}/{}", org.slug, role.key);
            match existing.iter().find(|r| r.key == role.key) {
                None => {
                    let created =
                        store::orgs::insert_role(tx, org.id, &role.key, &name, &permissions, false, journal.now())
                            .await?;
                    journal.event(
                        Some(org.id),
                        "role",
                        created.id,
                        "created",
                        "RoleCreated",
                        json!({"role_id": created.id, "key": role.key, "permissions": permissions}),
                    );
                    plan.note(Action::Create, what);
                }
                Some(current) if current.name != name || current.permissions != permissions => {
                    store::orgs::rename_role(tx, current.id, &name).await?;
                    store::orgs::set_role_permissions(tx, current.id, &permissions).await?;
                    touched
                        .members
                        .entry(org.id)
                        .or_default()
                        .extend(store::orgs::role_holders(tx, org.id, current.id).await?);
                    journal.event(
                        Some(org.id),
                        "role",
                        current.id,
                        "updated",
                        "RoleUpdated",
                        json!({"role_id": current.id, "key": role.key, "permissions": permissions}),
                    );
                    plan.note(Action::Update, what);
                }
                Some(_) => plan.note(Action::Unchanged, what),
            }
        }
        if options.prune {
            for role in existing
                .iter()
                .filter(|r| !r.builtin && !doc.roles.iter().any(|d| d.key == r.key))
            {
                touched
                    .members
                    .entry(org.id)
                    .or_default()
                    .extend(store::orgs::role_holders(tx, org.id, role.id).await?);
                store::orgs::delete_role(tx, org.id, role.id).await?;
                journal.event(
                    Some(org.id),
                    "role",
                    role.id,
                    "deleted",
                    "RoleDeleted",
                    json!({"role_id": role.id, "key": role.key}),
                );
                plan.note(Action::Delete, format!("role {}/{}", org.slug, role.key));
            }
        }
        Ok(())
    }

    /// Teams of the organisation by slug, after the run.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn teams(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        plan: &mut Plan,
        touched: &mut Touched,
        org: &Organisation,
        doc: &seed::Org,
        options: SeedOptions,
    ) -> Result<HashMap<String, Uuid>> {
        let existing = store::teams::list_all(tx, org.id).await?;
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
                    let created = store::teams::insert(tx, org.id, new, journal.now()).await?;
                    journal.event(
                        Some(org.id),
                        "team",
                        created.id,
                        "created",
                        "TeamCreated",
                        json!({"team_id": created.id, "slug": team.slug, "name": team.name}),
                    );
                    ids.insert(team.slug.clone(), created.id);
                    plan.note(Action::Create, what);
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
                        store::teams::update(tx, current.clone(), changes, journal.now()).await?;
                        touched
                            .members
                            .entry(org.id)
                            .or_default()
                            .extend(store::teams::member_ids(tx, org.id, current.id).await?);
                        journal.event(Some(org.id), "team", current.id, "updated", "TeamUpdated", json!({"team_id": current.id, "slug": team.slug, "name": team.name, "is_active": team.active}));
                        plan.note(Action::Update, what);
                    } else {
                        plan.note(Action::Unchanged, what);
                    }
                }
            }
        }
        if options.prune {
            for team in existing.iter().filter(|t| !ids.contains_key(&t.slug)) {
                touched
                    .members
                    .entry(org.id)
                    .or_default()
                    .extend(store::teams::member_ids(tx, org.id, team.id).await?);
                store::teams::delete(tx, org.id, team.id).await?;
                journal.event(
                    Some(org.id),
                    "team",
                    team.id,
                    "deleted",
                    "TeamDeleted",
                    json!({"team_id": team.id, "slug": team.slug}),
                );
                plan.note(Action::Delete, format!("team {}/{}", org.slug, team.slug));
            }
        }
        Ok(ids)
    }

    /// Domains of the organisation by key, after the run.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn domains(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        plan: &mut Plan,
        touched: &mut Touched,
        org: &Organisation,
        doc: &seed::Org,
        options: SeedOptions,
    ) -> Result<HashMap<String, Uuid>> {
        let mut flat = Vec::new();
        Domain::flatten(&doc.domains, "domains", None, &mut flat);
        let existing = store::domains::list(tx, org.id).await?;
        let mut ids: HashMap<String, Uuid> = HashMap::new();
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
                let created = store::domains::insert(tx, org.id, new, journal.now()).await?;
                ids.insert(domain.key.clone(), created.id);
            }
        }
        for (_, domain, parent) in &flat {
            let what = format!("domain {}/{}", org.slug, domain.key);
            let parent_id = parent.and_then(|p| ids.get(p).copied());
            let id = ids
                .get(&domain.key)
                .copied()
                .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("domain id missing")))?;
            match existing.iter().find(|d| d.key == domain.key) {
                None => {
                    if parent_id.is_some() {
                        let changes = store::domains::DomainChanges {
                            key: None,
                            name: None,
                            parent_id: Some(parent_id),
                            active: None,
                        };
                        store::domains::update(tx, id, changes, journal.now()).await?;
                    }
                    journal.event(
                        Some(org.id),
                        "domain",
                        id,
                        "created",
                        "DomainCreated",
                        json!({"domain_id": id, "key": domain.key, "parent": parent}),
                    );
                    changed_tree = true;
                    plan.note(Action::Create, what);
                }
                Some(current)
                    if current.name != domain.name
                        || current.parent_id != parent_id
                        || current.active != domain.active =>
                {
                    let changes = store::domains::DomainChanges {
                        key: None,
                        name: Some(domain.name.clone()),
                        parent_id: Some(parent_id),
                        active: Some(domain.active),
                    };
                    store::domains::update(tx, id, changes, journal.now()).await?;
                    journal.event(
                        Some(org.id),
                        "domain",
                        id,
                        "updated",
                        "DomainUpdated",
                        json!({"domain_id": id, "key": domain.key, "parent": parent}),
                    );
                    changed_tree = true;
                    plan.note(Action::Update, what);
                }
                Some(_) => plan.note(Action::Unchanged, what),
            }
        }
        if options.prune {
            let tree = DomainTree::new(store::domains::list(tx, org.id).await?);
            let doomed: Vec<Uuid> = tree
                .ordered()
                .iter()
                .rev()
                .filter(|d| !ids.contains_key(&d.key))
                .map(|d| d.id)
                .collect();
            if !doomed.is_empty() {
                store::domains::delete_many(tx, org.id, &doomed).await?;
                for id in &doomed {
                    let key = tree.get(*id).map(|d| d.key.clone()).unwrap_or_default();
                    journal.event(
                        Some(org.id),
                        "domain",
                        id,
                        "deleted",
                        "DomainDeleted",
                        json!({"domain_id": id, "key": key}),
                    );
                    plan.note(Action::Delete, format!("domain {}/{key}", org.slug));
                }
                changed_tree = true;
            }
        }
        if changed_tree {
            touched
                .members
                .entry(org.id)
                .or_default()
                .extend(store::domains::assigned_users(tx, org.id, None).await?);
        }
        Ok(ids)
    }
}
