//! The only code that names SeaORM entities or builds queries. Every function is generic over
//! `C: ConnectionTrait`, so a service can hand it the database or a transaction, and returns
//! domain types from `crate::model`.
pub mod audit;
pub mod domains;
pub mod events;
pub mod identity_providers;
pub mod keys;
pub mod notify;
pub mod orgs;
mod page;
pub mod service_accounts;
pub mod sessions;
pub mod teams;
pub mod users;

use migration::MigratorTrait;
use sea_orm::{ConnectOptions, Database, DbErr, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait};
pub use sea_orm::{ConnectionTrait as Conn, DatabaseConnection as Db, DatabaseTransaction as Tx};
use sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (which one is in the message, for logs only).
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    #[error(transparent)]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(what)) => Self::Conflict(what),
            _ => Self::Db(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Connects, with pool settings suited to each backend (WAL and a busy timeout on SQLite).
pub async fn connect(url: &str) -> std::result::Result<Db, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // Per connection: WAL with synchronous=NORMAL (durable across crashes of the process, one
        // fsync per checkpoint instead of one per commit), a busy timeout, foreign keys on.
        options.max_connections(8).min_connections(1).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    } else {
        options.max_connections(20).test_before_acquire(false);
    }
    let db = Database::connect(options).await?;
    Ok(db)
}

/// Applies pending migrations.
pub async fn migrate(db: &Db) -> std::result::Result<(), DbErr> {
    migration::Migrator::up(db, None).await
}

pub async fn ping(db: &Db) -> Result<()> {
    Ok(db.ping().await?)
}

/// Begins a transaction; on SQLite `BEGIN IMMEDIATE`, so a transaction that reads and then
/// writes never fails because another connection wrote in between (SQLITE_BUSY_SNAPSHOT): it
/// waits for the write lock up front instead.
pub async fn begin(db: &Db) -> Result<Tx> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    Ok(db.begin_with_options(options).await?)
}

pub async fn commit(tx: Tx) -> Result<()> {
    Ok(tx.commit().await?)
}

/// Serialises seed applications across replicas (PostgreSQL advisory lock held until the
/// transaction ends; SQLite transactions are serialised already).
pub async fn seed_lock(tx: &Tx) -> Result<()> {
    if tx.get_database_backend() == sea_orm::DbBackend::Postgres {
        tx.execute_unprepared("SELECT pg_advisory_xact_lock(7134922)").await?;
    }
    Ok(())
}
