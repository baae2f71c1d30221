//! `bench ceiling`: what SQLite itself reaches for the statements a guildhall write path issues,
//! in guildhall's transaction mode, at the same concurrency — the ceiling `bench/run.py` reports
//! the path's HTTP figure against.
//!
//! The same setup as `guildhall::store::connect` and `store::begin`: a pool of 8 connections,
//! WAL, synchronous=NORMAL, a 10 s busy timeout, foreign keys on, guildhall's
//! `journal_size_limit` and `wal_autocheckpoint`, and a passive checkpoint every
//! `CHECKPOINT_EVERY` beside the writers (as `store::checkpoint_in_background`); every write
//! transaction takes one in-process lock first, then `BEGIN IMMEDIATE`. Values are
//! bound with the same Rust types sea-orm binds (`Uuid`, `DateTime<Utc>`, `String`), so they are
//! stored alike. `connections` tasks run on a runtime with a worker per core, as guildhall's.
//!
//! The statements live in `statements.rs` (`REFRESH`, `CODE_EXCHANGE`), nowhere else: when a write path
//! changes, edit its list (SQL and the values it binds) and nothing more.
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use uuid::Uuid;

mod statements;
use statements::{Arg, CODE_EXCHANGE, REFRESH, Step, Workload};

/// What one request of a chain presents and writes.
#[derive(Clone, Debug)]
struct State {
    hash: String,
    token_id: Uuid,
    next_hash: String,
    next_token_id: Uuid,
    session_id: Uuid,
    user_id: Uuid,
    org_id: Uuid,
    client_id: String,
    now: DateTime<Utc>,
    event_id: Uuid,
    payload: String,
}

/// The time of a request. guildhall takes it from its `Clock`; the bench has no clock to fix.
#[allow(clippy::disallowed_methods)]
fn now() -> DateTime<Utc> {
    Utc::now()
}

fn digest() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

fn bind<'q>(query: Query<'q>, arg: Arg, s: &State) -> Query<'q> {
    match arg {
        Arg::Hash => query.bind(s.hash.clone()),
        Arg::NextHash => query.bind(s.next_hash.clone()),
        Arg::NextTokenId => query.bind(s.next_token_id),
        Arg::SessionId => query.bind(s.session_id),
        Arg::UserId => query.bind(s.user_id),
        Arg::OrgId => query.bind(s.org_id),
        Arg::ClientId => query.bind(s.client_id.clone()),
        Arg::Now => query.bind(s.now),
        Arg::RefreshExpires => query.bind(s.now + Duration::days(7)),
        Arg::SessionExpires => query.bind(s.now + Duration::days(30)),
        Arg::EventId => query.bind(s.event_id),
        Arg::EventPayload => query.bind(s.payload.clone()),
        Arg::One => query.bind(1_i64),
        Arg::Zero => query.bind(0_i32),
        Arg::Str(v) => query.bind(v),
        Arg::NullText => query.bind(None::<String>),
        Arg::NullTime => query.bind(None::<DateTime<Utc>>),
        Arg::BrowserSessionId => query.bind(Uuid::from_u128(1)),
    }
}

async fn run_step<'c, E>(executor: E, step: &Step, s: &State) -> anyhow::Result<()>
where
    E: sqlx::Executor<'c, Database = Sqlite>,
{
    let mut query = sqlx::query(step.sql);
    for arg in step.args {
        query = bind(query, *arg, s);
    }
    let returns_rows = step.sql.starts_with("SELECT") || step.sql.contains("RETURNING");
    let rows = if returns_rows {
        u64::from(query.fetch_optional(executor).await?.is_some())
    } else {
        query.execute(executor).await?.rows_affected()
    };
    if step.one_row && rows != 1 {
        anyhow::bail!("{rows} rows, not 1: {}", step.sql);
    }
    Ok(())
}

/// The same pool as `guildhall::store::connect` on SQLite.
async fn connect(database: &std::path::Path) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(database)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(10))
        .foreign_keys(true)
        .pragma("journal_size_limit", guildhall::store::WAL_SIZE_LIMIT.to_string())
        .pragma("wal_autocheckpoint", guildhall::store::AUTOCHECKPOINT_PAGES.to_string());
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await?;
    let checkpointer = pool.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(guildhall::store::CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&checkpointer)
                .await;
        }
    });
    Ok(pool)
}

