//! After a change commits: its invalidations are applied to this replica's caches and sent to
//! the others (PostgreSQL `NOTIFY` on one channel; SQLite means one process, so there is nothing
//! to tell). The receiving end is `authn::listener`.
use crate::metrics::Metrics;
use crate::service::cache::{AccessCache, Invalidation};
use crate::store::{self, Db};
use std::sync::Arc;

/// Session ids per notification, keeping payloads well under PostgreSQL's 8000 bytes.
const CHUNK: usize = 100;

/// The longest role change sent as it is (an organisation's roles with their permissions);
/// a longer one is widened to the whole organisation (its contexts are loaded again).
const ROLES_PAYLOAD: usize = 7_000;

pub struct Broadcaster {
    db: Db,
    cache: Arc<AccessCache>,
    metrics: Arc<Metrics>,
}

impl Broadcaster {
    pub fn new(db: Db, cache: Arc<AccessCache>, metrics: Arc<Metrics>) -> Self {
        Self { db, cache, metrics }
    }

    /// Applies invalidations here and tells the other replicas.
    pub async fn send(&self, invalidations: &[Invalidation]) {
        for invalidation in invalidations {
            self.cache.apply_async(invalidation).await;
        }
        if !store::notify::is_postgres(&self.db) || invalidations.is_empty() {
            return;
        }
        let mut pending = payloads(invalidations);
        while let Some(payload) = pending.first() {
            if let Err(error) = store::notify::send(&self.db, payload.clone()).await {
                self.metrics.notify_error();
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot notify the other replicas; retrying"
                );
                tokio::spawn(retry(self.db.clone(), pending));
                return;
            }
            pending.remove(0);
        }
    }
}

/// Sends what could not be sent, a few times over some seconds. Past that the other replicas
/// catch up anyway: their cached answers are re-read after `AUTH_CACHE_MAX_AGE`.
async fn retry(db: Db, mut pending: Vec<String>) {
    for delay in [1, 2, 4, 8] {
        tokio::time::sleep(std::time::Duration::from_secs(delay)).await;
        while let Some(payload) = pending.first() {
            if store::notify::send(&db, payload.clone()).await.is_err() {
                break;
            }
            pending.remove(0);
        }
        if pending.is_empty() {
            return;
        }
    }
    tracing::error!(
        lost = pending.len(),
        "cannot notify the other replicas; they catch up within AUTH_CACHE_MAX_AGE"
    );
}

/// The notifications for some invalidations: long session lists split, long member lists and
/// role changes of organisations with very many roles widened to the whole organisation.
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
            Invalidation::Role { org, .. } => match serde_json::to_string(invalidation) {
                Ok(payload) if payload.len() <= ROLES_PAYLOAD => out.push(payload),
                _ => out.extend(serde_json::to_string(&Invalidation::Org { org: *org }).ok()),
            },
            other => out.extend(serde_json::to_string(other).ok()),
        }
    }
    out
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

    #[test]
    fn a_role_change_goes_as_it_is_unless_the_organisation_has_very_many_roles() {
        let org = Uuid::now_v7();
        let role = |n: usize| {
            let roles = (0..n)
                .map(|i| {
                    (
                        format!("role-{i}"),
                        vec![format!("read:thing-{i}"), format!("write:thing-{i}")],
                    )
                })
                .collect();
            Invalidation::Role {
                org,
                role: "role-0".into(),
                version: 7,
                roles,
            }
        };
        let few = payloads(&[role(3)]);
        assert_eq!(few.len(), 1);
        assert_eq!(serde_json::from_str::<Invalidation>(&few[0]).unwrap(), role(3));
        let many = payloads(&[role(200)]);
        assert_eq!(many, [serde_json::to_string(&Invalidation::Org { org }).unwrap()]);
    }
}
