//! Applies a seed document idempotently, in one transaction: objects match by slug / key / email /
//! client id; what differs is updated; with `prune`, what the document no longer names inside the
//! organisations it lists is deleted. A plan is the same run rolled back, so it cannot differ from
//! what apply does. Changed memberships bump `mv`, and every change is journaled (events, audit).
use super::core::Core;
use super::journal::{Actor, Invalidation, Journal};
use super::orgs::membership_changed;
use super::tree::DomainTree;
use super::validate::Problems;
use super::{FieldError, Result, ServiceError};
use crate::crypto::{self, password};
use crate::model::{ClaimMapping, Organisation};
use crate::store::{self, Tx};
use secrecy::SecretString;
use seed::{Document, Domain};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Delete,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub action: Action,
    /// What, e.g. `team demo/general`.
    pub object: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    /// Whether applying would change anything.
    pub fn changes_anything(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::Unchanged)
    }

    fn note(&mut self, action: Action, object: String) {
        self.changes.push(Change { action, object });
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for change in &self.changes {
            let verb = match change.action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Unchanged => "unchanged",
                Action::Delete => "delete",
            };
            writeln!(f, "{verb:<9} {}", change.object)?;
        }
        write!(
            f,
            "{} to create, {} to update, {} to delete, {} unchanged",
            self.count(Action::Create),
            self.count(Action::Update),
            self.count(Action::Delete),
            self.count(Action::Unchanged)
        )
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SeedOptions {
    pub dry_run: bool,
    pub prune: bool,
}

pub struct SeedService {
    core: Arc<Core>,
}

/// What one run has touched: users whose context changed, per organisation.
#[derive(Default)]
struct Touched {
    members: HashMap<Uuid, BTreeSet<Uuid>>,
    users: BTreeSet<Uuid>,
    sessions: Vec<Uuid>,
}

impl SeedService {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Parses and validates a document; every problem is a 422 field error named by its path.
    pub fn parse(&self, text: &str) -> Result<Document> {
        let policy = self.core.config.password_policy;
        let weak = move |p: &str| password::check_policy(&policy, p).err();
        seed::load(text, &weak).map_err(|problems| {
            ServiceError::Validation(
                problems
                    .into_iter()
                    .map(|p| FieldError {
                        field: p.path,
                        message: p.message,
                    })
                    .collect(),
            )
        })
    }

    /// Applies (or, with `dry_run`, plans) a validated document.
    pub async fn apply(&self, actor: &Actor, document: &Document, options: SeedOptions) -> Result<Plan> {
        let mut journal = self.core.journal();
        let mut plan = Plan::default();
        let mut touched = Touched::default();
        let tx = store::begin(&self.core.db).await?;
        store::seed_lock(&tx).await?;
        for org in &document.orgs {
            self.apply_org(&tx, &mut journal, &mut plan, &mut touched, org, options)
                .await?;
        }
        if options.dry_run {
            drop(tx);
            return Ok(plan);
        }
        for (org, users) in &touched.members {
            let users: Vec<Uuid> = users.iter().copied().collect();
            store::orgs::bump_mv(&tx, *org, &users, journal.now()).await?;
            journal.invalidate(Invalidation::Members { org: *org, users });
        }
        for user in &touched.users {
            journal.invalidate(Invalidation::User { user: *user });
        }
        if !touched.sessions.is_empty() {
            let sessions = std::mem::take(&mut touched.sessions);
            self.core
                .end_sessions(&tx, &mut journal, sessions, "seed_prune")
                .await?;
        }
        if plan.changes_anything() {
            let summary = json!({"created": plan.count(Action::Create), "updated": plan.count(Action::Update), "deleted": plan.count(Action::Delete)});
            journal.audit(None, actor, "seed.apply", None, Some(summary));
        }
        self.core.commit(tx, journal).await?;
        Ok(plan)
    }

