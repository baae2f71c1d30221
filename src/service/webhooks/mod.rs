//! Webhooks of an organisation (`/orgs/{id}/webhooks`, its admins): a URL, the event types it
//! wants, and a signing secret shown once (stored sealed, since signing needs it back). The
//! organisation's events reach them from the outbox (`dispatcher`), signed per Standard Webhooks
//! (`signature`), to destinations checked against private ranges (`destination`).
pub mod destination;
pub mod dispatcher;
pub mod signature;

use super::authz::Caller;
use super::change::{Audit, Changes, Event};
use super::orgs::OrgService;
use super::{Result, ServiceError, no_randomness};
use crate::config::WebhookConfig;
use crate::crypto::seal::Sealer;
use crate::model::input::Invalid;
use crate::model::{Delivery, OrgId, Page, PageRequest, Webhook, WebhookId};
use crate::store::webhooks::{NewWebhook, WebhookChanges};
use crate::store::{self, Db};
use reqwest::Url;
use serde_json::json;
use std::sync::Arc;

/// Every event type an organisation's webhooks can receive (the CloudEvents `type`); a webhook
/// may also ask for `guildhall.<object>.*` or `*`. Events of no organisation (a session ended,
/// a user's own password change) reach no webhook.
pub const EVENT_TYPES: &[&str] = &[
    "guildhall.user.created",
    "guildhall.user.updated",
    "guildhall.user.deleted",
    "guildhall.user.mfa.enrolled",
    "guildhall.user.mfa.removed",
    "guildhall.user.mfa.reset",
    "guildhall.session.created",
    "guildhall.org.created",
    "guildhall.org.updated",
    "guildhall.org.deleted",
    "guildhall.org.membership.changed",
    "guildhall.org.invitation.created",
    "guildhall.org.invitation.accepted",
    "guildhall.org.invitation.revoked",
    "guildhall.role.created",
    "guildhall.role.updated",
    "guildhall.role.deleted",
    "guildhall.team.created",
    "guildhall.team.updated",
    "guildhall.team.deleted",
    "guildhall.team.members.changed",
    "guildhall.domain.created",
    "guildhall.domain.updated",
    "guildhall.domain.deleted",
    "guildhall.domain.users.changed",
    "guildhall.identity.created",
    "guildhall.identity.updated",
    "guildhall.identity.deleted",
    "guildhall.webhook.created",
    "guildhall.webhook.updated",
    "guildhall.webhook.deleted",
    "guildhall.webhook.disabled",
    "guildhall.application.created",
    "guildhall.application.updated",
    "guildhall.application.deleted",
];

