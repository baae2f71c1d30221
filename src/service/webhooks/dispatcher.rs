//! Delivers the outbox to webhooks, in the background, every replica sharing the work.
//!
//! 1. **Fan-out**: outbox events not yet fanned out (`outbox_events.webhooks_at` empty; an event
//!    no active webhook receives is written fanned out, see `Change::commit`) are
//!    claimed in one short transaction (on PostgreSQL `FOR UPDATE SKIP LOCKED`); each becomes one
//!    delivery row per active webhook of its organisation that wants its type, and is marked.
//!    Requests never wait for this, and an event of a change that rolled back never exists.
//! 2. **Attempts**: due deliveries are claimed one by one (a lease on `next_attempt_at`, so two
//!    replicas never send one at once) and sent concurrently, signed per Standard Webhooks, by a
//!    client that follows no redirects, uses no proxy, gives up after `AUTH_WEBHOOK_TIMEOUT_MS`
//!    and resolves hosts through `destination::Guard`. A 2xx answer delivers; anything else
//!    (another status, a refused address, a receiver that hangs) fails the attempt, and the next
//!    waits `AUTH_WEBHOOK_RETRY_BASE` doubled per attempt (at most an hour) for as long as
//!    `AUTH_WEBHOOK_RETRY_WINDOW` (a day) from the event. A delivery given up while its webhook
//!    delivered nothing since the delivery was made is persistent failure: the webhook is
//!    disabled (`Event::WebhookDisabled`, audited) and its pending deliveries are given up.
use super::destination::{self, Guard};
use super::signature;
use crate::clock::{Clock, SharedClock, SystemClock};
use crate::config::WebhookConfig;
use crate::crypto::seal::Sealer;
use crate::metrics::Metrics;
use crate::model::{Delivery, DeliveryStatus, StoredEvent, Webhook};
use crate::service::change::{Actor, Audit, Changes, Event};
use crate::store::webhooks::Attempt;
use crate::store::{self, Db};
use chrono::Duration;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Events fanned out per transaction, and deliveries attempted per round.
const FAN_OUT_BATCH: u64 = 200;
const ATTEMPT_BATCH: u64 = 32;
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(200);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::hours(1);
/// Why a webhook is disabled by the dispatcher.
pub const PERSISTENT_FAILURE: &str = "persistent_failure";

pub struct Dispatcher {
    db: Db,
    clock: SharedClock,
    changes: Changes,
    sealer: Arc<Sealer>,
    config: WebhookConfig,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
}

/// How an attempt ended.
enum Outcome {
    Delivered(u16),
    Failed { status: Option<u16>, error: String },
}

/// The wait after `attempts` failed attempts: `base`, doubled each time, at most an hour.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
    base.checked_mul(1 << doublings).unwrap_or(MAX_BACKOFF).min(MAX_BACKOFF)
}

/// The body a webhook receives (Standard Webhooks' `type`, `timestamp`, `data`), plus the event's
/// `id` (also the `webhook-id` header) and NATS `subject`.
fn body(event: &StoredEvent) -> String {
    let cloud_event: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
    json!({
        "type": event.event_type,
        "timestamp": cloud_event["time"],
        "data": cloud_event["data"],
        "id": event.id,
        "subject": event.subject,
        "orgid": event.org_id,
    })
    .to_string()
}

/// An error and its causes, in one line (the resolver's refusal is a cause of reqwest's error).
fn describe(error: &reqwest::Error, timeout: std::time::Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}

