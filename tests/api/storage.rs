//! SQLite's WAL on a running server: checkpointed beside the writers, not inside a commit.
use sea_orm::ConnectionTrait;
use std::time::Duration;

/// A directory of its own for a test's SQLite file, and the file's URL.
fn scratch(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir()
        .join("guildhall-tests")
        .join(format!("{name}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.join("guildhall.db").display());
    (dir, url)
}

/// `store::connect` leaves the checkpoint to a committing writer only past 10,000 pages; the
/// server's background checkpointer copies the WAL into the database file within a fraction of
/// a second instead. Without it, the rows written here (about 2 MiB, far under the backstop)
/// would stay in the WAL, and the database file would keep its size.
#[tokio::test]
async fn a_server_checkpoints_the_wal_in_the_background() {
    let (dir, url) = scratch("wal");
    let file = dir.join("guildhall.db");
    let db = guildhall::store::connect(&url).await.unwrap();
    db.execute_unprepared("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .await
        .unwrap();
    db.execute_unprepared(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
         INSERT INTO filler (body) SELECT printf('%.1000c', 'x') FROM n",
    )
    .await
    .unwrap();
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        size() < 1_000_000,
        "no checkpoint yet: the rows are in the WAL ({} bytes in the file)",
        size()
    );
    guildhall::store::checkpoint_in_background(&db);
    let mut waited = Duration::ZERO;
    while size() < 2_000_000 && waited < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert!(
        size() >= 2_000_000,
        "the WAL was not checkpointed: {} bytes in the file",
        size()
    );
    db.close().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// The relay and the webhook dispatcher read the outbox in batches, `ORDER BY created_at, id`.
/// A bulk seed writes its events with one timestamp: an index that ends at `created_at` left
/// every batch sorting all of them (inside a write transaction, so every writer waited). Both
/// queues' reads must come straight off their index.
#[tokio::test]
async fn the_outbox_queues_are_read_in_index_order() {
    let (dir, url) = scratch("outbox");
    let migrated = guildhall::store::connect(&url).await.unwrap();
    guildhall::store::migrate(&migrated).await.unwrap();
    migrated.close().await.unwrap();
    // Fresh connections: `EXPLAIN` plans with the schema a connection has loaded, and a pooled
    // connection that did not run the migration may still hold the one before it.
    let db = guildhall::store::connect(&url).await.unwrap();
    for done in ["published_at", "webhooks_at"] {
        let sql = format!(
            r#"EXPLAIN QUERY PLAN SELECT * FROM "outbox_events" WHERE "{done}" IS NULL ORDER BY "created_at" ASC, "id" ASC LIMIT 200"#
        );
        let plan: Vec<String> = db
            .query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, sql))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", "detail").unwrap())
            .collect();
        assert!(
            plan.iter().any(|step| step.contains("USING INDEX"))
                && !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{done}: {plan:?}"
        );
    }
    db.close().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// PostgreSQL reads the outbox's queues off their partial indexes, in order, sorting nothing (the
/// indexes of `m20261206` led with the done column, and PostgreSQL sorted every waiting event for
/// each batch: 0.25–1.2 s a batch with a bulk seed's 500,000). Sorting and scanning the table are
/// priced out, so the plan sorts only if no index gives the order. Skipped (with a note) unless
/// TEST_DATABASE_URL names a PostgreSQL server.
#[tokio::test]
async fn postgres_reads_the_outbox_queues_in_index_order() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        eprintln!("skipped: TEST_DATABASE_URL does not name a PostgreSQL server");
        return;
    }
    let url = crate::helpers::fresh_database_url().await;
    let db = guildhall::store::connect(&url).await.unwrap();
    guildhall::store::migrate(&db).await.unwrap();
    let tx = guildhall::store::begin(&db).await.unwrap();
    tx.execute_unprepared("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
        .await
        .unwrap();
    for done in ["published_at", "webhooks_at"] {
        let sql = format!(
            r#"EXPLAIN SELECT * FROM "outbox_events" WHERE "{done}" IS NULL ORDER BY "created_at" ASC, "id" ASC LIMIT 200 FOR UPDATE SKIP LOCKED"#
        );
        let plan: Vec<String> = tx
            .query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", "QUERY PLAN").unwrap())
            .collect();
        assert!(
            plan.iter()
                .any(|step| step.contains("Index Scan using ix_outbox_events_to_"))
                && !plan.iter().any(|step| step.contains("Sort")),
            "{done}: {plan:?}"
        );
    }
    drop(tx);
    db.close().await.unwrap();
}
