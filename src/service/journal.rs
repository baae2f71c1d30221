//! What a change leaves besides itself: CloudEvents for the outbox and audit entries, written in
//! the change's transaction, and cache invalidations, broadcast once it has committed
//! (`Core::commit`). An event is therefore never lost and never sent for a change that rolled back.
use crate::model::{AuditEntry, StoredEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

/// What the caches of every replica must forget after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Invalidation {
    /// Sessions revoked; their tokens are refused until `until`.
    Sessions { ids: Vec<Uuid>, until: DateTime<Utc> },
    /// Some users' memberships in one organisation changed.
    Members { org: Uuid, users: Vec<Uuid> },
    /// A user's account changed (every organisation).
    User { user: Uuid },
    /// Something every member of an organisation sees changed.
    Org { org: Uuid },
    /// A service account changed or went away.
    Account { id: Uuid },
}

/// Who did something, and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub ip: Option<String>,
}

#[derive(Debug)]
pub struct Journal {
    now: DateTime<Utc>,
    source: String,
    pub(super) events: Vec<StoredEvent>,
    pub(super) audit: Vec<AuditEntry>,
    pub(super) invalidations: Vec<Invalidation>,
}

impl Journal {
    pub fn new(now: DateTime<Utc>, source: &str) -> Self {
        Self {
            now,
            source: source.to_owned(),
            events: Vec::new(),
            audit: Vec::new(),
            invalidations: Vec::new(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// An event on NATS subject `auth.<object>.<id>.<action>` (seed 001's subjects), e.g.
    /// `("user", id, "created", "UserCreated")`.
    pub fn event(
        &mut self,
        org: Option<Uuid>,
        object: &str,
        id: impl std::fmt::Display,
        action: &str,
        name: &str,
        data: Value,
    ) {
        let event_id = Uuid::now_v7();
        let subject = format!("auth.{object}.{id}.{action}");
        let event_type = format!("guildhall.{object}.{action}");
        let cloud_event = json!({
            "specversion": "1.0",
            "id": event_id,
            "source": self.source,
            "type": event_type,
            "subject": format!("{object}/{id}"),
            "time": self.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "datacontenttype": "application/json",
            "eventname": name,
            "orgid": org,
            "data": data,
        });
        self.events.push(StoredEvent {
            id: event_id,
            org_id: org,
            subject,
            event_type,
            payload: cloud_event.to_string(),
            created_at: self.now,
            published_at: None,
            attempts: 0,
        });
    }

    pub fn audit(
        &mut self,
        org: Option<Uuid>,
        actor: &Actor,
        action: &str,
        target: Option<(&str, String)>,
        detail: Option<Value>,
    ) {
        self.audit_outcome(org, actor, action, target, "success", detail);
    }

    pub fn audit_outcome(
        &mut self,
        org: Option<Uuid>,
        actor: &Actor,
        action: &str,
        target: Option<(&str, String)>,
        outcome: &str,
        detail: Option<Value>,
    ) {
        let (target_type, target_id) = match target {
            Some((kind, id)) => (Some(kind.to_owned()), Some(id)),
            None => (None, None),
        };
        self.audit.push(AuditEntry {
            id: Uuid::now_v7(),
            org_id: org,
            actor_id: actor.id,
            actor: actor.name.clone(),
            action: action.to_owned(),
            target_type,
            target_id,
            ip: actor.ip.clone(),
            outcome: outcome.to_owned(),
            detail,
            created_at: self.now,
        });
    }

    pub fn invalidate(&mut self, invalidation: Invalidation) {
        self.invalidations.push(invalidation);
    }
}
