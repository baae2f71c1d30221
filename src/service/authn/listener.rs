//! The other replicas' invalidations (PostgreSQL `LISTEN`; see `change::broadcast` for the
//! sending end), applied to this replica's caches as they come. After any gap in the connection
//! the caches are resynchronised from the database, since notifications may have been missed.
use super::Authenticator;
use crate::service::cache::{AccessCache, Invalidation};
use crate::store::Db;
use crate::store::notify::{Listener, is_postgres};
use std::sync::Arc;
use std::time::Duration;

pub fn spawn(db: Db, cache: Arc<AccessCache>, authn: Arc<Authenticator>) {
    if !is_postgres(&db) {
        return;
    }
    tokio::spawn(async move {
        loop {
            if let Err(error) = listen(&db, &cache, &authn).await {
                authn.metrics().notify_error();
                tracing::warn!(error = format!("{error:#}"), "invalidation listener lost; reconnecting");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn listen(db: &Db, cache: &Arc<AccessCache>, authn: &Authenticator) -> anyhow::Result<()> {
    let mut listener = Listener::connect(db).await?;
    authn.resync().await?;
    loop {
        match listener.recv().await? {
            Some(payload) => match serde_json::from_str::<Invalidation>(&payload) {
                Ok(invalidation) => cache.apply_async(&invalidation).await,
                Err(error) => tracing::warn!(%error, "unreadable invalidation"),
            },
            None => authn.resync().await?,
        }
    }
}
