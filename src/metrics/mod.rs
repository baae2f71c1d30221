//! Prometheus metrics (`prometheus-client`), one registry per running application, served at
//! `GET /metrics` in the Prometheus text format (or on `AUTH_METRICS_ADDR` alone). What records
//! on the hot paths is a plain atomic increment on a handle made once here (a cache hit, a
//! validation) or one read-locked lookup per request (`http`). What is cheaper to read than to
//! keep up to date — the hashing queue, the database pool, the outbox — is read at scrape time
//! (`refresh`). Every name is documented in the README ("Metrics").
pub mod http;

use crate::store::{self, Db};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// The `Content-Type` of what `render` writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// Seconds, from a millisecond to about a minute.
fn wait_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 17)
}

pub struct Metrics {
    registry: Registry,
    pub http: Arc<http::HttpMetrics>,
    logins: Family<Outcome, Counter>,
    validations: Family<Outcome, Counter>,
    valid: Counter,
    token_hit: Counter,
    token_miss: Counter,
    context_hit: Counter,
    context_miss: Counter,
    hash_queue: Gauge,
    outbox_unpublished: Gauge,
    outbox_oldest: Gauge,
    publish_lag: Histogram,
    relay_errors: Counter,
    notify_errors: Counter,
    webhook_deliveries: Family<Outcome, Counter>,
    webhooks_disabled: Counter,
    webhook_pending: Gauge,
    pool: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    refresh_errors: Counter,
}

