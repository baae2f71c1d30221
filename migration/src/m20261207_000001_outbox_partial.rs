//! The outbox's two queues as partial indexes: `(created_at, id) WHERE <done> IS NULL`. The
//! indexes of `m20261206_000001_outbox_order` lead with the column that marks an event done, and
//! PostgreSQL does not take `IS NULL` as an equality that fixes the leading column, so it could
//! not read `ORDER BY created_at, id` off them: with 500,000 waiting events (a bulk seed's) every
//! batch of 200 scanned and sorted all of them (0.25–1.2 s a batch, about ten minutes of the
//! database's time for one seed). A partial index holds only the waiting events, in the order
//! the queues read them, on both backends; done events leave it.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each queue: the column that marks an event done, the index it had and the partial one.
const QUEUES: [(&str, &str, &str); 2] = [
    (
        "published_at",
        "ix_outbox_events_unpublished",
        "ix_outbox_events_to_publish",
    ),
    (
        "webhooks_at",
        "ix_outbox_events_unfanned",
        "ix_outbox_events_to_fan_out",
    ),
];

async fn run(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await.map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (done, old, new) in QUEUES {
            let create =
                format!(r#"CREATE INDEX "{new}" ON "outbox_events" ("created_at", "id") WHERE "{done}" IS NULL"#);
            run(manager, &create).await?;
            run(manager, &format!(r#"DROP INDEX "{old}""#)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (done, old, new) in QUEUES {
            let create = format!(r#"CREATE INDEX "{old}" ON "outbox_events" ("{done}", "created_at", "id")"#);
            run(manager, &create).await?;
            run(manager, &format!(r#"DROP INDEX "{new}""#)).await?;
        }
        Ok(())
    }
}