    async fn apply_org(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        plan: &mut Plan,
        touched: &mut Touched,
        doc: &seed::Org,
        options: SeedOptions,
    ) -> Result<()> {
        let now = journal.now();
        let org = match store::orgs::find_by_slug(tx, &doc.slug).await? {
            None => {
                let org = store::orgs::insert(tx, doc.id, &doc.slug, &doc.name, now).await?;
                let org = if doc.active {
                    org
                } else {
                    store::orgs::update(tx, org.id, None, Some(false), now).await?
                };
                journal.event(
                    Some(org.id),
                    "org",
                    org.id,
                    "created",
                    "OrganizationCreated",
                    json!({"org_id": org.id, "slug": org.slug, "name": org.name}),
                );
                plan.note(Action::Create, format!("org {}", doc.slug));
                org
            }
            Some(org) if org.name != doc.name || org.active != doc.active => {
                let updated = store::orgs::update(tx, org.id, Some(doc.name.clone()), Some(doc.active), now).await?;
                journal.event(
                    Some(org.id),
                    "org",
                    org.id,
                    "updated",
                    "OrganizationUpdated",
                    json!({"org_id": org.id, "name": doc.name, "is_active": doc.active}),
                );
                journal.invalidate(Invalidation::Org { org: org.id });
                plan.note(Action::Update, format!("org {}", doc.slug));
                updated
            }
            Some(org) => {
                plan.note(Action::Unchanged, format!("org {}", doc.slug));
                org
            }
        };
        self.roles(tx, journal, plan, touched, &org, doc, options).await?;
        let teams = self.teams(tx, journal, plan, touched, &org, doc, options).await?;
        let domains = self.domains(tx, journal, plan, touched, &org, doc, options).await?;
        self.users(tx, journal, plan, touched, &org, doc, &teams, &domains, options)
            .await?;
        self.accounts(tx, journal, plan, &org, doc, options).await?;
        self.providers(tx, plan, &org, doc, options).await
    }

