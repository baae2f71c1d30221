//! `bench ceiling`: what SQLite itself reaches for the statements a guildhall write path issues,
//! in guildhall's transaction mode, at the same concurrency — the ceiling `bench/run.py` reports
//! the path's HTTP figure against.
//!
//! The same setup as `guildhall::store::connect` and `store::begin`: a pool of 8 connections,
//! WAL, synchronous=NORMAL, a 10 s busy timeout, foreign keys on, `journal_size_limit` 64 MiB;
//! every write transaction takes one in-process lock first, then `BEGIN IMMEDIATE`. Values are
//! bound with the same Rust types sea-orm binds (`Uuid`, `DateTime<Utc>`, `String`), so they are
//! stored alike. `connections` tasks run on a runtime with a worker per core, as guildhall's.
//!
//! The statements live in [`REFRESH`] and [`CODE_EXCHANGE`], nowhere else: when a write path
//! changes, edit its list (SQL and the values it binds) and nothing more.
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use uuid::Uuid;

/// A value a statement binds, taken from the state of the chain (one client) it runs for.
#[derive(Clone, Copy, Debug)]
enum Arg {
    /// The digest of the token (or code) being presented.
    Hash,
    /// The id of the refresh-token row being presented.
    TokenId,
    /// The digest of the refresh token issued now.
    NextHash,
    /// The id of the refresh-token row issued now.
    NextTokenId,
    /// The session of the chain (refresh) or the session started now (code exchange).
    SessionId,
    UserId,
    OrgId,
    ClientId,
    /// The time of the request.
    Now,
    /// When the issued refresh token expires.
    RefreshExpires,
    /// When a started session expires.
    SessionExpires,
    /// The id of an outbox event written now.
    EventId,
    /// The event's CloudEvent, about the size of guildhall's `SessionCreated`.
    EventPayload,
    /// `LIMIT ?` of sea-orm's `.one()`.
    One,
    Zero,
    Str(&'static str),
    /// The browser session a code came from (a fixed one: the column has no foreign key).
    BrowserSessionId,
    NullText,
    NullTime,
}

/// One statement: its SQL and the values bound to its placeholders, in order.
#[derive(Debug)]
struct Step {
    sql: &'static str,
    args: &'static [Arg],
    /// A read whose row must exist, or a write that must change exactly one row.
    one_row: bool,
}

/// A write path: the statements before its transaction, then those inside
/// (`BEGIN IMMEDIATE` under the write lock … `COMMIT`).
pub struct Workload {
    before: &'static [Step],
    inside: &'static [Step],
}

/// `POST /auth/refresh` as guildhall issues it (`AuthService::refresh_for` in
/// src/service/auth/refresh.rs, `AuthService::issue` in src/service/auth/sessions.rs, and
/// src/store/sessions.rs): `find_refresh` outside the transaction; then `spend_refresh`,
/// `find` (the session), `touch`, `insert_refresh`. The SQL is sea-orm's, as PostgreSQL's
/// `log_statement = all` showed guildhall issuing it (with `$n` for `?`).
pub const REFRESH: Workload = Workload {
    before: &[Step {
        sql: r#"SELECT "refresh_tokens"."id", "refresh_tokens"."session_id", "refresh_tokens"."token_hash", "refresh_tokens"."created_at", "refresh_tokens"."expires_at", "refresh_tokens"."used_at" FROM "refresh_tokens" WHERE "refresh_tokens"."token_hash" = ? LIMIT ?"#,
        args: &[Arg::Hash, Arg::One],
        one_row: true,
    }],
    inside: &[
        Step {
            sql: r#"UPDATE "refresh_tokens" SET "used_at" = ? WHERE "refresh_tokens"."id" = ? AND "refresh_tokens"."used_at" IS NULL"#,
            args: &[Arg::Now, Arg::TokenId],
            one_row: true,
        },
        Step {
            sql: r#"SELECT "sessions"."id", "sessions"."user_id", "sessions"."org_id", "sessions"."user_agent", "sessions"."ip", "sessions"."created_at", "sessions"."last_used_at", "sessions"."expires_at", "sessions"."revoked_at", "sessions"."revoked_reason", "sessions"."client_id", "sessions"."browser_session_id", "sessions"."auth_time", "sessions"."amr", "sessions"."scope", "sessions"."audience", "sessions"."access_ttl", "sessions"."refresh_ttl" FROM "sessions" WHERE "sessions"."id" = ? LIMIT ?"#,
            args: &[Arg::SessionId, Arg::One],
            one_row: true,
        },
        Step {
            sql: r#"UPDATE "sessions" SET "last_used_at" = ?, "org_id" = ? WHERE "sessions"."id" = ?"#,
            args: &[Arg::Now, Arg::OrgId, Arg::SessionId],
            one_row: true,
        },
        Step {
            sql: r#"INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "created_at", "expires_at", "used_at") VALUES (?, ?, ?, ?, ?, ?) RETURNING "id", "session_id", "token_hash", "created_at", "expires_at", "used_at""#,
            args: &[
                Arg::NextTokenId,
                Arg::SessionId,
                Arg::NextHash,
                Arg::Now,
                Arg::RefreshExpires,
                Arg::NullTime,
            ],
            one_row: true,
        },
    ],
};

/// `POST /oauth2/token` with `grant_type=authorization_code` as guildhall issues it
/// (`OpenIdProvider::code_grant` in src/service/openid/grants.rs, `AuthService::start_session`
/// and `issue` in src/service/auth/sessions.rs, `Change::commit` in src/service/change/mod.rs):
/// the client's lookup (`store::apps`, client authentication in client_auth.rs) and
/// `provider::find_code` outside the transaction; then `sessions::count_live`,
/// `sessions::insert`, `users::record_login`, `sessions::insert_refresh`,
/// `provider::spend_code`, and the `SessionCreated` outbox event at commit.
pub const CODE_EXCHANGE: Workload = Workload {
    before: &[
        Step {
            sql: r#"SELECT "oauth_clients"."id", "oauth_clients"."org_id", "oauth_clients"."client_id", "oauth_clients"."name", "oauth_clients"."kind", "oauth_clients"."secret_hash", "oauth_clients"."auth_method", "oauth_clients"."jwks", "oauth_clients"."redirect_uris", "oauth_clients"."post_logout_redirect_uris", "oauth_clients"."grant_types", "oauth_clients"."scopes", "oauth_clients"."resources", "oauth_clients"."first_party", "oauth_clients"."multi_org", "oauth_clients"."access_token_ttl", "oauth_clients"."refresh_token_ttl", "oauth_clients"."backchannel_logout_uri", "oauth_clients"."id_token_alg", "oauth_clients"."active", "oauth_clients"."created_at", "oauth_clients"."updated_at" FROM "oauth_clients" WHERE "oauth_clients"."client_id" = ? LIMIT ?"#,
            args: &[Arg::ClientId, Arg::One],
            one_row: true,
        },
        Step {
            sql: r#"SELECT "authorization_codes"."code_hash", "authorization_codes"."client_id", "authorization_codes"."grant", "authorization_codes"."session_id", "authorization_codes"."created_at", "authorization_codes"."expires_at", "authorization_codes"."used_at" FROM "authorization_codes" WHERE "authorization_codes"."code_hash" = ? LIMIT ?"#,
            args: &[Arg::Hash, Arg::One],
            one_row: true,
        },
    ],
    inside: &[
        Step {
            sql: r#"SELECT COUNT(*) AS num_items FROM (SELECT "sessions"."id", "sessions"."user_id", "sessions"."org_id", "sessions"."user_agent", "sessions"."ip", "sessions"."created_at", "sessions"."last_used_at", "sessions"."expires_at", "sessions"."revoked_at", "sessions"."revoked_reason", "sessions"."client_id", "sessions"."browser_session_id", "sessions"."auth_time", "sessions"."amr", "sessions"."scope", "sessions"."audience", "sessions"."access_ttl", "sessions"."refresh_ttl" FROM "sessions" WHERE "sessions"."user_id" = ? AND "sessions"."revoked_at" IS NULL AND "sessions"."expires_at" > ?) AS "sub_query""#,
            args: &[Arg::UserId, Arg::Now],
            one_row: true,
        },
        Step {
            sql: r#"INSERT INTO "sessions" ("id", "user_id", "org_id", "user_agent", "ip", "created_at", "last_used_at", "expires_at", "revoked_at", "revoked_reason", "client_id", "browser_session_id", "auth_time", "amr", "scope", "audience", "access_ttl", "refresh_ttl") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING "id", "user_id", "org_id", "user_agent", "ip", "created_at", "last_used_at", "expires_at", "revoked_at", "revoked_reason", "client_id", "browser_session_id", "auth_time", "amr", "scope", "audience", "access_ttl", "refresh_ttl""#,
            args: &[
                Arg::SessionId,
                Arg::UserId,
                Arg::OrgId,
                Arg::NullText,
                Arg::Str("127.0.0.1"),
                Arg::Now,
                Arg::Now,
                Arg::SessionExpires,
                Arg::NullTime,
                Arg::NullText,
                Arg::ClientId,
                Arg::BrowserSessionId,
                Arg::Now,
                Arg::Str("pwd"),
                Arg::Str("openid email"),
                Arg::NullText,
                Arg::NullText,
                Arg::NullText,
            ],
            one_row: true,
        },
        Step {
            sql: r#"UPDATE "users" SET "last_login_at" = ?, "default_org_id" = ? WHERE "users"."id" = ?"#,
            args: &[Arg::Now, Arg::OrgId, Arg::UserId],
            one_row: true,
        },
        Step {
            sql: r#"INSERT INTO "refresh_tokens" ("id", "session_id", "token_hash", "created_at", "expires_at", "used_at") VALUES (?, ?, ?, ?, ?, ?) RETURNING "id", "session_id", "token_hash", "created_at", "expires_at", "used_at""#,
            args: &[
                Arg::NextTokenId,
                Arg::SessionId,
                Arg::NextHash,
                Arg::Now,
                Arg::RefreshExpires,
                Arg::NullTime,
            ],
            one_row: true,
        },
        Step {
            sql: r#"UPDATE "authorization_codes" SET "used_at" = ?, "session_id" = ? WHERE "authorization_codes"."code_hash" = ? AND "authorization_codes"."used_at" IS NULL"#,
            args: &[Arg::Now, Arg::SessionId, Arg::Hash],
            one_row: true,
        },
        Step {
            sql: r#"INSERT INTO "outbox_events" ("id", "org_id", "subject", "event_type", "payload", "created_at", "published_at", "attempts", "webhooks_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING "id", "org_id", "subject", "event_type", "payload", "created_at", "published_at", "attempts", "webhooks_at""#,
            args: &[
                Arg::EventId,
                Arg::OrgId,
                Arg::Str("auth.session.created"),
                Arg::Str("guildhall.session.created"),
                Arg::EventPayload,
                Arg::Now,
                Arg::NullTime,
                Arg::Zero,
                Arg::NullTime,
            ],
            one_row: true,
        },
    ],
};

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
        Arg::TokenId => query.bind(s.token_id),
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
        .pragma("journal_size_limit", (64 * 1024 * 1024).to_string());
    Ok(SqlitePoolOptions::new()
        .max_connections(8)
        .min_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await?)
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
