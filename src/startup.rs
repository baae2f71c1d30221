//! `Application::build`: connect the database, migrate, load keys, bootstrap, build the router
//! and bind (port 0 in tests). `run_until_stopped` serves until Ctrl-C or SIGTERM.
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, Environment};
use crate::crypto::password::Hasher;
use crate::crypto::seal::{MasterKey, Sealer};
use crate::http::{self, state::AppState};
use crate::service::change::Actor;
use crate::service::seeding::{Action, Plan, SeedOptions, SeedService};
use crate::service::{self, ServiceError, authn::Authenticator};
use crate::services::Services;
use std::path::Path;

use crate::store::{self, Db};
use crate::token::{KeyStore, install_crypto_provider};
use anyhow::Context;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often a running server re-reads the signing keys (to follow `guildhall keys rotate`).
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
    handle: AppHandle,
    /// `/metrics` on a listener of its own (`AUTH_METRICS_ADDR`).
    metrics: Option<(TcpListener, Router)>,
}

/// What stays reachable of a running application: key reloads and rotation, the database pool.
#[derive(Clone)]
pub struct AppHandle {
    db: Db,
    config: Arc<Config>,
    clock: SharedClock,
    keys: Arc<KeyStore>,
    sealer: Arc<Sealer>,
}

/// Connects to the configured database (creating the SQLite data directory) and migrates it.
pub async fn database(config: &Config) -> anyhow::Result<Db> {
    if config.database_url.starts_with("sqlite:") && !config.database_url.contains(":memory:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    }
    let db = store::connect(&config.database_url)
        .await
        .context("cannot connect to the database")?;
    // Replicas starting together race to migrate; the losers find the work done on a retry.
    let mut attempt = 1;
    loop {
        match store::migrate(&db).await {
            Ok(()) => return Ok(db),
            Err(error) if attempt < 5 => {
                tracing::warn!(%error, attempt, "migration failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(anyhow::Error::new(error).context("cannot apply the database migrations")),
        }
    }
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let services = services(Arc::clone(&config), Arc::clone(&clock)).await?;
        services.authn.warm().await.context("cannot load revoked sessions")?;
        if let Some(file) = &config.seed_file {
            let plan = apply_seed_file(&services.seeds, file, SeedOptions::default()).await?;
            tracing::info!(file = %file.display(), created = plan.count(Action::Create), updated = plan.count(Action::Update), "applied the seed document");
        }
        if config.master_key.is_none() && config.environment == Environment::Production {
            tracing::warn!(
                "secrets are stored unsealed: the signing keys and identity providers' client secrets are kept in the database as they are; set AUTH_MASTER_KEY or AUTH_MASTER_KEY_FILE (32 random bytes, e.g. `openssl rand -base64 32`) to seal them"
            );
        }
        if config.algorithm_from_secret {
            tracing::warn!(
                "JWT_SECRET / AUTH_JWT_SECRET is set and no algorithm is: tokens are signed with HS256 under that secret (set AUTH_JWT_ALGORITHM to choose another)"
            );
        }
        if config.bcrypt_rounds.is_some() {
            tracing::warn!(
                "AUTH_BCRYPT_ROUNDS / BCRYPT_ROUNDS is ignored: passwords are hashed with argon2id (AUTH_ARGON2_*)"
            );
        }
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
        let port = listener.local_addr()?.port();
        let metrics_listener = match &config.metrics_addr {
            Some((host, metrics_port)) => Some(
                TcpListener::bind((host.as_str(), *metrics_port))
                    .await
                    .with_context(|| format!("cannot listen on {host}:{metrics_port} (AUTH_METRICS_ADDR)"))?,
            ),
            None => None,
        };
        let db = services.db.clone();
        spawn_pruner(Arc::clone(&services.authn));
        crate::store::checkpoint_in_background(&db);
        service::authn::listener::spawn(db.clone(), Arc::clone(&services.cache), Arc::clone(&services.authn));
        let retention = service::housekeeping::Retention {
            events: config.event_retention,
            audit: config.limits.audit_retention,
            relayed: config.nats_url.is_some(),
        };
        service::housekeeping::spawn(db.clone(), Arc::clone(&clock), retention);
        let dispatcher = service::webhooks::dispatcher::Dispatcher::new(
            db.clone(),
            Arc::clone(&clock),
            services.changes.clone(),
            Arc::clone(&services.sealer),
            config.webhooks,
            Arc::clone(&services.metrics),
        )
        .context("cannot set up webhook delivery")?;
        Arc::new(dispatcher).spawn();
        if let Some(url) = &config.nats_url {
            service::relay::spawn(
                db.clone(),
                Arc::clone(&clock),
                url.clone(),
                Arc::clone(&services.metrics),
            );
        }
        let handle = AppHandle {
            db,
            config,
            clock,
            keys: Arc::clone(&services.keys),
            sealer: Arc::clone(&services.sealer),
        };
        handle.spawn_key_reloader();
        let state = AppState::new(services);
        Ok(Self {
            listener,
            router: http::router(state.clone()),
            port,
            handle,
            metrics: metrics_listener.map(|l| (l, http::metrics::metrics_router(state))),
        })
    }

    /// The port of the metrics-only listener, when `AUTH_METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
            .map(|a| a.port())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> AppHandle {
        self.handle.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(port = self.port, issuer = %self.handle.config.issuer, "guildhall is listening");
        if let Some((listener, router)) = self.metrics {
            tracing::info!(port = ?listener.local_addr().ok().map(|a| a.port()), "serving /metrics on its own listener");
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
                {
                    tracing::error!(%error, "the metrics listener stopped");
                }
            });
        }
        axum::serve(
            self.listener,
            self.router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
    }
}

impl AppHandle {
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What seals and opens the stored secrets.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Re-reads the keys from the database now.
    pub async fn reload_keys(&self) -> anyhow::Result<()> {
        let ring = service::keys::load(&self.db, &self.sealer, &self.config, self.clock.as_ref()).await?;
        self.keys.replace(ring);
        Ok(())
    }

    /// `guildhall keys rotate`, in process; returns the new kid.
    pub async fn rotate_keys(&self) -> anyhow::Result<String> {
        let key = service::keys::rotate(&self.db, &self.sealer, &self.config, self.clock.as_ref()).await?;
        self.reload_keys().await?;
        Ok(key.kid)
    }

    /// Closes the database pool (tests use it to see readiness fail).
    pub async fn close_database(&self) -> anyhow::Result<()> {
        Ok(self.db.close_by_ref().await?)
    }

    fn spawn_key_reloader(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEY_RELOAD_INTERVAL);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(error) = this.reload_keys().await {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "cannot reload the signing keys; keeping the current ones"
                    );
                }
            }
        });
    }
}

