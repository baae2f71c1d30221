//! Publishes the outbox to NATS. Events are claimed oldest first (on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so replicas share the work) and marked published only once NATS has
//! them: a JetStream ack where a stream captures the subject (the event id is the `Nats-Msg-Id`,
//! so a retry is deduplicated), otherwise a flushed core publish. While NATS is away the outbox
//! keeps them; retries back off up to 30 s. Requests never wait for any of this.
use super::core::Core;
use crate::model::StoredEvent;
use crate::store;
use async_nats::connection::State;
use chrono::Duration as Age;
use std::sync::Arc;
use std::time::Duration;

const BATCH: u64 = 100;
const IDLE_POLL: Duration = Duration::from_millis(200);
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);

pub fn spawn(core: Arc<Core>, url: String) {
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
        let jetstream = async_nats::jetstream::new(client.clone());
        let mut backoff = Duration::from_millis(100);
        loop {
            match relay_batch(&core, &client, &jetstream).await {
                Ok(0) => tokio::time::sleep(IDLE_POLL).await,
                Ok(_) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), retry_in = ?backoff, "cannot publish events");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    });
}

/// Publishes one batch; returns how many went out.
async fn relay_batch(
    core: &Core,
    client: &async_nats::Client,
    jetstream: &async_nats::jetstream::Context,
) -> anyhow::Result<usize> {
    let tx = store::begin(&core.db).await?;
    let events = store::events::claim_pending(&tx, BATCH).await?;
    if events.is_empty() {
        store::commit(tx).await?;
        return Ok(0);
    }
    let mut published = Vec::new();
    let mut failure = None;
    for event in &events {
        match publish(client, jetstream, event).await {
            Ok(()) => published.push(event.id),
            Err(error) => {
                store::events::count_attempt(&tx, event.id).await?;
                failure = Some(error);
                break;
            }
        }
    }
    store::events::mark_published(&tx, &published, core.clock.now()).await?;
    store::commit(tx).await?;
    match failure {
        Some(error) => Err(error),
        None => Ok(published.len()),
    }
}

async fn publish(
    client: &async_nats::Client,
    jetstream: &async_nats::jetstream::Context,
    event: &StoredEvent,
) -> anyhow::Result<()> {
    if client.connection_state() != State::Connected {
        anyhow::bail!("NATS is not connected");
    }
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
    headers.insert("Content-Type", "application/cloudevents+json");
    let payload = bytes_of(event);
    let ack = tokio::time::timeout(
        PUBLISH_TIMEOUT,
        jetstream.publish_with_headers(event.subject.clone(), headers.clone(), payload.clone()),
    )
    .await??;
    match tokio::time::timeout(PUBLISH_TIMEOUT, ack).await? {
        Ok(_) => Ok(()),
        Err(error)
            if matches!(
                error.kind(),
                async_nats::jetstream::context::PublishErrorKind::StreamNotFound
            ) =>
        {
            client
                .publish_with_headers(event.subject.clone(), headers, payload)
                .await?;
            tokio::time::timeout(PUBLISH_TIMEOUT, client.flush()).await??;
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

fn bytes_of(event: &StoredEvent) -> bytes::Bytes {
    bytes::Bytes::from(event.payload.clone())
}

/// Deletes published events past the retention, hourly.
pub fn spawn_pruner(core: Arc<Core>, retention: Age) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match store::events::prune(&core.db, core.clock.now() - retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "pruned published events"),
                Err(error) => tracing::warn!(%error, "cannot prune the outbox"),
            }
        }
    });
}
