//! Cache invalidations between replicas: PostgreSQL `NOTIFY` on one channel, `LISTEN` on every
//! replica. SQLite means one process, so there is nothing to tell.
use super::core::Core;
use super::journal::Invalidation;
use crate::store::Db;
use crate::store::notify::{Listener, is_postgres};
use std::sync::Arc;
use std::time::Duration;

/// Session ids per notification, keeping payloads well under PostgreSQL's 8000 bytes.
const CHUNK: usize = 100;

fn payloads(invalidations: &[Invalidation]) -> Vec<String> {
    let mut out = Vec::new();
    for invalidation in invalidations {
        match invalidation {
            Invalidation::Sessions { ids, until } if ids.len() > CHUNK => {
                for chunk in ids.chunks(CHUNK) {
                    let part = Invalidation::Sessions {
                        ids: chunk.to_vec(),
                        until: *until,
                    };
                    out.extend(serde_json::to_string(&part).ok());
                }
            }
            Invalidation::Members { org, users } if users.len() > CHUNK => {
                out.extend(serde_json::to_string(&Invalidation::Org { org: *org }).ok());
            }
            other => out.extend(serde_json::to_string(other).ok()),
        }
    }
    out
}

pub async fn send(db: &Db, invalidations: &[Invalidation]) -> anyhow::Result<()> {
    if !is_postgres(db) || invalidations.is_empty() {
        return Ok(());
    }
    for payload in payloads(invalidations) {
        crate::store::notify::send(db, payload).await?;
    }
    Ok(())
}

/// Applies the other replicas' invalidations as they come; after any gap in the connection,
/// resynchronises from the database.
pub fn spawn_listener(core: Arc<Core>) {
    if !is_postgres(&core.db) {
        return;
    }
    tokio::spawn(async move {
        loop {
            if let Err(error) = listen(&core).await {
                tracing::warn!(error = format!("{error:#}"), "invalidation listener lost; reconnecting");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn listen(core: &Core) -> anyhow::Result<()> {
    let mut listener = Listener::connect(&core.db).await?;
    core.resync().await?;
    loop {
        match listener.recv().await? {
            Some(payload) => match serde_json::from_str::<Invalidation>(&payload) {
                Ok(invalidation) => core.apply(&invalidation),
                Err(error) => tracing::warn!(%error, "unreadable invalidation"),
            },
            None => core.resync().await?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn large_invalidations_are_split_or_widened() {
        let until = chrono::DateTime::UNIX_EPOCH;
        let ids: Vec<Uuid> = (0..250).map(|_| Uuid::new_v4()).collect();
        let users = ids.clone();
        let out = payloads(&[
            Invalidation::Sessions { ids, until },
            Invalidation::Members {
                org: Uuid::nil(),
                users,
            },
        ]);
        assert_eq!(out.len(), 4, "three chunks of sessions, one organisation");
        assert!(out.iter().all(|p| p.len() < 8000));
        assert!(out[3].contains("\"kind\":\"org\""));
    }
}
