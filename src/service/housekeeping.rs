//! What keeps the tables from growing without bound, once an hour: published events past their
//! retention (and, with no NATS to publish to, unpublished ones too), audit entries past theirs,
//! expired external logins, used or expired reset and email-verification tokens, sessions that
//! ended long ago, finished webhook deliveries past the events' retention, and the provider's
//! spent requests, codes, device codes, client assertions and ended browser sessions.
use crate::clock::SharedClock;
use crate::store::{self, Db};
use chrono::Duration;
use std::time::Duration as Every;

/// How long things are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub events: Duration,
    pub audit: Duration,
    /// Whether a relay publishes the outbox; without one, nothing ever marks events published.
    pub relayed: bool,
}

/// How long a reset token or an ended session is kept once it is of no use.
const ENDED_KEPT: Duration = Duration::days(1);

pub fn spawn(db: Db, clock: SharedClock, retention: Retention) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Every::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(error) = sweep(&db, &clock, retention).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "housekeeping failed; trying again in an hour"
                );
            }
        }
    });
}

/// One sweep; returns how many rows went.
pub async fn sweep(db: &Db, clock: &SharedClock, retention: Retention) -> anyhow::Result<u64> {
    let now = clock.now();
    let events = store::events::prune(db, now - retention.events, !retention.relayed).await?;
    let audit = store::audit::prune(db, now - retention.audit).await?;
    let logins = store::oidc::prune(db, now).await?;
    let resets =
        store::resets::prune(db, now - ENDED_KEPT).await? + store::verifications::prune(db, now - ENDED_KEPT).await?;
    let sessions = store::sessions::prune(db, now - ENDED_KEPT.max(retention.audit)).await?;
    // Spent codes are kept a while, so a replay still finds them and revokes their session.
    let provider = store::provider::prune(db, now - ENDED_KEPT).await?;
    let deliveries = store::webhooks::prune(db, now - retention.events).await?;
    // Second-factor challenges and WebAuthn ceremonies that ran out unanswered.
    let factors = store::mfa::prune_challenges(db, now - ENDED_KEPT).await?
        + store::passkeys::prune_ceremonies(db, now - ENDED_KEPT).await?;
    let pruned = events + audit + logins + resets + sessions + provider + deliveries + factors;
    if pruned > 0 {
        tracing::info!(
            events,
            audit,
            logins,
            resets,
            sessions,
            deliveries,
            factors,
            "pruned what has served its time"
        );
    }
    Ok(pruned)
}