/// The `Sealer` of the configured master key, once every stored secret has been found to open
/// with it (and, with a key, the unsealed ones sealed).
async fn sealer(db: &Db, config: &Config) -> anyhow::Result<Arc<Sealer>> {
    let sealer = Arc::new(Sealer::new(config.master_key.clone()));
    service::secrets::prepare(db, &sealer)
        .await
        .context("cannot open the stored secrets")?;
    Ok(sealer)
}

/// `guildhall keys rotate`.
pub async fn rotate_keys(config: Config) -> anyhow::Result<String> {
    install_crypto_provider();
    let db = database(&config).await?;
    let sealer = sealer(&db, &config).await?;
    let key = service::keys::rotate(&db, &sealer, &config, &SystemClock).await?;
    Ok(key.kid)
}

/// `guildhall keys rewrap`: every stored secret, opened with the configured master key (or
/// unsealed), sealed with `new_key`, in one transaction; answers how many. Replicas then need
/// `new_key` as their `AUTH_MASTER_KEY`.
pub async fn rewrap_secrets(config: Config, new_key: MasterKey) -> anyhow::Result<u64> {
    install_crypto_provider();
    let db = database(&config).await?;
    let current = Sealer::new(config.master_key.clone());
    let next = Sealer::new(Some(new_key));
    service::secrets::rewrap(&db, &current, &next)
        .await
        .context("cannot rewrap the stored secrets")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
}

/// Forgets revoked sessions and verified tokens whose last token has expired, once a minute.
fn spawn_pruner(authn: Arc<Authenticator>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            authn.prune();
        }
    });
}

/// Connects, migrates, loads the keys, builds every service and bootstraps the default
/// organisation and superuser.
async fn services(config: Arc<Config>, clock: SharedClock) -> anyhow::Result<Services> {
    install_crypto_provider();
    let db = database(&config).await?;
    let hasher = Hasher::new(config.hashing).context("cannot set up password hashing")?;
    let sealer = sealer(&db, &config).await?;
    let ring = service::keys::ensure(&db, &sealer, &config, clock.as_ref())
        .await
        .context("cannot load the signing keys")?;
    let keys = Arc::new(KeyStore::new(ring));
    let services = Services::build(db, Arc::clone(&config), clock, keys, Arc::clone(&hasher), sealer)?;
    service::bootstrap::run(&services.db, &services.changes, &config, &hasher)
        .await
        .context("cannot bootstrap")?;
    Ok(services)
}

/// Reads, validates and applies (or plans) a seed file; problems come back one per line.
async fn apply_seed_file(seeds: &SeedService, file: &Path, options: SeedOptions) -> anyhow::Result<Plan> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read the seed file {}", file.display()))?;
    let document = seeds.parse(&text).map_err(|e| seed_error(file, e))?;
    let actor = Actor::system("guildhall seed");
    seeds
        .apply(&actor, &document, options)
        .await
        .map_err(|e| seed_error(file, e))
}

fn seed_error(file: &Path, error: ServiceError) -> anyhow::Error {
    match error {
        ServiceError::Validation(problems) => {
            let lines: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect();
            anyhow::anyhow!(
                "the seed document {} has {} problem(s):\n{}",
                file.display(),
                lines.len(),
                lines.join("\n")
            )
        }
        other => anyhow::Error::new(other).context(format!("cannot apply the seed document {}", file.display())),
    }
}

/// What the admin commands (`guildhall users|orgs ...`) work through: the services as `serve`
/// builds them, on the configured database (migrated and bootstrapped), without serving.
pub async fn command_services(config: Config) -> anyhow::Result<Services> {
    services(Arc::new(config), Arc::new(SystemClock)).await
}

/// `guildhall seed plan|apply FILE`.
pub async fn seed_command(config: Config, file: &Path, options: SeedOptions) -> anyhow::Result<Plan> {
    let services = services(Arc::new(config), Arc::new(SystemClock)).await?;
    apply_seed_file(&services.seeds, file, options).await
}