impl Metrics {
    /// A registry with every metric; `hash_wait` is the password hasher's own histogram.
    pub fn new(hash_wait: Histogram) -> Self {
        let mut registry = Registry::default();
        let http = Arc::new(http::HttpMetrics::default());
        registry.register_collector(Box::new(http::Collector(Arc::clone(&http))));
        let logins = Family::<Outcome, Counter>::default();
        registry.register(
            "guildhall_logins",
            "Password logins on every route, by outcome",
            logins.clone(),
        );
        let validations = Family::<Outcome, Counter>::default();
        registry.register(
            "guildhall_validations",
            "POST /auth/validate answers: valid, or the reason the token was refused",
            validations.clone(),
        );
        let valid = validations.get_or_create_owned(&Outcome { outcome: "valid" });
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "guildhall_cache_requests",
            "Look-ups of the verified-token and context caches, by result",
            cache.clone(),
        );
        let counter = |cache_name, result| {
            cache.get_or_create_owned(&CacheLabels {
                cache: cache_name,
                result,
            })
        };
        let (token_hit, token_miss) = (counter("verified_token", "hit"), counter("verified_token", "miss"));
        let (context_hit, context_miss) = (counter("context", "hit"), counter("context", "miss"));
        let hash_queue = Gauge::default();
        registry.register(
            "guildhall_hash_queue_depth",
            "Password hashes waiting for a hashing thread",
            hash_queue.clone(),
        );
        registry.register(
            "guildhall_hash_wait_seconds",
            "How long password hashes waited for a hashing thread",
            hash_wait,
        );
        let outbox_unpublished = Gauge::default();
        registry.register(
            "guildhall_outbox_unpublished",
            "Events in the outbox not yet published to NATS",
            outbox_unpublished.clone(),
        );
        let outbox_oldest = Gauge::default();
        registry.register(
            "guildhall_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished event (0 when none)",
            outbox_oldest.clone(),
        );
        let publish_lag = Histogram::new(wait_buckets());
        registry.register(
            "guildhall_outbox_publish_lag_seconds",
            "From an event's commit to NATS having it",
            publish_lag.clone(),
        );
        let relay_errors = Counter::default();
        registry.register(
            "guildhall_relay_errors",
            "Failed attempts to publish events to NATS",
            relay_errors.clone(),
        );
        let notify_errors = Counter::default();
        registry.register(
            "guildhall_notify_errors",
            "Failed invalidation notifications between replicas (PostgreSQL NOTIFY sent or LISTEN lost)",
            notify_errors.clone(),
        );
        let webhook_deliveries = Family::<Outcome, Counter>::default();
        registry.register(
            "guildhall_webhook_attempts",
            "Webhook delivery attempts: delivered, failed (retried later) or exhausted (given up)",
            webhook_deliveries.clone(),
        );
        let webhooks_disabled = Counter::default();
        registry.register(
            "guildhall_webhooks_disabled",
            "Webhooks disabled after failing for the whole retry window",
            webhooks_disabled.clone(),
        );
        let webhook_pending = Gauge::default();
        registry.register(
            "guildhall_webhook_deliveries_pending",
            "Webhook deliveries waiting for their next attempt",
            webhook_pending.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "guildhall_db_pool_connections",
            "Database connections of this replica's pool, idle or in use",
            pool.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "guildhall_db_pool_max_connections",
            "The most connections the pool opens",
            pool_max.clone(),
        );
        let refresh_errors = Counter::default();
        registry.register(
            "guildhall_metrics_refresh_errors",
            "Scrapes whose database-backed values could not be read (they keep the last ones)",
            refresh_errors.clone(),
        );
        Self {
            registry,
            http,
            logins,
            validations,
            valid,
            token_hit,
            token_miss,
            context_hit,
            context_miss,
            hash_queue,
            outbox_unpublished,
            outbox_oldest,
            publish_lag,
            relay_errors,
            notify_errors,
            webhook_deliveries,
            webhooks_disabled,
            webhook_pending,
            pool,
            pool_max,
            refresh_errors,
        }
    }

    /// A password login's outcome: `success`, `invalid_credentials`, `locked`, `overloaded` or
    /// `error`.
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&Outcome { outcome }).inc();
    }

    /// `/auth/validate`'s answer: `None` for valid, else the reason.
    pub fn validation(&self, refused: Option<&'static str>) {
        match refused {
            None => {
                self.valid.inc();
            }
            Some(outcome) => {
                self.validations.get_or_create(&Outcome { outcome }).inc();
            }
        }
    }

    pub fn verified_token_cache(&self, hit: bool) {
        if hit { &self.token_hit } else { &self.token_miss }.inc();
    }

    pub fn context_cache(&self, hit: bool) {
        if hit { &self.context_hit } else { &self.context_miss }.inc();
    }

    /// An event published `lag` after it was committed.
    pub fn published(&self, lag: chrono::Duration) {
        let seconds = lag.num_milliseconds().max(0) as f64 / 1000.0;
        self.publish_lag.observe(seconds);
    }

    pub fn relay_error(&self) {
        self.relay_errors.inc();
    }

    pub fn notify_error(&self) {
        self.notify_errors.inc();
    }

    /// A webhook delivery attempt: `delivered`, `failed` or `exhausted`.
    pub fn webhook_attempt(&self, outcome: &'static str) {
        self.webhook_deliveries.get_or_create(&Outcome { outcome }).inc();
    }

    /// Webhook deliveries waiting for their next attempt (read at scrape time).
    pub fn webhook_pending(&self, count: u64) {
        self.webhook_pending.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub fn webhook_disabled(&self) {
        self.webhooks_disabled.inc();
    }

    /// Reads what is read at scrape time: the hashing queue, the pool, the outbox and pending
    /// deliveries. A database that does not answer leaves the last values (and is counted).
    pub async fn refresh(&self, db: &Db, hash_queue: usize, now: chrono::DateTime<chrono::Utc>) {
        self.hash_queue.set(i64::try_from(hash_queue).unwrap_or(i64::MAX));
        let (size, idle, max) = store::pool_stats(db);
        self.pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::from(idle));
        self.pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(size.saturating_sub(idle)));
        self.pool_max.set(i64::from(max));
        match store::events::unpublished(db).await {
            Ok((count, oldest)) => {
                self.outbox_unpublished.set(i64::try_from(count).unwrap_or(i64::MAX));
                self.outbox_oldest
                    .set(oldest.map_or(0, |at| (now - at).num_seconds().max(0)));
            }
            Err(error) => {
                tracing::debug!(%error, "cannot read the outbox for the metrics");
                self.refresh_errors.inc();
            }
        }
        match store::webhooks::pending_count(db).await {
            Ok(count) => self.webhook_pending(count),
            Err(error) => {
                tracing::debug!(%error, "cannot read the webhook deliveries for the metrics");
                self.refresh_errors.inc();
            }
        }
    }

    /// Every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry) {
            tracing::warn!(%error, "cannot encode the metrics");
        }
        out
    }
}
