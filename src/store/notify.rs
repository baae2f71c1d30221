//! PostgreSQL NOTIFY / LISTEN on one channel (a no-op on SQLite, which is one process).
use super::Db;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

pub const CHANNEL: &str = "guildhall_invalidations";

pub fn is_postgres(db: &Db) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

pub async fn send(db: &Db, payload: String) -> anyhow::Result<()> {
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    );
    db.execute_raw(statement).await?;
    Ok(())
}

pub struct Listener(sqlx::postgres::PgListener);

impl Listener {
    pub async fn connect(db: &Db) -> anyhow::Result<Self> {
        let mut listener = sqlx::postgres::PgListener::connect_with(db.get_postgres_connection_pool()).await?;
        listener.listen(CHANNEL).await?;
        Ok(Self(listener))
    }

    /// The next payload; `None` after the connection was lost and re-established (notifications
    /// may have been missed).
    pub async fn recv(&mut self) -> anyhow::Result<Option<String>> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}