impl Dispatcher {
    pub fn new(
        db: Db,
        clock: SharedClock,
        changes: Changes,
        sealer: Arc<Sealer>,
        config: WebhookConfig,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .dns_resolver(Guard {
                allow_private: config.allow_private,
            })
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("guildhall-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            db,
            clock,
            changes,
            sealer,
            config,
            metrics,
            client,
        })
    }

    pub fn spawn(self: Arc<Self>) {
        tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(0) => tokio::time::sleep(IDLE_POLL).await,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(error = format!("{error:#}"), "webhook delivery failed; retrying");
                        tokio::time::sleep(IDLE_POLL * 5).await;
                    }
                }
            }
        });
    }

    /// One round: fan out what is new, then attempt what is due; how much it did.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let fanned = self.fan_out().await?;
        let attempted = self.attempt_due().await?;
        Ok(fanned + attempted)
    }

    async fn fan_out(&self) -> anyhow::Result<usize> {
        let tx = store::begin(&self.db).await?;
        let events = store::webhooks::unfanned(&tx, FAN_OUT_BATCH).await?;
        if events.is_empty() {
            return Ok(0);
        }
        let hooks = store::webhooks::active_in(&tx, events.iter().filter_map(|e| e.org_id)).await?;
        let now = self.clock.now();
        let mut deliveries = Vec::new();
        for event in &events {
            let wanted = hooks.iter().filter(|h| h.receives(event.org_id, &event.event_type));
            for hook in wanted {
                deliveries.push(Delivery {
                    id: uuid::Uuid::now_v7(),
                    webhook_id: hook.id,
                    event_id: event.id,
                    event_type: event.event_type.clone(),
                    payload: body(event),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    last_status: None,
                    last_error: None,
                    next_attempt_at: Some(now),
                    last_attempt_at: None,
                    created_at: now,
                });
            }
        }
        let ids: Vec<_> = events.iter().map(|e| e.id).collect();
        store::webhooks::insert_deliveries(&tx, deliveries).await?;
        store::webhooks::mark_fanned(&tx, &ids, now).await?;
        store::commit(tx).await?;
        Ok(ids.len())
    }

    async fn attempt_due(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let due = store::webhooks::due(&self.db, now, ATTEMPT_BATCH).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut ids: Vec<_> = due.iter().map(|d| d.webhook_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let hooks: HashMap<_, _> = store::webhooks::with_secrets(&self.db, &self.sealer, &ids)
            .await?
            .into_iter()
            .map(|(hook, secret)| (hook.id, (hook, secret)))
            .collect();
        let lease = now + Duration::from_std(self.config.timeout * 2)? + Duration::seconds(5);
        let mut attempts = tokio::task::JoinSet::new();
        for delivery in due {
            let Some((hook, secret)) = hooks.get(&delivery.webhook_id) else {
                continue;
            };
            if !store::webhooks::claim(&self.db, &delivery, now, lease).await? {
                continue;
            }
            let (client, hook, secret) = (self.client.clone(), hook.clone(), secret.clone());
            let (allow_private, timeout) = (self.config.allow_private, self.config.timeout);
            attempts.spawn(async move {
                let outcome = send(&client, &hook, &secret, &delivery, allow_private, timeout).await;
                (delivery, hook, outcome)
            });
        }
        let mut done = 0;
        while let Some(joined) = attempts.join_next().await {
            let (delivery, hook, outcome) = joined?;
            self.record(&delivery, &hook, outcome).await?;
            done += 1;
        }
        Ok(done)
    }

    async fn record(&self, delivery: &Delivery, hook: &Webhook, outcome: Outcome) -> anyhow::Result<()> {
        let now = self.clock.now();
        let attempts = delivery.attempts + 1;
        let (status, error) = match outcome {
            Outcome::Delivered(status) => {
                let attempt = Attempt {
                    status: DeliveryStatus::Delivered,
                    attempts,
                    last_status: Some(i32::from(status)),
                    last_error: None,
                    next_attempt_at: None,
                    at: now,
                };
                store::webhooks::record(&self.db, delivery.id, attempt).await?;
                store::webhooks::set_failing(&self.db, hook.id, None).await?;
                self.metrics.webhook_attempt("delivered");
                return Ok(());
            }
            Outcome::Failed { status, error } => (status, error),
        };
        let next = now + backoff(self.config.retry_base, attempts);
        let exhausted = next > delivery.created_at + self.config.retry_window;
        let attempt = Attempt {
            status: if exhausted {
                DeliveryStatus::Failed
            } else {
                DeliveryStatus::Pending
            },
            attempts,
            last_status: status.map(i32::from),
            last_error: Some(error),
            next_attempt_at: (!exhausted).then_some(next),
            at: now,
        };
        if !exhausted {
            store::webhooks::record(&self.db, delivery.id, attempt).await?;
            store::webhooks::set_failing(&self.db, hook.id, Some(now)).await?;
            self.metrics.webhook_attempt("failed");
            return Ok(());
        }
        // Given up: recorded, and the webhook disabled when this is persistent failure, in one
        // change (whoever sees the delivery failed sees the webhook disabled).
        let mut change = self.changes.begin().await?;
        store::webhooks::record(change.tx(), delivery.id, attempt).await?;
        store::webhooks::set_failing(change.tx(), hook.id, Some(now)).await?;
        let current = store::webhooks::find(change.tx(), hook.org_id, hook.id).await?;
        let persistent = current
            .filter(|h| h.active)
            .and_then(|h| h.failing_since)
            .is_some_and(|since| since <= delivery.created_at);
        let disabled = if persistent {
            store::webhooks::disable(change.tx(), hook.id, PERSISTENT_FAILURE, change.now()).await?
        } else {
            None
        };
        if let Some(webhook) = &disabled {
            let audit = Audit::new(&Actor::system("guildhall webhooks"), "webhook.disable")
                .org(webhook.org_id)
                .target("webhook", webhook.id)
                .detail(json!({"reason": PERSISTENT_FAILURE, "failing_since": webhook.failing_since}));
            change.audit(audit);
            let event = Event::WebhookDisabled {
                webhook: webhook.clone(),
                reason: PERSISTENT_FAILURE.to_owned(),
            };
            change.event(webhook.org_id, event);
        }
        change.commit().await?;
        self.metrics.webhook_attempt("exhausted");
        if let Some(webhook) = disabled {
            self.metrics.webhook_disabled();
            tracing::warn!(webhook = %webhook.id, url = %webhook.url, "webhook disabled after failing for the whole retry window");
        }
        Ok(())
    }
}

