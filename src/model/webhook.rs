//! Webhooks and their deliveries.
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Where an organisation's events are delivered (the signing secret is never part of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    /// CloudEvents types (`guildhall.user.created`), `guildhall.<object>.*`, or `*`.
    pub event_types: Vec<String>,
    pub active: bool,
    /// Why it was disabled (`persistent_failure`), when it was.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; `None` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether an event of `org` and `event_type` is delivered to this webhook (its own
    /// organisation's events of a type it wants; an event of no organisation goes to none).
    pub fn receives(&self, org: Option<Uuid>, event_type: &str) -> bool {
        org == Some(self.org_id) && self.wants(event_type)
    }

    /// Whether the webhook subscribes to events of `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.iter().any(|pattern| {
            pattern == "*"
                || pattern == event_type
                || pattern
                    .strip_suffix('*')
                    .is_some_and(|prefix| prefix.ends_with('.') && event_type.starts_with(prefix))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Delivered,
    /// Given up: retried for the whole window, or its webhook was disabled or deleted.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// One event for one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The outbox event's id: the `webhook-id` header, the same on every retry.
    pub event_id: Uuid,
    pub event_type: String,
    /// The body as sent, byte for byte, on every attempt.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// The receiver's last HTTP status; `None` when it never answered.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exactly_by_object_or_everything() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let hook = |types: &[&str]| Webhook {
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            url: String::new(),
            event_types: types.iter().map(|t| (*t).to_owned()).collect(),
            active: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        assert!(hook(&["guildhall.user.created"]).wants("guildhall.user.created"));
        assert!(!hook(&["guildhall.user.created"]).wants("guildhall.user.deleted"));
        assert!(hook(&["guildhall.team.*"]).wants("guildhall.team.members.changed"));
        assert!(!hook(&["guildhall.team.*"]).wants("guildhall.teams.created"));
        assert!(hook(&["*"]).wants("guildhall.org.membership.changed"));
        assert!(!hook(&[]).wants("guildhall.user.created"));
    }
}
