//! Publishes the outbox to NATS. Events are claimed oldest first (on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so replicas share the work) and marked published only once NATS has
//! them: a JetStream ack where a stream captures the subject (the event id is the `Nats-Msg-Id`,
//! so a retry is deduplicated), otherwise a flushed core publish. While NATS is away the outbox
//! keeps them; retries back off up to 30 s. Requests never wait for any of this.
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::model::StoredEvent;
use crate::store::{self, Conn, Db};
use async_nats::connection::State;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BATCH: u64 = 100;
const IDLE_POLL: Duration = Duration::from_millis(200);
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);

pub fn spawn(db: Db, clock: SharedClock, url: String, metrics: Arc<Metrics>) {
    tokio::spawn(async move {
        let client = match async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(url.as_str())
            .await
        {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot set up the NATS client; events stay in the outbox");
                return;
            }
        };
        let mut nats = Nats {
            jetstream: async_nats::jetstream::new(client.clone()),
            client,
            streams: HashMap::new(),
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            match relay_batch(&db, &clock, &mut nats, &metrics).await {
                Ok(0) => tokio::time::sleep(IDLE_POLL).await,
                Ok(_) => backoff = Duration::from_millis(100),
                Err(error) => {
                    metrics.relay_error();
                    tracing::warn!(error = format!("{error:#}"), retry_in = ?backoff, "cannot publish events");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    });
}

struct Nats {
    client: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    /// Whether a JetStream stream captures a subject family (`auth.user.*.created`), and since when.
    streams: HashMap<String, (bool, Instant)>,
}

/// How long a stream lookup is trusted.
const STREAM_LOOKUP_TTL: Duration = Duration::from_secs(10);

/// Publishes one batch; returns how many went out. On PostgreSQL the batch is claimed in a
/// transaction (`SKIP LOCKED`, so replicas share the work); SQLite is one process and must not
/// hold a write transaction across network calls.
async fn relay_batch(db: &Db, clock: &SharedClock, nats: &mut Nats, metrics: &Metrics) -> anyhow::Result<usize> {
    if store::notify::is_postgres(db) {
        let tx = store::begin(db).await?;
        let result = relay_on(&tx, clock, nats, metrics).await;
        store::commit(tx).await?;
        result
    } else {
        relay_on(db, clock, nats, metrics).await
    }
}

async fn relay_on<C: Conn>(c: &C, clock: &SharedClock, nats: &mut Nats, metrics: &Metrics) -> anyhow::Result<usize> {
    let events = store::events::claim_pending(c, BATCH).await?;
    let mut published = Vec::new();
    let mut failure = None;
    for event in &events {
        match nats.publish(event).await {
            Ok(()) => published.push(event.id),
            Err(error) => {
                store::events::count_attempt(c, event.id).await?;
                failure = Some(error);
                break;
            }
        }
    }
    let now = clock.now();
    store::events::mark_published(c, &published, now).await?;
    for event in events.iter().filter(|e| published.contains(&e.id)) {
        metrics.published(now - event.created_at);
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(published.len()),
    }
}

impl Nats {
    async fn publish(&mut self, event: &StoredEvent) -> anyhow::Result<()> {
        if self.client.connection_state() != State::Connected {
            anyhow::bail!("NATS is not connected");
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        headers.insert("Content-Type", "application/cloudevents+json");
        let payload = bytes::Bytes::from(event.payload.clone());
        if self.captured(&event.subject).await? {
            let ack = tokio::time::timeout(
                PUBLISH_TIMEOUT,
                self.jetstream
                    .publish_with_headers(event.subject.clone(), headers, payload),
            )
            .await??;
            tokio::time::timeout(PUBLISH_TIMEOUT, ack).await??;
        } else {
            self.client
                .publish_with_headers(event.subject.clone(), headers, payload)
                .await?;
            tokio::time::timeout(PUBLISH_TIMEOUT, self.client.flush()).await??;
        }
        Ok(())
    }

    /// Whether a JetStream stream stores this subject.
    async fn captured(&mut self, subject: &str) -> anyhow::Result<bool> {
        let family = family(subject);
        if let Some((captured, at)) = self.streams.get(&family)
            && at.elapsed() < STREAM_LOOKUP_TTL
        {
            return Ok(*captured);
        }
        let captured = match tokio::time::timeout(PUBLISH_TIMEOUT, self.jetstream.stream_by_subject(subject)).await? {
            Ok(_) => true,
            Err(error) if error.to_string().to_lowercase().contains("not found") => false,
            Err(error) if error.to_string().to_lowercase().contains("no responders") => false,
            Err(error) => return Err(error.into()),
        };
        self.streams.insert(family, (captured, Instant::now()));
        Ok(captured)
    }
}

/// `auth.user.<id>.created` → `auth.user.*.created`.
fn family(subject: &str) -> String {
    let parts: Vec<&str> = subject.split('.').collect();
    match parts.as_slice() {
        [a, b, _, rest @ ..] => format!("{a}.{b}.*.{}", rest.join(".")),
        _ => subject.to_owned(),
    }
}
