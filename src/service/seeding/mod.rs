//! Applies a seed document idempotently, in one transaction: objects match by slug / key / email /
//! client id; what differs is updated; with `prune`, what the document no longer names inside the
//! organisations it lists is deleted. A plan is the same run rolled back, so it cannot differ from
//! what apply does. Changed memberships bump `mv`, and every change is journaled (events, audit).
mod access;
mod people;
mod structure;

use super::core::Core;
use super::journal::{Actor, Invalidation, Journal};
use super::{FieldError, Result, ServiceError};
use crate::crypto::password;
use crate::store::{self, Tx};
use seed::Document;
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
pub(super) struct Touched {
    members: HashMap<Uuid, BTreeSet<Uuid>>,
    users: BTreeSet<Uuid>,
    /// Accounts this run created.
    created: BTreeSet<Uuid>,
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
}
