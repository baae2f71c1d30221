//! The only code that names SeaORM entities or builds queries. Every function is generic over
//! `C: ConnectionTrait`, so a service can hand it the database or a transaction, and returns
//! domain types from `crate::model`.
pub mod apps;
pub mod audit;
pub mod compat;
pub mod domains;
pub mod email_domains;
pub mod events;
pub mod identity_providers;
pub mod invitations;
pub mod keys;
pub mod members;
pub mod mfa;
pub mod notify;
pub mod oidc;
pub mod orgs;
mod page;
pub mod passkeys;
pub mod provider;
pub mod resets;
pub mod roles;
pub mod secrets;
pub mod service_accounts;
pub mod sessions;
pub mod teams;
pub mod throttle;
pub mod users;
pub mod verifications;
pub mod webhooks;

use crate::crypto::seal::SealError;
use migration::MigratorTrait;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    RuntimeErr, SqlErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
pub use sea_orm::{ConnectionTrait as Conn, DatabaseConnection as Db};
use sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (which one is in the message, for logs only).
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    #[error(transparent)]
    Db(DbErr),
    /// A sealed column cannot be opened (no master key, another one, an altered value) or sealed;
    /// `what` names the row.
    #[error("{what}: {error}")]
    Sealed { what: String, error: SealError },
}

impl StoreError {
    pub fn sealed(what: impl Into<String>, error: SealError) -> Self {
        Self::Sealed {
            what: what.into(),
            error,
        }
    }
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(what)) => Self::Conflict(what),
            _ => Self::Db(e),
        }
    }
}

impl StoreError {
    /// Whether the database did not answer (no connection, the pool closed or exhausted, the
    /// connection lost, the server shutting down), rather than refused this statement: worth
    /// trying again in a moment.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Conflict(_) | Self::Sealed { .. } => false,
            Self::Db(e) => db_unavailable(e),
        }
    }
}

fn db_unavailable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
        _ => false,
    }
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: class 08 (connection exception), 57P01–57P03 (shutting down, starting up).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Rows (or ids) per multi-row statement: a thousand rows of up to a dozen columns keeps one
/// statement far below the bound-parameter limits (32,766 on SQLite, 65,535 on PostgreSQL)
/// however many rows a bulk change writes.
const ROWS_PER_STATEMENT: usize = 1_000;

/// Inserts rows in multi-row statements of `ROWS_PER_STATEMENT`, building each statement while
/// the one before it runs: a bulk change's statements are CPU work here (values converted and
/// the SQL written) and waiting on the database there, so the two overlap instead of taking
/// turns. The statements run one after the other on `c`, in the rows' order.
async fn insert_rows<C, A>(c: &C, rows: Vec<A>) -> Result<()>
where
    C: ConnectionTrait,
    A: sea_orm::ActiveModelTrait + Send,
{
    use sea_orm::{EntityTrait, QueryTrait};
    let backend = c.get_database_backend();
    let mut rows = rows.into_iter();
    let mut build = move || {
        let chunk: Vec<A> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        (!chunk.is_empty()).then(|| A::Entity::insert_many(chunk).build(backend))
    };
    let mut next = build();
    while let Some(statement) = next {
        let (done, built) = tokio::join!(c.execute_raw(statement), async { build() });
        done?;
        next = built;
    }
    Ok(())
}

/// Connects, with pool settings suited to each backend (WAL and a busy timeout on SQLite).
pub async fn connect(url: &str) -> std::result::Result<Db, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // Per connection: WAL with synchronous=NORMAL (durable across crashes of the process, one
        // fsync per checkpoint instead of one per commit), a busy timeout, foreign keys on. A
        // checkpoint truncates the WAL back to `journal_size_limit` (a bulk write such as a large
        // seed document otherwise leaves a WAL as large as the database, for good).
        options.max_connections(8).min_connections(1).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string())
                .pragma("wal_autocheckpoint", AUTOCHECKPOINT_PAGES.to_string())
        });
    } else {
        options.max_connections(20).test_before_acquire(false);
    }
    let db = Database::connect(options).await?;
    Ok(db)
}

