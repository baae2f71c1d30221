//! SQLite's WAL on a running server: checkpointed beside the writers, not inside a commit.
use sea_orm::ConnectionTrait;
use std::time::Duration;

/// `store::connect` leaves the checkpoint to a committing writer only past 10,000 pages; the
/// server's background checkpointer copies the WAL into the database file within a fraction of
/// a second instead. Without it, the rows written here (about 2 MiB, far under the backstop)
/// would stay in the WAL, and the database file would keep its size.
#[tokio::test]
async fn a_server_checkpoints_the_wal_in_the_background() {
    let dir = std::env::temp_dir()
        .join("guildhall-tests")
        .join(format!("wal-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("guildhall.db");
    let db = guildhall::store::connect(&format!("sqlite:{}?mode=rwc", file.display()))
        .await
        .unwrap();
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