    async fn providers(
        &self,
        tx: &Tx,
        plan: &mut Plan,
        org: &Organisation,
        doc: &seed::Org,
        options: SeedOptions,
    ) -> Result<()> {
        let now = self.core.clock.now();
        for p in &doc.identity_providers {
            let what = format!("identity provider {}/{}", org.slug, p.slug);
            let mappings: Vec<ClaimMapping> = p
                .mappings
                .iter()
                .map(|m| ClaimMapping {
                    value: m.value.clone(),
                    roles: m.roles.clone(),
                    teams: m.teams.clone(),
                    domains: m.domains.clone(),
                })
                .collect();
            let fields = store::identity_providers::ProviderFields {
                slug: p.slug.clone(),
                name: p.name.clone(),
                issuer: seed::rules::issuer(&p.issuer).unwrap_or_else(|_| p.issuer.clone()),
                client_id: p.client_id.clone(),
                client_secret: Some(p.client_secret.clone()),
                scopes: p
                    .scopes
                    .clone()
                    .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]),
                email_domains: p
                    .email_domains
                    .iter()
                    .filter_map(|d| seed::rules::email_domain(d).ok())
                    .collect(),
                jit: p.jit,
                link_by_email: p.link_by_email,
                groups_claim: p.groups_claim.clone().unwrap_or_else(|| "groups".into()),
                mappings,
                active: p.active,
            };
            match store::identity_providers::by_slug(tx, &p.slug).await? {
                None => {
                    store::identity_providers::insert(tx, None, org.id, fields, now).await?;
                    plan.note(Action::Create, what);
                }
                Some(current) if current.org_id != org.id => {
                    let mut problems = Problems::default();
                    problems.add(
                        "identity_providers.slug",
                        format!("\"{}\" belongs to another organisation", p.slug),
                    );
                    problems.finish()?;
                }
                Some(current) => {
                    let secret = store::identity_providers::secret_of(tx, current.id).await?;
                    let same = current.name == fields.name
                        && current.issuer == fields.issuer
                        && current.client_id == fields.client_id
                        && secret == p.client_secret
                        && current.scopes == fields.scopes
                        && current.email_domains == fields.email_domains
                        && current.jit == fields.jit
                        && current.link_by_email == fields.link_by_email
                        && current.groups_claim == fields.groups_claim
                        && current.mappings == fields.mappings
                        && current.active == fields.active;
                    if same {
                        plan.note(Action::Unchanged, what);
                    } else {
                        store::identity_providers::update(tx, current.id, fields, now).await?;
                        plan.note(Action::Update, what);
                    }
                }
            }
        }
        if options.prune {
            for existing in store::identity_providers::list(tx, org.id).await? {
                if !doc.identity_providers.iter().any(|p| p.slug == existing.slug) {
                    store::identity_providers::delete(tx, org.id, existing.id).await?;
                    plan.note(
                        Action::Delete,
                        format!("identity provider {}/{}", org.slug, existing.slug),
                    );
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn roles(
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
    async fn teams(
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
    async fn domains(
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

    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        plan: &mut Plan,
        touched: &mut Touched,
        org: &Organisation,
        doc: &seed::Org,
        teams: &HashMap<String, Uuid>,
        domains: &HashMap<String, Uuid>,
        options: SeedOptions,
    ) -> Result<()> {
        let roles = store::orgs::roles(tx, org.id).await?;
        let mut listed = BTreeSet::new();
        for user in &doc.users {
            let email = user.email.trim().to_lowercase();
            let what = format!("user {email} in {}", org.slug);
            let username = user.username.as_ref().map(|u| u.trim().to_lowercase());
            let name = user
                .name
                .clone()
                .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
            let mut changed = false;
            let account = match store::users::with_hash_by_email(tx, &email).await? {
                None => {
                    let password_hash = match (&user.password, &user.password_hash) {
                        (Some(p), _) => Some(self.core.hasher.hash(SecretString::from(p.clone())).await?),
                        (None, hash) => hash.clone(),
                    };
                    let new = store::users::NewUser {
                        id: user.id,
                        email: email.clone(),
                        username: username.clone(),
                        display_name: name.clone(),
                        password_hash,
                        superuser: user.superuser,
                        default_org_id: Some(org.id),
                    };
                    let created = store::users::insert(tx, new, journal.now()).await?;
                    if !user.active {
                        let changes = store::users::UserChanges {
                            email: None,
                            username: None,
                            display_name: None,
                            password_hash: None,
                            active: Some(false),
                            superuser: None,
                        };
                        store::users::update(tx, created.id, changes, journal.now()).await?;
                    }
                    journal.event(
                        Some(org.id),
                        "user",
                        created.id,
                        "created",
                        "UserCreated",
                        super::auth::user_data(&created),
                    );
                    changed = true;
                    created
                }
                Some((current, hash)) => {
                    let password_hash = match (&user.password, &user.password_hash) {
                        (Some(p), _)
                            if !self
                                .core
                                .hasher
                                .verify(SecretString::from(p.clone()), hash.clone())
                                .await? =>
                        {
                            Some(self.core.hasher.hash(SecretString::from(p.clone())).await?)
                        }
                        (None, Some(h)) if hash.as_ref() != Some(h) => Some(h.clone()),
                        _ => None,
                    };
                    let differs = current.display_name != name
                        || current.username != username
                        || current.superuser != user.superuser
                        || current.active != user.active
                        || password_hash.is_some();
                    if differs {
                        let changes = store::users::UserChanges {
                            email: None,
                            username: Some(username.clone()),
                            display_name: Some(name.clone()),
                            password_hash,
                            active: Some(user.active),
                            superuser: Some(user.superuser),
                        };
                        let updated = store::users::update(tx, current.id, changes, journal.now()).await?;
                        journal.event(
                            Some(org.id),
                            "user",
                            current.id,
                            "updated",
                            "UserUpdated",
                            super::auth::user_data(&updated),
                        );
                        touched.users.insert(current.id);
                        if !user.active {
                            touched
                                .sessions
                                .extend(store::sessions::unrevoked_of_user(tx, current.id).await?);
                        }
                        changed = true;
                    }
                    current
                }
            };
            listed.insert(account.id);
            let wanted: Vec<&str> = user
                .roles
                .as_ref()
                .map_or(vec!["member"], |r| r.iter().map(String::as_str).collect());
            let mut wanted_keys: Vec<String> = wanted.iter().map(|k| (*k).to_owned()).collect();
            wanted_keys.sort();
            wanted_keys.dedup();
            let role_ids: Vec<Uuid> = roles
                .iter()
                .filter(|r| wanted_keys.contains(&r.key))
                .map(|r| r.id)
                .collect();
            match store::orgs::membership(tx, org.id, account.id).await? {
                None => {
                    store::orgs::add_member(tx, org.id, account.id, &[], journal.now()).await?;
                    store::orgs::set_member_roles(tx, org.id, account.id, &role_ids).await?;
                    membership_changed(journal, org.id, account.id, "added", &[], &wanted_keys);
                    changed = true;
                }
                Some(m) if m.roles != wanted_keys => {
                    store::orgs::set_member_roles(tx, org.id, account.id, &role_ids).await?;
                    membership_changed(journal, org.id, account.id, "roles_changed", &m.roles, &wanted_keys);
                    changed = true;
                }
                Some(_) => {}
            }
            let current_teams = store::teams::roles_of(tx, org.id, account.id).await?;
            for (slug, role) in &user.teams {
                let Some(team_id) = teams.get(slug) else { continue };
                if !current_teams.iter().any(|(t, r)| t == team_id && r == role) {
                    store::teams::put_member(tx, org.id, *team_id, account.id, role, journal.now()).await?;
                    journal.event(
                        Some(org.id),
                        "team",
                        team_id,
                        "members.changed",
                        "TeamMembersChanged",
                        json!({"team_id": team_id, "user_id": account.id, "action": "put", "role": role}),
                    );
                    changed = true;
                }
            }
            let wanted_domains: Vec<Uuid> = user.domains.iter().filter_map(|k| domains.get(k).copied()).collect();
            let current_domains = store::domains::assigned(tx, org.id, account.id).await?;
            for domain_id in wanted_domains.iter().filter(|d| !current_domains.contains(d)) {
                store::domains::assign(tx, org.id, *domain_id, account.id, journal.now()).await?;
                journal.event(
                    Some(org.id),
                    "domain",
                    domain_id,
                    "users.changed",
                    "DomainUsersChanged",
                    json!({"domain_id": domain_id, "user_id": account.id, "action": "assigned"}),
                );
                changed = true;
            }
            if options.prune {
                let wanted_teams: Vec<Uuid> = user.teams.keys().filter_map(|s| teams.get(s).copied()).collect();
                for (team_id, _) in current_teams.iter().filter(|(t, _)| !wanted_teams.contains(t)) {
                    store::teams::remove_member(tx, org.id, *team_id, account.id).await?;
                    changed = true;
                }
                for domain_id in current_domains.iter().filter(|d| !wanted_domains.contains(d)) {
                    store::domains::unassign(tx, org.id, *domain_id, account.id).await?;
                    changed = true;
                }
            }
            if changed {
                touched.members.entry(org.id).or_default().insert(account.id);
            }
            plan.note(if changed { Action::Update } else { Action::Unchanged }, what.clone());
            if let Some(last) = plan.changes.last_mut()
                && changed
                && journal.created_user(account.id)
            {
                last.action = Action::Create;
            }
        }
        if options.prune {
            let mut cursor = None;
            loop {
                let page = store::orgs::members(
                    tx,
                    org.id,
                    crate::model::PageRequest {
                        limit: 200,
                        after: cursor,
                    },
                )
                .await?;
                for member in page
                    .items
                    .iter()
                    .filter(|m| !listed.contains(&m.user.id) && !m.user.superuser)
                {
                    store::orgs::remove_member(tx, org.id, member.user.id).await?;
                    store::teams::remove_user(tx, org.id, member.user.id).await?;
                    store::domains::remove_user(tx, org.id, member.user.id).await?;
                    touched
                        .sessions
                        .extend(store::sessions::unrevoked_of_user_in_org(tx, member.user.id, org.id).await?);
                    touched.members.entry(org.id).or_default().insert(member.user.id);
                    membership_changed(journal, org.id, member.user.id, "removed", &member.roles, &[]);
                    plan.note(
                        Action::Delete,
                        format!("membership of {} in {}", member.user.email, org.slug),
                    );
                }
                match page.next_cursor.and_then(|c| c.parse().ok()) {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(())
    }

    async fn accounts(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        plan: &mut Plan,
        org: &Organisation,
        doc: &seed::Org,
        options: SeedOptions,
    ) -> Result<()> {
        for account in &doc.service_accounts {
            let what = format!("service account {}/{}", org.slug, account.client_id);
            let mut permissions = account.permissions.clone();
            permissions.sort();
            permissions.dedup();
            match store::service_accounts::by_client_id(tx, &account.client_id).await? {
                None => {
                    let digest = crypto::token_digest(&account.secret);
                    let created = store::service_accounts::insert(
                        tx,
                        org.id,
                        &account.client_id,
                        digest,
                        &account.name,
                        &permissions,
                        journal.now(),
                    )
                    .await?;
                    journal.event(
                        Some(org.id),
                        "identity",
                        created.id,
                        "created",
                        "IdentityCreated",
                        json!({"service_account_id": created.id, "client_id": account.client_id}),
                    );
                    plan.note(Action::Create, what);
                }
                Some((current, _)) if current.org_id != org.id => {
                    let mut problems = Problems::default();
                    problems.add(
                        "service_accounts.client_id",
                        format!("\"{}\" belongs to another organisation", account.client_id),
                    );
                    problems.finish()?;
                }
                Some((current, _)) if current.name != account.name || current.permissions != permissions => {
                    store::service_accounts::update(tx, current.id, &account.name, &permissions).await?;
                    journal.event(
                        Some(org.id),
                        "identity",
                        current.id,
                        "updated",
                        "IdentityPermissionsUpdated",
                        json!({"service_account_id": current.id, "permissions": permissions}),
                    );
                    journal.invalidate(Invalidation::Account { id: current.id });
                    plan.note(Action::Update, what);
                }
                Some(_) => plan.note(Action::Unchanged, what),
            }
        }
        if options.prune {
            for existing in store::service_accounts::list(tx, org.id).await? {
                if !doc.service_accounts.iter().any(|a| a.client_id == existing.client_id) {
                    store::service_accounts::delete(tx, org.id, existing.id).await?;
                    journal.event(
                        Some(org.id),
                        "identity",
                        existing.id,
                        "deleted",
                        "IdentityPermissionsDeleted",
                        json!({"service_account_id": existing.id}),
                    );
                    journal.invalidate(Invalidation::Account { id: existing.id });
                    plan.note(
                        Action::Delete,
                        format!("service account {}/{}", org.slug, existing.client_id),
                    );
                }
            }
        }
        Ok(())
    }
}