/// One signed attempt.
async fn send(
    client: &reqwest::Client,
    hook: &Webhook,
    secret: &SecretString,
    delivery: &Delivery,
    allow_private: bool,
    timeout: std::time::Duration,
) -> Outcome {
    let failed = |error: String| Outcome::Failed { status: None, error };
    let Ok(url) = Url::parse(&hook.url) else {
        return failed("the URL does not parse".into());
    };
    // The resolver checks names; an address written in the URL is checked here.
    let literal = match url.host() {
        Some(url::Host::Ipv4(a)) => Some(std::net::IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(std::net::IpAddr::V6(a)),
        _ => None,
    };
    if !allow_private && literal.is_some_and(destination::refused) {
        return failed("the address is private, loopback or link-local".into());
    }
    // Receivers compare the timestamp with their own clock: it is always the real time.
    let timestamp = SystemClock.now().timestamp();
    let id = delivery.event_id.to_string();
    let Some(signature) = signature::sign(secret.expose_secret(), &id, timestamp, &delivery.payload) else {
        return failed("the stored secret is not a signing secret".into());
    };
    let request = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone());
    match request.send().await {
        Ok(response) if response.status().is_success() => Outcome::Delivered(response.status().as_u16()),
        Ok(response) => Outcome::Failed {
            status: Some(response.status().as_u16()),
            error: format!("the receiver answered {}", response.status()),
        },
        Err(error) => failed(describe(&error, timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_an_hour_and_last_a_day() {
        let base = Duration::seconds(10);
        assert_eq!(backoff(base, 1), Duration::seconds(10));
        assert_eq!(backoff(base, 2), Duration::seconds(20));
        assert_eq!(backoff(base, 5), Duration::seconds(160));
        assert_eq!(backoff(base, 12), Duration::hours(1));
        assert_eq!(backoff(base, 10_000), Duration::hours(1));
        // With the defaults, a failing delivery is tried for a day: 10 s, 20 s, ... an hour apart.
        let (mut at, mut attempts) = (Duration::zero(), 0);
        while at + backoff(base, attempts + 1) <= Duration::days(1) {
            attempts += 1;
            at += backoff(base, attempts);
        }
        assert!((25..=35).contains(&attempts), "{attempts} attempts");
        assert!(
            at > Duration::hours(23),
            "the last retry is in the day's last hour: {at}"
        );
    }
}