/// Checks the event types a webhook asks for: known types, `guildhall.<object>.*` of a known
/// object, or `*`; at least one, each once.
pub fn parse_event_types(types: &[String]) -> std::result::Result<Vec<String>, String> {
    if types.is_empty() {
        return Err("must name at least one event type (or \"*\")".into());
    }
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for t in types.iter().map(|t| t.trim()) {
        let known = t == "*"
            || EVENT_TYPES.contains(&t)
            || t.strip_suffix('*')
                .filter(|prefix| prefix.ends_with('.') && prefix.matches('.').count() == 2)
                .is_some_and(|prefix| EVENT_TYPES.iter().any(|e| e.starts_with(prefix)));
        if !known {
            return Err(format!("unknown event type \"{t}\""));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

/// A webhook as an admin writes it (parsed at the edge).
pub struct WebhookInput {
    pub url: Url,
    pub event_types: Vec<String>,
}

/// What an update changes.
#[derive(Default)]
pub struct WebhookPatch {
    pub url: Option<Url>,
    pub event_types: Option<Vec<String>>,
    pub active: Option<bool>,
}

const NOT_FOUND: ServiceError = ServiceError::NotFound("webhook not found");

pub struct WebhookService {
    db: Db,
    changes: Changes,
    orgs: Arc<OrgService>,
    sealer: Arc<Sealer>,
    config: WebhookConfig,
}

impl WebhookService {
    pub fn new(db: Db, changes: Changes, orgs: Arc<OrgService>, sealer: Arc<Sealer>, config: WebhookConfig) -> Self {
        Self {
            db,
            changes,
            orgs,
            sealer,
            config,
        }
    }

    /// The destination, resolved: a 422 on `url` when it may not be reached.
    async fn reachable(&self, url: &Url) -> Result<()> {
        destination::check(url, self.config.allow_private)
            .await
            .map_err(|message| Invalid::field("url", message).into())
    }

    pub async fn list(&self, caller: &Caller, org: OrgId) -> Result<Vec<Webhook>> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        Ok(store::webhooks::list(&self.db, admin.org_id()).await?)
    }

    pub async fn get(&self, caller: &Caller, org: OrgId, id: WebhookId) -> Result<Webhook> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        store::webhooks::find(&self.db, admin.org_id(), id.uuid())
            .await?
            .ok_or(NOT_FOUND)
    }

    /// Creates a webhook; the answer carries its signing secret, which is never shown again.
    pub async fn create(&self, caller: &Caller, org: OrgId, input: WebhookInput) -> Result<(Webhook, String)> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        self.reachable(&input.url).await?;
        let secret = signature::new_secret().map_err(no_randomness)?;
        let org = admin.org_id();
        let mut change = self.changes.begin().await?;
        let new = NewWebhook {
            org_id: org,
            url: input.url.to_string(),
            event_types: input.event_types,
            secret: secret.clone(),
        };
        let webhook = store::webhooks::insert(change.tx(), &self.sealer, new, change.now()).await?;
        change.event(
            org,
            Event::WebhookCreated {
                webhook: webhook.clone(),
            },
        );
        change.audit(
            Audit::new(&caller.actor(), "webhook.create")
                .org(org)
                .target("webhook", webhook.id)
                .detail(json!({"url": webhook.url, "event_types": webhook.event_types})),
        );
        change.commit().await?;
        Ok((webhook, secret))
    }

    /// Changes the URL, the event types, or whether it is active (enabling forgets the failures
    /// that disabled it).
    pub async fn update(&self, caller: &Caller, org: OrgId, id: WebhookId, patch: WebhookPatch) -> Result<Webhook> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        let org = admin.org_id();
        let before = store::webhooks::find(&self.db, org, id.uuid())
            .await?
            .ok_or(NOT_FOUND)?;
        if let Some(url) = &patch.url {
            self.reachable(url).await?;
        }
        let mut change = self.changes.begin().await?;
        let changes = WebhookChanges {
            url: patch.url.map(|u| u.to_string()),
            event_types: patch.event_types,
            active: patch.active,
        };
        let after = store::webhooks::update(change.tx(), id.uuid(), changes, change.now()).await?;
        if patch.active == Some(false) {
            store::webhooks::give_up_pending(change.tx(), id.uuid(), "the webhook was disabled").await?;
        }
        change.audit(
            Audit::new(&caller.actor(), "webhook.update")
                .org(org)
                .target("webhook", id)
                .detail(json!({"url": after.url, "event_types": after.event_types, "active": after.active})),
        );
        change.event(
            org,
            Event::WebhookUpdated {
                before,
                after: after.clone(),
            },
        );
        change.commit().await?;
        Ok(after)
    }

    pub async fn delete(&self, caller: &Caller, org: OrgId, id: WebhookId) -> Result<()> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        let org = admin.org_id();
        let webhook = store::webhooks::find(&self.db, org, id.uuid())
            .await?
            .ok_or(NOT_FOUND)?;
        let mut change = self.changes.begin().await?;
        if !store::webhooks::delete(change.tx(), org, id.uuid()).await? {
            return Err(NOT_FOUND);
        }
        change.event(org, Event::WebhookDeleted { webhook });
        change.audit(
            Audit::new(&caller.actor(), "webhook.delete")
                .org(org)
                .target("webhook", id),
        );
        change.commit().await
    }

    /// A webhook's deliveries, oldest first: status, attempts, the last answer, the next attempt.
    pub async fn deliveries(
        &self,
        caller: &Caller,
        org: OrgId,
        id: WebhookId,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        let webhook = self.get(caller, org, id).await?;
        Ok(store::webhooks::deliveries(&self.db, webhook.id, page).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_known_types_objects_or_everything() {
        let ok = |t: &[&str]| parse_event_types(&t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            ok(&["guildhall.user.created", "guildhall.user.created"]).unwrap(),
            ["guildhall.user.created"]
        );
        assert!(ok(&["guildhall.team.*"]).is_ok());
        assert!(ok(&["*"]).is_ok());
        for bad in [
            &[][..],
            &["user.created"],
            &["guildhall.*"],
            &["guildhall.nothing.*"],
            &["guildhall.user.exploded"],
        ] {
            assert!(ok(bad).is_err(), "{bad:?}");
        }
    }
}
