//! The admin commands, run as the real binary against a fresh SQLite file each: what they print,
//! what the API then shows (the same services: audit entries and events), and the exits of bad
//! arguments, bad input and an unreachable database (non-zero, one line).
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// A fresh SQLite database for the binary.
fn fresh_sqlite() -> String {
    let dir = std::env::temp_dir().join("guildhall-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("cli_{}.db", uuid::Uuid::new_v4().simple()));
    format!("sqlite://{}?mode=rwc", file.display())
}

/// Runs `guildhall ARGS` on `database_url` with `env` besides the test settings.
fn guildhall(database_url: &str, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_guildhall"));
    command
        .args(args)
        .env_clear()
        .env("AUTH_DATABASE_URL", database_url)
        .env("AUTH_DATA_DIR", std::env::temp_dir().join("guildhall-tests"))
        .env("AUTH_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("AUTH_ARGON2_MEMORY_KIB", "256")
        .env("AUTH_ARGON2_ITERATIONS", "1")
        .env("AUTH_ISSUER", "http://guildhall.test")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary runs");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// `guildhall` while servers of this test run: off the test's runtime (a current-thread one, the
/// servers' tasks too), so the servers go on meanwhile. Waiting for the command on the runtime's
/// one thread froze a server that was inside a write transaction, holding SQLite's lock: the
/// command waited out its busy timeout and failed with "database is locked".
async fn guildhall_beside_servers(database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let database_url = database_url.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        guildhall(&database_url, &args, &[], stdin.as_deref())
    })
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success; the standard output.
fn ok(output: Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what}: {}\n{}",
        stderr(&output),
        stdout(&output)
    );
    stdout(&output)
}

/// Asserts a failure with exactly one line on standard error, containing `says`.
fn fails(output: Output, code: i32, says: &str) {
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{says}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("guildhall: ") && err.contains(says), "{says}: {err}");
}

