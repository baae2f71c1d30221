//! The outbox's two queues, ordered as they are read. The relay reads unpublished events and the
//! webhook dispatcher unfanned ones, each `ORDER BY created_at, id`, in batches. Their indexes
//! ended at `created_at`, so every batch sorted all the waiting events that share one
//! `created_at`. A bulk seed writes hundreds of thousands of events in one transaction, all with
//! the same timestamp, so each batch sorted all of them, inside a write transaction. With the id
//! in the index, a batch reads its rows in order and sorts nothing.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    CreatedAt,
    PublishedAt,
    WebhooksAt,
}

/// Each queue: the column that marks an event done, its old index and its new one. The new
/// indexes get new names: created first and the old ones dropped after, no statement depends on
/// another connection of the pool having seen the previous one's schema change (on SQLite a
/// connection with a stale schema refuses to create an index whose name it still knows).
const QUEUES: [(OutboxEvents, &str, &str); 2] = [
    (
        OutboxEvents::PublishedAt,
        "ix_outbox_events_pending",
        "ix_outbox_events_unpublished",
    ),
    (
        OutboxEvents::WebhooksAt,
        "ix_outbox_events_webhooks",
        "ix_outbox_events_unfanned",
    ),
];

fn index(name: &str, done: OutboxEvents, with_id: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(name)
        .table(OutboxEvents::Table)
        .col(done)
        .col(OutboxEvents::CreatedAt);
    if with_id {
        index.col(OutboxEvents::Id);
    }
    index.to_owned()
}

async fn replace(manager: &SchemaManager<'_>, create: IndexCreateStatement, drop: &str) -> Result<(), DbErr> {
    manager.create_index(create).await?;
    manager
        .drop_index(Index::drop().name(drop).table(OutboxEvents::Table).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (done, old, new) in QUEUES {
            replace(manager, index(new, done, true), old).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (done, old, new) in QUEUES {
            replace(manager, index(old, done, false), new).await?;
        }
        Ok(())
    }
}
