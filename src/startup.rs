//! `Application::build`: connect the database, migrate, load keys, bootstrap, build the router
//! and bind (port 0 in tests). `run_until_stopped` serves until Ctrl-C or SIGTERM.
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::crypto::password::Hasher;
use crate::http::{
    self,
    state::{AppState, Services},
};
use crate::service::ServiceError;
use crate::service::compat::{cl::ClService, daarion::DaarionService};
use crate::service::core::Core;
use crate::service::journal::Actor;
use crate::service::oidc::OidcService;
use crate::service::passwords::PasswordService;
use crate::service::providers::ProviderService;
use crate::service::seeding::{Action, Plan, SeedOptions, SeedService};
use crate::service::{self, auth::AuthService, clients::ClientService, domains::DomainService};
use crate::service::{activity::ActivityService, orgs::OrgService, teams::TeamService, users::UserService};
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
}

/// What stays reachable of a running application: key reloads and rotation, the database pool.
#[derive(Clone)]
pub struct AppHandle {
    db: Db,
    config: Arc<Config>,
    clock: SharedClock,
    keys: Arc<KeyStore>,
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
        install_crypto_provider();
        let config = Arc::new(config);
        let db = database(&config).await?;
        let hasher = Hasher::new(config.hashing).context("cannot set up password hashing")?;
        let ring = service::keys::ensure(&db, &config, clock.as_ref())
            .await
            .context("cannot load the signing keys")?;
        service::bootstrap::run(&db, &config, clock.as_ref(), &hasher)
            .await
            .context("cannot bootstrap")?;
        let keys = Arc::new(KeyStore::new(ring));
        let core = Arc::new(Core::new(
            db.clone(),
            Arc::clone(&config),
            Arc::clone(&clock),
            Arc::clone(&keys),
            hasher,
        ));
        core.warm().await.context("cannot load revoked sessions")?;
        let seeds = Arc::new(SeedService::new(Arc::clone(&core)));
        if let Some(file) = &config.seed_file {
            let plan = apply_seed_file(&seeds, file, SeedOptions::default()).await?;
            tracing::info!(file = %file.display(), created = plan.count(Action::Create), updated = plan.count(Action::Update), "applied the seed document");
        }
        let auth = Arc::new(AuthService::new(Arc::clone(&core)));
        let orgs = Arc::new(OrgService::new(Arc::clone(&core)));
        let users = Arc::new(UserService::new(Arc::clone(&core)));
        let mailer = crate::mail::from_config(&config)?;
        let state = AppState::new(Services {
            config: Arc::clone(&config),
            teams: Arc::new(TeamService::new(Arc::clone(&core))),
            domains: Arc::new(DomainService::new(Arc::clone(&core))),
            passwords: Arc::new(PasswordService::new(Arc::clone(&core), mailer)),
            daarion: Arc::new(DaarionService::new(Arc::clone(&core), Arc::clone(&auth))?),
            cl: Arc::new(ClService::new(Arc::clone(&core), Arc::clone(&users))),
            users,
            clients: Arc::new(ClientService::new(Arc::clone(&core), Arc::clone(&orgs))),
            activity: Arc::new(ActivityService::new(Arc::clone(&core))),
            seeds,
            providers: Arc::new(ProviderService::new(Arc::clone(&core), Arc::clone(&orgs))),
            oidc: Arc::new(
                OidcService::new(Arc::clone(&core), Arc::clone(&auth)).context("cannot build the HTTP client")?,
            ),
            orgs,
            auth,
        });
        if config.bcrypt_rounds.is_some() {
            tracing::warn!(
                "AUTH_BCRYPT_ROUNDS / BCRYPT_ROUNDS is ignored: passwords are hashed with argon2id (AUTH_ARGON2_*)"
            );
        }
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
        let port = listener.local_addr()?.port();
        spawn_pruner(Arc::clone(&core));
        service::notify::spawn_listener(Arc::clone(&core));
        service::relay::spawn_pruner(Arc::clone(&core), config.event_retention);
        if let Some(url) = &config.nats_url {
            service::relay::spawn(Arc::clone(&core), url.clone());
        }

        let handle = AppHandle {
            db,
            config,
            clock,
            keys,
        };
        handle.spawn_key_reloader();

        Ok(Self {
            listener,
            router: http::router(state),
            port,
            handle,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> AppHandle {
        self.handle.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(port = self.port, issuer = %self.handle.config.issuer, "guildhall is listening");
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

    /// Re-reads the keys from the database now.
    pub async fn reload_keys(&self) -> anyhow::Result<()> {
        reload(&self.db, &self.config, &self.clock, &self.keys).await
    }

    /// `guildhall keys rotate`, in process; returns the new kid.
    pub async fn rotate_keys(&self) -> anyhow::Result<String> {
        let key = service::keys::rotate(&self.db, &self.config, self.clock.as_ref()).await?;
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

async fn reload(db: &Db, config: &Config, clock: &SharedClock, keys: &KeyStore) -> anyhow::Result<()> {
    let ring = service::keys::load(db, config, clock.as_ref()).await?;
    keys.replace(ring);
    Ok(())
}

/// `guildhall keys rotate`.
pub async fn rotate_keys(config: Config) -> anyhow::Result<String> {
    install_crypto_provider();
    let db = database(&config).await?;
    let key = service::keys::rotate(&db, &config, &SystemClock).await?;
    Ok(key.kid)
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

/// Forgets revoked sessions whose last token has expired, once a minute.
fn spawn_pruner(core: Arc<Core>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            core.cache.prune(core.clock.now());
            core.cache
                .prune_tokens(core.clock.now().timestamp() - crate::token::verify::LEEWAY_SECONDS);
        }
    });
}

/// Reads, validates and applies (or plans) a seed file; problems come back one per line.
async fn apply_seed_file(seeds: &SeedService, file: &Path, options: SeedOptions) -> anyhow::Result<Plan> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read the seed file {}", file.display()))?;
    let document = seeds.parse(&text).map_err(|e| seed_error(file, e))?;
    let actor = Actor {
        name: Some("guildhall seed".into()),
        ..Actor::default()
    };
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

/// `guildhall seed plan|apply FILE`.
pub async fn seed_command(config: Config, file: &Path, options: SeedOptions) -> anyhow::Result<Plan> {
    install_crypto_provider();
    let config = Arc::new(config);
    let db = database(&config).await?;
    let hasher = Hasher::new(config.hashing).context("cannot set up password hashing")?;
    let clock: SharedClock = Arc::new(SystemClock);
    let ring = service::keys::ensure(&db, &config, clock.as_ref())
        .await
        .context("cannot load the signing keys")?;
    let core = Arc::new(Core::new(db, config, clock, Arc::new(KeyStore::new(ring)), hasher));
    apply_seed_file(&SeedService::new(core), file, options).await
}