#[tokio::test]
async fn users_and_orgs_commands_act_through_the_services() {
    let db = fresh_sqlite();
    let org_id = ok(
        guildhall(&db, &["orgs", "create", "acme", "--name", "Acme Inc"], &[], None),
        "orgs create",
    );
    let listed = ok(guildhall(&db, &["orgs", "list"], &[], None), "orgs list");
    assert!(
        listed.contains(&format!("{}\tacme\tAcme Inc\ttrue", org_id.trim())),
        "{listed}"
    );
    assert!(listed.contains("\tdefault\t"), "{listed}");
    let create = [
        "users",
        "create",
        "ada@acme.test",
        "--org",
        "acme",
        "--role",
        "admin",
        "--name",
        "Ada",
        "--password",
        PASSWORD,
    ];
    let user_id = ok(guildhall(&db, &create, &[], None), "users create");
    let users = ok(guildhall(&db, &["users", "list"], &[], None), "users list");
    assert!(
        users.contains(&format!("{}\tada@acme.test\t-\ttrue\tfalse", user_id.trim())),
        "{users}"
    );
    assert!(users.contains(ADMIN_EMAIL), "{users}");

    // The API sees what the commands did, audited as the system.
    let app = spawn_on(&db, |_| {}).await;
    let ada = app.token_in("ada@acme.test", "acme").await;
    assert_eq!(claims_of(&ada)["roles"], json!(["admin"]));
    let root = app.superuser_token().await;
    let audit = app
        .expect("GET", "/admin/audit?limit=200", &root, None, StatusCode::OK)
        .await;
    let created = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "user.create")
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(created["actor"], "guildhall cli");
    assert!(created["actor_id"].is_null());
    let events = app
        .expect("GET", "/admin/events?limit=200", &root, None, StatusCode::OK)
        .await;
    let types: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"guildhall.org.created") && types.contains(&"guildhall.user.created"),
        "{types:?}"
    );

    // set-password (from standard input) ends the sessions; deactivate refuses logins.
    let set = guildhall_beside_servers(
        &db,
        &["users", "set-password", "ADA@acme.test", "--password-stdin"],
        Some("another long password\n"),
    )
    .await;
    assert!(ok(set, "set-password").contains("ada@acme.test"));
    // SQLite is one process: a server started now reads the sessions the command ended (on
    // PostgreSQL the command's NOTIFY reaches running servers at once).
    let app = spawn_on(&db, |_| {}).await;
    assert_eq!(
        app.me_status(&ada).await,
        StatusCode::UNAUTHORIZED,
        "its sessions ended"
    );
    assert_eq!(
        app.login("ada@acme.test", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login_ok("ada@acme.test", "another long password").await;
    ok(
        guildhall_beside_servers(&db, &["users", "deactivate", "ada@acme.test"], None).await,
        "deactivate",
    );
    assert_eq!(
        app.login("ada@acme.test", "another long password").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// What a change's events do in the webhook dispatcher's queue, seen from the binary (no
/// dispatcher runs there, so the queue holds what the changes wrote): an event no active webhook
/// receives is written fanned out (a bulk seed of organisations without webhooks leaves nothing
/// for the dispatcher to read through), one a webhook wants waits for the fan-out.
#[tokio::test]
async fn events_no_webhook_receives_are_written_fanned_out() {
    use sea_orm::ConnectionTrait;
    let db = fresh_sqlite();
    let hooked = ok(guildhall(&db, &["orgs", "create", "hooked"], &[], None), "orgs create");
    ok(guildhall(&db, &["orgs", "create", "quiet"], &[], None), "orgs create");
    let conn = guildhall::store::connect(&db).await.unwrap();
    let hooked: uuid::Uuid = hooked.trim().parse().unwrap();
    let sealer = guildhall::crypto::seal::Sealer::new(None);
    let hook = guildhall::store::webhooks::NewWebhook {
        org_id: hooked,
        url: "https://hooks.example.test/in".into(),
        event_types: vec!["guildhall.user.*".into()],
        secret: "whsec_test".into(),
    };
    guildhall::store::webhooks::insert(
        &conn,
        &sealer,
        hook,
        guildhall::clock::Clock::now(&guildhall::clock::SystemClock),
    )
    .await
    .unwrap();
    for (email, org) in [("a@hooked.test", "hooked"), ("b@quiet.test", "quiet")] {
        let create = ["users", "create", email, "--org", org, "--password", PASSWORD];
        ok(guildhall(&db, &create, &[], None), "users create");
    }
    let sql = r#"SELECT COALESCE(o.slug, '-') AS org, e.event_type AS kind,
            e.webhooks_at IS NULL AS waiting, e.webhooks_at = e.created_at AS at_creation
        FROM outbox_events e LEFT JOIN organisations o ON o.id = e.org_id
        WHERE e.event_type LIKE 'guildhall.user.%' OR e.event_type LIKE 'guildhall.member%'"#;
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, sql))
        .await
        .unwrap();
    let rows: Vec<(String, String, bool, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "org").unwrap(),
                r.try_get("", "kind").unwrap(),
                r.try_get("", "waiting").unwrap(),
                r.try_get::<Option<bool>>("", "at_creation").unwrap().unwrap_or(false),
            )
        })
        .collect();
    let waiting: Vec<_> = rows.iter().filter(|r| r.2).collect();
    assert!(
        !waiting.is_empty()
            && waiting
                .iter()
                .all(|r| r.0 == "hooked" && r.1.starts_with("guildhall.user.")),
        "only the events the webhook wants wait: {rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.0 == "quiet") && rows.iter().filter(|r| !r.2).all(|r| r.3),
        "the rest are written fanned out at their creation: {rows:?}"
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn keys_list_and_rotate() {
    let db = fresh_sqlite();
    let first = ok(guildhall(&db, &["keys", "list"], &[], None), "keys list");
    let rows: Vec<&str> = first.lines().skip(1).collect();
    assert_eq!(
        rows.len(),
        2,
        "an ES256 access-token key and the RS256 ID-token key: {first}"
    );
    let es = rows.iter().find(|r| r.starts_with("es256-")).unwrap();
    let rs = rows.iter().find(|r| r.starts_with("rs256-")).unwrap();
    assert!(es.ends_with("\t-\taccess") && rs.ends_with("\t-\tid"), "{first}");
    let kid = ok(guildhall(&db, &["keys", "rotate"], &[], None), "keys rotate");
    let after = ok(guildhall(&db, &["keys", "list"], &[], None), "keys list");
    let rows: Vec<&str> = after.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{after}");
    let new = rows.iter().find(|r| r.starts_with(kid.trim())).unwrap();
    assert!(new.ends_with("access"), "the new key signs: {after}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("rs256-") && r.ends_with("\tid") && *r != *rs),
        "a new ID-token key: {after}"
    );
    for old in [es, rs] {
        let row = rows
            .iter()
            .find(|r| r.starts_with(old.split('\t').next().unwrap()))
            .unwrap();
        assert!(
            row.ends_with("\t-") && !row.contains("\t-\t-"),
            "the old one is retired: {after}"
        );
    }
}

#[tokio::test]
async fn doctor_says_what_is_wrong() {
    let db = fresh_sqlite();
    let missing = guildhall(&db, &["doctor"], &[], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stdout(&missing).contains("FAIL  database: the SQLite file"),
        "{}",
        stdout(&missing)
    );
    ok(guildhall(&db, &["migrate"], &[], None), "migrate");
    let healthy = ok(guildhall(&db, &["doctor"], &[], None), "doctor");
    for line in [
        "ok    database: reachable",
        "ok    migrations: current",
        "no problems found",
    ] {
        assert!(healthy.contains(line), "{line}: {healthy}");
    }
    assert!(healthy.contains("warn  signing keys: none of ES256 yet"), "{healthy}");

    let nats = guildhall(&db, &["doctor"], &[("AUTH_NATS_URL", "nats://127.0.0.1:1")], None);
    assert_eq!(nats.status.code(), Some(1));
    assert!(
        stdout(&nats).contains("FAIL  nats: cannot reach nats://127.0.0.1:1"),
        "{}",
        stdout(&nats)
    );
    let smtp = guildhall(&db, &["doctor"], &[("AUTH_SMTP_URL", "smtp://127.0.0.1:1")], None);
    assert_eq!(smtp.status.code(), Some(1));
    assert!(stdout(&smtp).contains("FAIL  smtp:"), "{}", stdout(&smtp));

    // Secrets sealed with one master key do not open with another, or with none.
    let key = [("AUTH_MASTER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")];
    ok(guildhall(&db, &["keys", "list"], &key, None), "sealing start");
    ok(guildhall(&db, &["doctor"], &key, None), "doctor with the key");
    let other = [("AUTH_MASTER_KEY", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=")];
    for env in [&other[..], &[]] {
        let wrong = guildhall(&db, &["doctor"], env, None);
        assert_eq!(wrong.status.code(), Some(1), "{}", stdout(&wrong));
        assert!(
            stdout(&wrong).contains("FAIL  signing keys: cannot be read"),
            "{}",
            stdout(&wrong)
        );
        assert!(stdout(&wrong).contains("FAIL  master key:"), "{}", stdout(&wrong));
    }
    let bad = guildhall(&db, &["doctor"], &[("AUTH_JWT_ALGORITHM", "none")], None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).contains("FAIL  configuration: unknown AUTH_JWT_ALGORITHM"));
}

#[tokio::test]
async fn bad_arguments_bad_input_and_an_unreachable_database_exit_with_one_line() {
    let db = fresh_sqlite();
    fails(
        guildhall(&db, &["users", "frobnicate"], &[], None),
        2,
        "unrecognized subcommand",
    );
    fails(guildhall(&db, &["orgs", "create"], &[], None), 2, "required");
    fails(guildhall(&db, &["completions", "tcsh"], &[], None), 2, "invalid value");
    let weak = ["users", "create", "not-an-email", "--password", PASSWORD];
    fails(guildhall(&db, &weak, &[], None), 1, "email");
    let short = ["users", "create", "bo@acme.test", "--password", "short"];
    fails(guildhall(&db, &short, &[], None), 1, "password");
    let unknown = ["users", "set-password", "nobody@acme.test", "--password", PASSWORD];
    fails(guildhall(&db, &unknown, &[], None), 1, "User not found");
    fails(guildhall(&db, &["orgs", "create", "Not A Slug"], &[], None), 1, "slug");
    ok(guildhall(&db, &["orgs", "create", "acme"], &[], None), "orgs create");
    fails(
        guildhall(&db, &["orgs", "create", "acme"], &[], None),
        1,
        "already exists",
    );
    let nowhere = "sqlite:///nonexistent-guildhall-dir/sub/g.db";
    fails(
        guildhall(nowhere, &["users", "list"], &[], None),
        1,
        "cannot connect to the database",
    );
    fails(
        guildhall(&db, &["users", "list"], &[("AUTH_ENV", "staging")], None),
        1,
        "configuration error",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_healthcheck() {
    let db = fresh_sqlite();
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(guildhall(&db, &["completions", shell], &[], None), shell);
        assert!(
            script.contains("guildhall") && script.contains("set-password"),
            "{shell}"
        );
    }
    fails(
        guildhall(&db, &["healthcheck"], &[("AUTH_PORT", "1")], None),
        1,
        "does not answer",
    );
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    ok(
        guildhall(&db, &["healthcheck"], &[("AUTH_PORT", &port)], None),
        "healthcheck",
    );
}