/// Which write path to measure.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Path {
    Refresh,
    Code,
}

/// Runs `path`'s statements from `connections` concurrent chains for `seconds` against the
/// guildhall database at `database` (a seeded one: the chains use its sessions, users and
/// application); prints `{"rps", "p50", "p99", "errors", "requests"}` (milliseconds).
pub async fn run(
    database: &std::path::Path,
    path: Path,
    connections: usize,
    seconds: f64,
    client_id: Option<String>,
) -> anyhow::Result<()> {
    let pool = connect(database).await?;
    let chains = match path {
        Path::Refresh => refresh_chains(&pool, connections).await?,
        Path::Code => {
            let client_id = client_id.ok_or_else(|| anyhow::anyhow!("--client-id is needed for the code exchange"))?;
            code_chains(&pool, connections, &client_id).await?
        }
    };
    // Codes for 10,000 exchanges a second; the run stops early (and says so) beyond. Those left
    // unspent are deleted afterwards.
    let codes = match path {
        Path::Refresh => Arc::new(Vec::new()),
        Path::Code => Arc::new(mint_codes(&pool, &chains[0].client_id, (10_000.0 * seconds) as usize).await?),
    };
    let workload = match path {
        Path::Refresh => &REFRESH,
        Path::Code => &CODE_EXCHANGE,
    };
    let writer = Arc::new(tokio::sync::Mutex::new(()));
    let next_code = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for mut chain in chains {
        let (pool, writer, codes, next_code) = (
            pool.clone(),
            Arc::clone(&writer),
            Arc::clone(&codes),
            Arc::clone(&next_code),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0_u64;
            while Instant::now() < deadline {
                chain.now = now();
                chain.next_hash = digest();
                chain.next_token_id = Uuid::now_v7();
                if matches!(path, Path::Code) {
                    let Some(code) = codes.get(next_code.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    chain.hash = code.clone();
                    chain.session_id = Uuid::now_v7();
                    chain.event_id = Uuid::now_v7();
                }
                let began = Instant::now();
                match one_request(&pool, &writer, workload, &chain).await {
                    Ok(()) => latencies.push(began.elapsed()),
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("ceiling: {e:#}");
                        }
                    }
                }
                // The chain presents the token it was just given (refresh).
                chain.hash = std::mem::take(&mut chain.next_hash);
                chain.token_id = chain.next_token_id;
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(unspent) = codes.get(next_code.load(Ordering::Relaxed)..) {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        for code in unspent {
            sqlx::query(r#"DELETE FROM "authorization_codes" WHERE "code_hash" = ?"#)
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{}",
        json!({"rps": latencies.len() as f64 / elapsed, "p50": pct(0.5), "p99": pct(0.99), "errors": errors,
               "requests": latencies.len(), "seconds": elapsed, "exhausted": elapsed + 0.5 < seconds})
    );
    Ok(())
}

async fn one_request(
    pool: &SqlitePool,
    writer: &tokio::sync::Mutex<()>,
    workload: &Workload,
    s: &State,
) -> anyhow::Result<()> {
    for step in workload.before {
        run_step(pool, step, s).await?;
    }
    let _write = writer.lock().await;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for step in workload.inside {
        run_step(&mut *tx, step, s).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn blank(user_id: Uuid, org_id: Uuid, session_id: Uuid, client_id: String) -> State {
    State {
        hash: String::new(),
        token_id: Uuid::nil(),
        next_hash: String::new(),
        next_token_id: Uuid::nil(),
        session_id,
        user_id,
        org_id,
        client_id,
        now: now(),
        event_id: Uuid::nil(),
        payload: String::new(),
    }
}

/// One chain a connection: the newest live sessions of guildhall's own API (the bench's logins),
/// each given a fresh refresh token to start from.
async fn refresh_chains(pool: &SqlitePool, connections: usize) -> anyhow::Result<Vec<State>> {
    let rows = sqlx::query(
        r#"SELECT "id", "user_id", "org_id" FROM "sessions" WHERE "revoked_at" IS NULL AND "client_id" IS NULL ORDER BY "created_at" DESC LIMIT ?"#,
    )
    .bind(i64::try_from(connections)?)
    .fetch_all(pool)
    .await?;
    anyhow::ensure!(!rows.is_empty(), "no live session to refresh: log in first");
    let mut chains = Vec::new();
    for i in 0..connections {
        let row = &rows[i % rows.len()];
        let mut s = blank(
            row.try_get("user_id")?,
            row.try_get("org_id")?,
            row.try_get("id")?,
            String::new(),
        );
        s.hash = digest();
        s.token_id = Uuid::now_v7();
        sqlx::query(r#"INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "created_at", "expires_at", "used_at") VALUES (?, ?, ?, ?, ?, NULL)"#)
            .bind(s.token_id)
            .bind(s.session_id)
            .bind(s.hash.clone())
            .bind(now())
            .bind(now() + Duration::days(30))
            .execute(pool)
            .await?;
        chains.push(s);
    }
    Ok(chains)
}

/// One chain a connection, each for another member of the application's organisation (a code
/// exchange starts a session for its user; guildhall counts the user's live sessions).
async fn code_chains(pool: &SqlitePool, connections: usize, client_id: &str) -> anyhow::Result<Vec<State>> {
    let rows = sqlx::query(
        r#"SELECT m."user_id", m."org_id" FROM "org_members" m JOIN "oauth_clients" c ON c."org_id" = m."org_id" WHERE c."client_id" = ? ORDER BY m."created_at" DESC LIMIT ?"#,
    )
    .bind(client_id)
    .bind(i64::try_from(connections)?)
    .fetch_all(pool)
    .await?;
    anyhow::ensure!(
        !rows.is_empty(),
        "the application {client_id} has no organisation with members"
    );
    let mut chains = Vec::new();
    for i in 0..connections {
        let row = &rows[i % rows.len()];
        let mut s = blank(
            row.try_get("user_id")?,
            row.try_get("org_id")?,
            Uuid::nil(),
            client_id.to_owned(),
        );
        s.payload = json!({"specversion": "1.0", "id": Uuid::now_v7(), "source": "http://127.0.0.1:18900",
            "type": "guildhall.session.created", "subject": format!("session/{}", Uuid::now_v7()),
            "time": now(), "datacontenttype": "application/json",
            "data": {"session_id": Uuid::now_v7(), "user_id": s.user_id, "org_id": s.org_id, "client_id": client_id,
                     "user_agent": "wrk", "ip": "127.0.0.1", "created_at": now(), "expires_at": now()}})
        .to_string();
        chains.push(s);
    }
    Ok(chains)
}

/// `count` unspent codes for the application, in one transaction (the codes guildhall's
/// `/oauth2/authorize` writes), so the loop measures the exchange alone.
async fn mint_codes(pool: &SqlitePool, client_id: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let grant = r#"{"user_id":"00000000-0000-0000-0000-000000000000","org_id":"00000000-0000-0000-0000-000000000000","browser_session_id":"00000000-0000-0000-0000-000000000000","redirect_uri":"http://127.0.0.1:9/callback","code_challenge":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","nonce":"n-1","scopes":["openid","email"],"resource":null,"auth_time":0,"amr":["pwd"],"acr":"1"}"#;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut codes = Vec::with_capacity(count);
    for _ in 0..count {
        let code = digest();
        sqlx::query(r#"INSERT INTO "authorization_codes" ("code_hash", "client_id", "grant", "session_id", "created_at", "expires_at", "used_at") VALUES (?, ?, ?, NULL, ?, ?, NULL)"#)
            .bind(code.clone())
            .bind(client_id)
            .bind(grant)
            .bind(now())
            .bind(now() + Duration::minutes(10))
            .execute(&mut *tx)
            .await?;
        codes.push(code);
    }
    tx.commit().await?;
    Ok(codes)
}
