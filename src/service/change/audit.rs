//! Audit entries: who did what to which object, from where, and how it ended. Built with
//! `Audit::new(actor, action)` and its setters, then handed to `Change::audit`.
use crate::model::AuditEntry;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// Who did something, and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub ip: Option<String>,
}

impl Actor {
    /// A user acting for themselves (their email names them).
    pub fn user(id: Uuid, email: &str, ip: Option<String>) -> Self {
        Self {
            id: Some(id),
            name: Some(email.to_owned()),
            ip,
        }
    }

    /// Something that is not a user (a command, a background task).
    pub fn system(name: &str) -> Self {
        Self {
            name: Some(name.to_owned()),
            ..Self::default()
        }
    }
}

/// One audit entry in the making.
#[derive(Debug, Clone)]
pub struct Audit {
    org: Option<Uuid>,
    actor: Actor,
    action: String,
    target: Option<(String, String)>,
    outcome: &'static str,
    detail: Option<Value>,
}

impl Audit {
    /// A successful `action` (e.g. `team.create`) by `actor`.
    pub fn new(actor: &Actor, action: &str) -> Self {
        Self {
            org: None,
            actor: actor.clone(),
            action: action.to_owned(),
            target: None,
            outcome: "success",
            detail: None,
        }
    }

    /// The organisation it happened in.
    pub fn org(mut self, org: impl Into<Option<Uuid>>) -> Self {
        self.org = org.into();
        self
    }

    /// The object acted on, e.g. `("team", id)`.
    pub fn target(mut self, kind: &str, id: impl ToString) -> Self {
        self.target = Some((kind.to_owned(), id.to_string()));
        self
    }

    /// How it ended when not `success` (`failure`, `paced`, ...).
    pub fn outcome(mut self, outcome: &'static str) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }

    pub(super) fn entry(self, now: DateTime<Utc>) -> AuditEntry {
        let (target_type, target_id) = match self.target {
            Some((kind, id)) => (Some(kind), Some(id)),
            None => (None, None),
        };
        AuditEntry {
            id: Uuid::now_v7(),
            org_id: self.org,
            actor_id: self.actor.id,
            actor: self.actor.name,
            action: self.action,
            target_type,
            target_id,
            ip: self.actor.ip,
            outcome: self.outcome.to_owned(),
            detail: self.detail,
            created_at: now,
        }
    }
}
