//! The cached JWKS. A token with an unknown `kid` re-fetches it in a single flight: concurrent
//! callers wait for one fetch and share its outcome; fetches happen at most once per
//! `min_refresh_interval`, and after a failure not again for `failure_backoff`. Keys older than
//! `max_key_age` are re-fetched in the background while the old ones keep verifying.
use crate::clock::{Clock, since};
use crate::error::{Error, TokenError};
use crate::fetch;
use crate::jwks::{self, Key};
use crate::stats::Counters;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

pub(crate) struct KeyStoreConfig {
    pub issuer: String,
    /// Where guildhall is reached, without a trailing slash.
    pub base_url: String,
    pub min_refresh_interval: Duration,
    pub failure_backoff: Duration,
    pub max_key_age: Duration,
}

pub(crate) struct KeyStore {
    config: KeyStoreConfig,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    current: RwLock<Arc<KeySet>>,
    flight: tokio::sync::Mutex<Flight>,
    /// Fetches finished; a caller that waited for the flight sees it move and shares the outcome.
    completed: AtomicU64,
    refreshing_in_background: AtomicBool,
}

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Arc<Key>>,
    fetched_at: Option<SystemTime>,
}

#[derive(Default)]
struct Flight {
    jwks_uri: Option<String>,
    last_attempt: Option<SystemTime>,
    last_error: Option<String>,
}

impl Flight {
    /// What a caller whose kid the last fetch did not bring gets.
    fn miss(&self) -> Error {
        match &self.last_error {
            Some(reason) => Error::Unavailable(reason.clone()),
            None => TokenError::UnknownKey.into(),
        }
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl KeyStore {
    pub fn new(
        config: KeyStoreConfig,
        client: reqwest::Client,
        clock: Arc<dyn Clock>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            config,
            client,
            clock,
            counters,
            current: RwLock::default(),
            flight: tokio::sync::Mutex::default(),
            completed: AtomicU64::new(0),
            refreshing_in_background: AtomicBool::new(false),
        }
    }

    fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The key `kid` names, fetching the JWKS if it is not known yet (see the module doc).
    pub async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<Key>, Error> {
        let set = self.current();
        if let Some(key) = set.keys.get(kid) {
            self.refresh_if_old(&set);
            return Ok(Arc::clone(key));
        }
        let seen = self.completed.load(Ordering::Acquire);
        let mut flight = self.flight.lock().await;
        if let Some(key) = self.current().keys.get(kid) {
            return Ok(Arc::clone(key));
        }
        if self.completed.load(Ordering::Acquire) != seen {
            // Someone fetched while this caller waited: that fetch is ours too.
            return Err(flight.miss());
        }
        if let Some(at) = flight.last_attempt {
            let elapsed = since(self.clock.now(), at);
            match flight.last_error {
                Some(_) if elapsed < self.config.failure_backoff => return Err(flight.miss()),
                None if elapsed < self.config.min_refresh_interval => return Err(flight.miss()),
                _ => {}
            }
        }
        self.fetch(&mut flight).await;
        self.current()
            .keys
            .get(kid)
            .map(Arc::clone)
            .ok_or_else(|| flight.miss())
    }

    /// Fetches discovery (once) and the JWKS now, in the flight.
    pub async fn refresh(&self) -> Result<(), Error> {
        let mut flight = self.flight.lock().await;
        self.fetch(&mut flight).await;
        match &flight.last_error {
            Some(reason) => Err(Error::Unavailable(reason.clone())),
            None => Ok(()),
        }
    }

    fn refresh_if_old(self: &Arc<Self>, set: &KeySet) {
        let old = set
            .fetched_at
            .is_some_and(|at| since(self.clock.now(), at) >= self.config.max_key_age);
        if !old || self.refreshing_in_background.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refreshing_in_background.store(false, Ordering::Release);
            return;
        };
        let this = Arc::clone(self);
        runtime.spawn(async move {
            let mut flight = this.flight.lock().await;
            let still_old = this
                .current()
                .fetched_at
                .is_some_and(|at| since(this.clock.now(), at) >= this.config.max_key_age);
            let backing_off = flight.last_error.is_some()
                && flight
                    .last_attempt
                    .is_some_and(|at| since(this.clock.now(), at) < this.config.failure_backoff);
            if still_old && !backing_off {
                this.fetch(&mut flight).await;
            }
            drop(flight);
            this.refreshing_in_background.store(false, Ordering::Release);
        });
    }

    async fn fetch(&self, flight: &mut Flight) {
        let now = self.clock.now();
        flight.last_attempt = Some(now);
        match self.fetch_keys(flight).await {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "fetched guildhall's JWKS");
                let set = Arc::new(KeySet {
                    keys,
                    fetched_at: Some(now),
                });
                *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = set;
                flight.last_error = None;
            }
            Err(reason) => {
                tracing::warn!(%reason, "cannot fetch guildhall's keys");
                flight.last_error = Some(reason);
            }
        }
        self.completed.fetch_add(1, Ordering::AcqRel);
    }

    async fn fetch_keys(&self, flight: &mut Flight) -> Result<HashMap<String, Arc<Key>>, String> {
        let jwks_uri = match &flight.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                flight.jwks_uri = Some(uri.clone());
                uri
            }
        };
        self.counters.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        jwks::parse(fetch::get_json(&self.client, &jwks_uri).await?)
    }

    async fn discover(&self) -> Result<String, String> {
        let url = format!("{}/.well-known/openid-configuration", self.config.base_url);
        self.counters.discovery_fetches.fetch_add(1, Ordering::Relaxed);
        let found: Discovery = fetch::get_json(&self.client, &url).await?;
        if found.issuer != self.config.issuer {
            return Err(format!(
                "discovery names the issuer {:?}, this service expects {:?}",
                found.issuer, self.config.issuer
            ));
        }
        Ok(self.rebase(&found.jwks_uri))
    }

    /// An endpoint under the issuer, moved onto the base URL when the two differ.
    fn rebase(&self, url: &str) -> String {
        let issuer = self.config.issuer.trim_end_matches('/');
        match url.strip_prefix(issuer) {
            Some(path) if path.is_empty() || path.starts_with('/') => format!("{}{path}", self.config.base_url),
            _ => url.to_owned(),
        }
    }
}