/// The bytes SQLite's WAL is cut back to at a checkpoint (64 MiB).
pub const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// The WAL's pages at which a committing writer checkpoints (SQLite's default is 1,000). A
/// server checkpoints every `CHECKPOINT_EVERY` in the background (`checkpoint_in_background`), beside
/// the writers instead of inside one of their commits; this is the backstop, for the command
/// line and a checkpointer that fell behind (10,000 pages of 4 KiB: 40 MiB, under the size
/// limit).
pub const AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// After bulk work on SQLite: copies the WAL into the database and truncates it to nothing
/// (`PRAGMA wal_checkpoint(TRUNCATE)`), so the disk holds the data once. Does nothing on
/// PostgreSQL; a busy database (readers holding old snapshots) leaves the rest to the next
/// automatic checkpoint.
pub async fn checkpoint(db: &Db) -> Result<()> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    }
    Ok(())
}

/// On SQLite, a passive checkpoint every `CHECKPOINT_EVERY` (on one pooled connection): it copies what
/// the WAL holds into the database while writers go on committing (a passive checkpoint takes
/// no lock a writer waits for), so no commit pays for the copy and its fsync, as the commit
/// that crossed `wal_autocheckpoint` did. Does nothing on PostgreSQL.
pub fn checkpoint_in_background(db: &Db) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let db = db.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::warn!(%error, "background checkpoint failed; the next commit past the backstop checkpoints");
            }
        }
    });
}

/// How often a server checkpoints SQLite's WAL in the background: often, so each checkpoint
/// copies little (a second's worth of refreshes made the copy a burst that the writers felt).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Applies pending migrations.
pub async fn migrate(db: &Db) -> std::result::Result<(), DbErr> {
    migration::Migrator::up(db, None).await
}

/// `text` as a LIKE pattern's literal part (`%`, `_` and `\` escaped with `\`), for
/// `LikeExpr::new(..).escape('\\')`: what a search box types is matched, never interpreted.
pub(crate) fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// The pool's connections: open, idle, and the most it opens.
pub fn pool_stats(db: &Db) -> (u32, u32, u32) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                pool.options().get_max_connections(),
            )
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                pool.options().get_max_connections(),
            )
        }
    }
}

pub async fn ping(db: &Db) -> Result<()> {
    Ok(db.ping().await?)
}

/// A transaction. On SQLite (one process by design) it also holds this process's write lock, so
/// concurrent writers queue here instead of in SQLite's busy handler, which sleeps in steps of up
/// to 100 ms however soon the lock frees.
pub struct Tx {
    inner: DatabaseTransaction,
    _write: Option<tokio::sync::OwnedMutexGuard<()>>,
}

static SQLITE_WRITER: LazyLock<Arc<tokio::sync::Mutex<()>>> = LazyLock::new(Default::default);

/// Begins a transaction; on SQLite `BEGIN IMMEDIATE` under the write lock, so a transaction that
/// reads and then writes never fails because another connection wrote in between.
pub async fn begin(db: &Db) -> Result<Tx> {
    let write = if db.get_database_backend() == DbBackend::Sqlite {
        Some(Arc::clone(&SQLITE_WRITER).lock_owned().await)
    } else {
        None
    };
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    Ok(Tx {
        inner: db.begin_with_options(options).await?,
        _write: write,
    })
}

pub async fn commit(tx: Tx) -> Result<()> {
    Ok(tx.inner.commit().await?)
}

#[async_trait::async_trait]
impl ConnectionTrait for Tx {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> std::result::Result<ExecResult, DbErr> {
        self.inner.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> std::result::Result<Option<QueryResult>, DbErr> {
        self.inner.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        self.inner.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.inner.is_mock_connection()
    }
}

/// Marks the point `rollback_to` returns to (one level: a grouped change's part).
pub async fn savepoint(tx: &Tx) -> Result<()> {
    tx.execute_unprepared("SAVEPOINT part").await?;
    Ok(())
}

/// Keeps what was written since `savepoint`.
pub async fn release(tx: &Tx) -> Result<()> {
    tx.execute_unprepared("RELEASE SAVEPOINT part").await?;
    Ok(())
}

/// Undoes what was written since `savepoint`; the rest of the transaction stands.
pub async fn rollback_to(tx: &Tx) -> Result<()> {
    tx.execute_unprepared("ROLLBACK TO SAVEPOINT part").await?;
    tx.execute_unprepared("RELEASE SAVEPOINT part").await?;
    Ok(())
}

/// Serialises seed applications across replicas (PostgreSQL advisory lock held until the
/// transaction ends; SQLite transactions are serialised already).
pub async fn seed_lock(tx: &Tx) -> Result<()> {
    if tx.get_database_backend() == DbBackend::Postgres {
        tx.execute_unprepared("SELECT pg_advisory_xact_lock(7134922)").await?;
    }
    Ok(())
}
