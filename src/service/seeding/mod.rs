//! Applies a seed document idempotently, in one transaction: objects match by slug / key / email /
//! client id; what differs is updated; with `prune`, what the document no longer names inside the
//! organisations it lists is deleted. A plan is the same run rolled back, so it cannot differ from
//! what apply does. Changed memberships bump `mv`, and every change is journaled (events, audit).
mod access;
mod apps;
mod bulk;
mod email_domains;
mod people;
mod structure;

use super::authz::Caller;
use super::change::{Actor, Audit, Change, Changes, Event};
use super::{FieldError, Result, ServiceError};
use crate::config::PasswordPolicy;
use crate::crypto::password::Hasher;
use crate::crypto::seal::Sealer;
use crate::model::AppRules;
use crate::store;
use seed::Document;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;
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
pub struct Step {
    pub action: Action,
    /// What, e.g. `team demo/general`.
    pub object: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Step>,
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
        self.changes.push(Step { action, object });
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
    changes: Changes,
    hasher: Arc<Hasher>,
    policy: PasswordPolicy,
    sealer: Arc<Sealer>,
    app_rules: AppRules,
}

/// One application of a document: the change it makes, the plan it reports, and what it has
/// done so far.
pub(super) struct Run<'a> {
    change: Change,
    plan: Plan,
    options: SeedOptions,
    hasher: &'a Arc<Hasher>,
    sealer: &'a Sealer,
    app_rules: &'a AppRules,
    /// Accounts this run created.
    created: BTreeSet<Uuid>,
}

impl SeedService {
    pub fn new(
        changes: Changes,
        hasher: Arc<Hasher>,
        policy: PasswordPolicy,
        sealer: Arc<Sealer>,
        app_rules: AppRules,
    ) -> Self {
        Self {
            changes,
            hasher,
            policy,
            sealer,
            app_rules,
        }
    }

    /// Parses and validates a document; every problem is a 422 field error named by its path.
    pub fn parse(&self, text: &str) -> Result<Document> {
        let policy = self.policy;
        let weak = move |p: &str| policy.check(p).err();
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

    /// `POST /admin/seed`: a superuser parses and applies (or plans) a document.
    pub async fn apply_as(&self, caller: &Caller, text: &str, options: SeedOptions) -> Result<Plan> {
        caller.superuser()?;
        let document = self.parse(text)?;
        self.apply(&caller.actor(), &document, options).await
    }

    /// Applies (or, with `dry_run`, plans) a validated document.
    pub async fn apply(&self, actor: &Actor, document: &Document, options: SeedOptions) -> Result<Plan> {
        let change = self.changes.begin().await?;
        store::seed_lock(change.tx()).await?;
        let mut run = Run {
            change,
            plan: Plan::default(),
            options,
            hasher: &self.hasher,
            sealer: &self.sealer,
            app_rules: &self.app_rules,
            created: BTreeSet::new(),
        };
        for org in &document.orgs {
            run.org(org).await?;
        }
        let Run { mut change, plan, .. } = run;
        if options.dry_run {
            // Dropping the change rolls it back: a plan is the same run, undone.
            return Ok(plan);
        }
        if plan.changes_anything() {
            let summary = json!({"created": plan.count(Action::Create), "updated": plan.count(Action::Update), "deleted": plan.count(Action::Delete)});
            change.audit(Audit::new(actor, "seed.apply").detail(summary));
        }
        change.commit().await?;
        if plan.count(Action::Create) + plan.count(Action::Update) > BULK {
            self.changes.checkpoint().await?;
        }
        Ok(plan)
    }
}

/// Past this many rows created or updated, a seed run checkpoints SQLite's WAL afterwards.
const BULK: usize = 1_000;

impl Run<'_> {
    async fn org(&mut self, doc: &seed::Org) -> Result<()> {
        let now = self.change.now();
        let tx = self.change.tx();
        let org = match store::orgs::find_by_slug(tx, &doc.slug).await? {
            None => {
                let org = store::orgs::insert(tx, doc.id, &doc.slug, &doc.name, now).await?;
                let org = if doc.active && doc.logo_url.is_none() {
                    org
                } else {
                    let changes = store::orgs::OrgUpdate {
                        active: Some(doc.active),
                        logo_url: Some(doc.logo_url.clone()),
                        ..Default::default()
                    };
                    store::orgs::update(tx, org.id, changes, now).await?
                };
                self.change
                    .event(org.id, Event::OrganizationCreated { org: org.clone() });
                self.plan.note(Action::Create, format!("org {}", doc.slug));
                org
            }
            Some(org) if org.name != doc.name || org.active != doc.active || org.logo_url != doc.logo_url => {
                let changes = store::orgs::OrgUpdate {
                    name: Some(doc.name.clone()),
                    active: Some(doc.active),
                    logo_url: Some(doc.logo_url.clone()),
                    require_mfa: None,
                };
                let updated = store::orgs::update(tx, org.id, changes, now).await?;
                self.change.org_changed(org.id);
                self.change.event(
                    org.id,
                    Event::OrganizationUpdated {
                        before: org,
                        after: updated.clone(),
                    },
                );
                self.plan.note(Action::Update, format!("org {}", doc.slug));
                updated
            }
            Some(org) => {
                self.plan.note(Action::Unchanged, format!("org {}", doc.slug));
                org
            }
        };
        self.roles(&org, doc).await?;
        let teams = self.teams(&org, doc).await?;
        let domains = self.domains(&org, doc).await?;
        self.users(&org, doc, &teams, &domains).await?;
        self.accounts(&org, doc).await?;
        self.applications(&org, doc).await?;
        self.email_domains(&org, doc).await?;
        self.providers(&org, doc).await
    }
}
