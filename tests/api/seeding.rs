//! Declarative seeding: plan, apply, idempotence, prune, errors with paths, HTTP, start-up, CLI.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const DEMO: &str = include_str!("../../seed/demo.yaml");

async fn seed(app: &TestApp, token: &str, yaml: &str, query: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/admin/seed{query}")))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(yaml.to_owned())
        .send()
        .await
        .unwrap()
}

async fn seed_ok(app: &TestApp, token: &str, yaml: &str, query: &str) -> Value {
    let response = seed(app, token, yaml, query).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await
}

async fn demo_login(app: &TestApp, email: &str) -> Value {
    let password = format!("demo password for {}", email.split('@').next().unwrap());
    let response = app
        .post_json(
            "/auth/login",
            &json!({"email": email, "password": password, "organization": "demo"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{email} logs in");
    body(response).await
}

#[tokio::test]
async fn plan_writes_nothing_apply_makes_it_so_and_again_changes_nothing() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let plan = seed_ok(&app, &root, DEMO, "?dry_run=true").await;
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["summary"]["unchanged"], 0);
    assert!(plan["summary"]["create"].as_u64().unwrap() >= 20, "{plan}");
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["object"] == "team demo/engineering" && c["action"] == "create")
    );
    assert_eq!(
        app.expect("GET", "/orgs", &root, None, StatusCode::OK).await["total"],
        1,
        "the plan wrote nothing"
    );

    let applied = seed_ok(&app, &root, DEMO, "").await;
    assert_eq!(applied["summary"], plan["summary"], "apply does what the plan said");
    let again = seed_ok(&app, &root, DEMO, "").await;
    assert_eq!(again["summary"]["create"], 0);
    assert_eq!(again["summary"]["update"], 0);
    assert_eq!(again["summary"]["delete"], 0);
    assert_eq!(again["summary"]["unchanged"], plan["summary"]["create"]);

    let alice = demo_login(&app, "alice@demo.test").await;
    let claims = claims_of(alice["access_token"].as_str().unwrap());
    assert_eq!(claims["roles"], json!(["admin"]));
    let teams: Vec<&str> = claims["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["engineering", "general"]);
    assert_eq!(claims["domains"], json!(["engineering"]));
    let v = app.validate(alice["access_token"].as_str().unwrap()).await;
    let paths: Vec<&str> = v["user"]["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "engineering",
            "engineering/backend",
            "engineering/frontend",
            "engineering/platform",
            "engineering/platform/infrastructure"
        ]
    );
    let bob = demo_login(&app, "bob@demo.test").await;
    assert_eq!(
        claims_of(bob["access_token"].as_str().unwrap())["permissions"],
        json!(["read:prompts", "write:prompts"])
    );
    expect_error(
        app.login("dave@demo.test", "anything at all").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let grant = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "demo-backend"),
                ("client_secret", "demo-backend-secret-change-me-0123456789"),
            ],
        )
        .await;
    assert_eq!(grant.status(), StatusCode::OK, "the seeded service account works");

    let events = app
        .expect("GET", "/admin/events?limit=200", &root, None, StatusCode::OK)
        .await;
    let subjects: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("auth.team.") && s.ends_with(".created"))
    );
    assert!(subjects.iter().any(|s| s.ends_with(".membership.changed")));
}

#[tokio::test]
async fn changes_update_in_place_and_bump_membership_versions() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    seed_ok(&app, &root, DEMO, "").await;
    let bob = demo_login(&app, "bob@demo.test").await;
    let token = bob["access_token"].as_str().unwrap();
    let changed = DEMO
        .replace("roles: [member, editor]", "roles: [member]")
        .replace("{slug: product, name: Product}", "{slug: product, name: Product Team}");
    let plan = seed_ok(&app, &root, &changed, "?dry_run=true").await;
    let updates: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "update")
        .map(|c| c["object"].as_str().unwrap())
        .collect();
    assert_eq!(updates, ["team demo/product", "user bob@demo.test in demo"]);
    seed_ok(&app, &root, &changed, "").await;
    let v = app.validate(token).await;
    assert_eq!(
        v["user"]["roles"],
        json!(["member"]),
        "the running token's validation is current"
    );
    let fresh = demo_login(&app, "bob@demo.test").await;
    let fresh_mv = claims_of(fresh["access_token"].as_str().unwrap())["mv"]
        .as_i64()
        .unwrap();
    assert!(fresh_mv > claims_of(token)["mv"].as_i64().unwrap());
}

/// A member a seed adds starts at `mv` 1 (no statement moved it), and yet a refusal cached for
/// them before ("not a member") is forgotten when the seed commits; a later change moves it.
#[tokio::test]
async fn a_member_a_seed_adds_starts_at_version_1_and_is_current_at_once() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    seed_ok(&app, &root, DEMO, "").await;
    app.register("ada@example.test").await;
    let into_demo = json!({"email": "ada@example.test", "password": PASSWORD, "organization": "demo"});
    let refused = app.post_json("/auth/login", &into_demo).await;
    expect_error(refused, StatusCode::FORBIDDEN, "not_a_member").await;

    let ada = "      - {email: ada@example.test, roles: [member]}\n      - email: alice@demo.test";
    let joined = DEMO.replacen("      - email: alice@demo.test", ada, 1);
    seed_ok(&app, &root, &joined, "").await;
    let login = app.post_json("/auth/login", &into_demo).await;
    assert_eq!(login.status(), StatusCode::OK, "the cached refusal was forgotten");
    let token = body(login).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        claims_of(&token)["mv"],
        1,
        "a new membership's version is the one it was inserted with"
    );
    assert_eq!(app.validate(&token).await["user"]["roles"], json!(["member"]));

    let promoted = joined.replace(
        "{email: ada@example.test, roles: [member]}",
        "{email: ada@example.test, roles: [member, editor]}",
    );
    seed_ok(&app, &root, &promoted, "").await;
    assert_eq!(app.validate(&token).await["user"]["roles"], json!(["editor", "member"]));
    let fresh = body(app.post_json("/auth/login", &into_demo).await).await;
    assert_eq!(
        claims_of(fresh["access_token"].as_str().unwrap())["mv"],
        2,
        "a change of an existing membership moves it"
    );
}

#[tokio::test]
async fn prune_deletes_only_with_the_flag_and_only_in_listed_organisations() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    seed_ok(&app, &root, DEMO, "").await;
    let other = app.create_org("other").await;
    app.create_team(&other.admin_token, "keep").await;
    let smaller = DEMO
        .replace("      - {slug: design, name: Design}\n", "")
        .replace("design: maintainer, ", "")
        .replace(
            "          - {value: designers, roles: [member], teams: {design: member}, domains: [design]}\n",
            "",
        );

    let smaller = smaller.replace(
        "      - email: dave@demo.test\n        name: Dave from Sales\n        roles: [member]\n        teams: {general: member}\n        domains: [sales]\n",
        "",
    );
    let without = seed_ok(&app, &root, &smaller, "").await;
    assert_eq!(without["summary"]["delete"], 0, "nothing is deleted without prune");
    let pruned = seed_ok(&app, &root, &smaller, "?prune=true").await;
    let deleted: Vec<&str> = pruned["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "delete")
        .map(|c| c["object"].as_str().unwrap())
        .collect();
    assert!(deleted.contains(&"team demo/design"), "{deleted:?}");
    assert!(deleted.contains(&"membership of dave@demo.test in demo"), "{deleted:?}");
    assert_eq!(
        app.expect("GET", "/teams/all", &other.admin_token, None, StatusCode::OK)
            .await["total"],
        1,
        "other organisations are untouched"
    );
    let again = seed_ok(&app, &root, &smaller, "?prune=true").await;
    assert_eq!(again["summary"]["delete"], 0);
    assert_eq!(again["summary"]["update"], 0);
}

#[tokio::test]
async fn bad_documents_are_refused_whole_with_every_problem_and_its_path() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let bad = r#"
orgs:
  - slug: acme
    name: Acme
    teams: [{slug: eng, name: Eng}, {slug: eng, name: Again}]
    domains: [{key: a, name: A, parent: b}, {key: b, name: B, parent: a}, {key: c, name: C, parent: nowhere}]
    users:
      - {email: ada@acme.test, password: "password", roles: [ghost], teams: {nope: member}, domains: [zz]}
"#;
    let response = seed(&app, &root, bad, "").await;
    let b = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fields: Vec<&str> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for expected in [
        "orgs[0].teams[1].slug",
        "orgs[0].domains[0].parent",
        "orgs[0].domains[2].parent",
        "orgs[0].users[0].password",
        "orgs[0].users[0].roles[0]",
        "orgs[0].users[0].teams.nope",
        "orgs[0].users[0].domains[0]",
    ] {
        assert!(fields.contains(&expected), "{expected} in {fields:?}");
    }
    let unknown = seed(&app, &root, "orgs:\n  - {slug: acme, name: Acme, colour: red}\n", "").await;
    let b = expect_error(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(b["errors"][0]["field"], "orgs[0].colour");
    let typed = seed(
        &app,
        &root,
        "orgs:\n  - {slug: acme, name: Acme, teams: [{slug: 7, name: [x]}]}\n",
        "",
    )
    .await;
    expect_error(typed, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let garbage = seed(&app, &root, "orgs: [", "").await;
    expect_error(garbage, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        app.expect("GET", "/orgs", &root, None, StatusCode::OK).await["total"],
        1,
        "nothing written"
    );

    let acme = app.create_org("acme").await;
    expect_error(
        seed(&app, &acme.admin_token, DEMO, "").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let wrong_type = app
        .client
        .post(app.url("/admin/seed"))
        .bearer_auth(&root)
        .header("content-type", "image/png")
        .body(DEMO)
        .send()
        .await
        .unwrap();
    expect_error(wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_large_document_applies_in_one_go() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let mut yaml = String::from("orgs:\n  - slug: big\n    name: Big\n    teams:\n");
    for t in 0..200 {
        yaml.push_str(&format!("      - {{slug: team-{t}, name: Team {t}}}\n"));
    }
    yaml.push_str("    domains:\n      - key: root\n        name: Root\n        children:\n");
    for d in 0..20 {
        yaml.push_str(&format!("          - {{key: d{d}, name: D{d}}}\n"));
    }
    yaml.push_str("    users:\n");
    for u in 0..1000 {
        yaml.push_str(&format!(
            "      - {{email: user{u}@big.test, teams: {{team-{}: member}}, domains: [d{}]}}\n",
            u % 200,
            u % 20
        ));
    }
    let started = std::time::Instant::now();
    let applied = seed_ok(&app, &root, &yaml, "").await;
    let first = started.elapsed();
    assert_eq!(applied["summary"]["create"], 1 + 200 + 21 + 1000);
    let started = std::time::Instant::now();
    let again = seed_ok(&app, &root, &yaml, "").await;
    assert_eq!(again["summary"]["unchanged"], 1 + 200 + 21 + 1000);
    eprintln!(
        "1,000 users / 200 teams: first apply {first:?}, second {:?}",
        started.elapsed()
    );
    let members = app
        .expect(
            "GET",
            &format!("/orgs/{}/members?limit=1", applied_org(&app, &root).await),
            &root,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(members["total"], 1000);
}

async fn applied_org(app: &TestApp, root: &str) -> String {
    let orgs = app.expect("GET", "/orgs", root, None, StatusCode::OK).await;
    orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["slug"] == "big")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_seed_file_is_applied_at_start_and_a_bad_one_stops_it() {
    let dir = std::env::temp_dir().join("guildhall-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join(format!("seed-{}.yaml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&good, DEMO).unwrap();
    let app = spawn_app_with(|s| s.seed_file = Some(good.clone())).await;
    demo_login(&app, "alice@demo.test").await;

    let bad = dir.join(format!("seed-{}.yaml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&bad, "orgs:\n  - {slug: BAD, name: x}\n").unwrap();
    let mut settings = test_settings(&fresh_database_url().await);
    settings.seed_file = Some(bad.clone());
    let config = guildhall::config::Config::try_from(settings).unwrap();
    let error = match guildhall::startup::Application::build(config).await {
        Ok(_) => panic!("a bad seed document must stop start-up"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("orgs[0].slug: must be"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn replicas_starting_together_seed_exactly_once() {
    let database_url = fresh_database_url().await;
    let dir = std::env::temp_dir().join("guildhall-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("seed-{}.yaml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, DEMO).unwrap();
    let starts = (0..3).map(|_| {
        let (url, file) = (database_url.clone(), file.clone());
        tokio::spawn(async move { spawn_on(&url, |s| s.seed_file = Some(file)).await })
    });
    let mut apps = Vec::new();
    for start in starts {
        apps.push(start.await.expect("every replica starts"));
    }
    let app = &apps[0];
    let root = app.superuser_token().await;
    let orgs = app.expect("GET", "/orgs", &root, None, StatusCode::OK).await;
    assert_eq!(orgs["total"], 2, "default and demo, once each");
    let users = app.expect("GET", "/admin/users", &root, None, StatusCode::OK).await;
    assert_eq!(users["total"], 5, "the admin and four demo users, once each");
    demo_login(&apps[2], "carol@demo.test").await;
}

#[tokio::test]
async fn the_cli_plans_and_applies() {
    let database_url = fresh_database_url().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_guildhall"))
            .args(args)
            .env_clear()
            .env("AUTH_DATABASE_URL", &database_url)
            .env("AUTH_ARGON2_MEMORY_KIB", "256")
            .env("AUTH_ARGON2_ITERATIONS", "1")
            .env("AUTH_LOG_FORMAT", "json")
            .output()
            .unwrap()
    };
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/seed/demo.yaml");
    let plan = run(&["seed", "plan", demo]);
    let out = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.status.success(), "{out} {}", String::from_utf8_lossy(&plan.stderr));
    assert!(
        out.lines()
            .any(|l| l.starts_with("create") && l.ends_with("team demo/general")),
        "{out}"
    );
    assert!(out.lines().last().unwrap().contains("0 unchanged"), "{out}");
    let apply = run(&["seed", "apply", demo]);
    assert!(apply.status.success());
    let again = run(&["seed", "apply", demo]);
    let out = String::from_utf8_lossy(&again.stdout);
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("0 to create, 0 to update, 0 to delete"),
        "{out}"
    );

    let bad = std::env::temp_dir().join(format!("guildhall-bad-{}.yaml", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &bad,
        "orgs:\n  - {slug: acme, name: Acme, teams: [{slug: eng, name: A}, {slug: eng, name: B}]}\n",
    )
    .unwrap();
    let refused = run(&["seed", "apply", bad.to_str().unwrap()]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("orgs[0].teams[1].slug: duplicate \"eng\""), "{err}");
}

/// A bulk seed leaves no WAL as large as what it wrote (SQLite): the run checkpoints and
/// truncates it, and `journal_size_limit` keeps later checkpoints from leaving a large file.
#[tokio::test]
async fn a_bulk_seed_on_sqlite_leaves_no_large_wal_behind() {
    let app = spawn_app().await;
    let Some(path) = app.database_url.strip_prefix("sqlite://") else {
        return; // PostgreSQL: nothing to check.
    };
    let db = path.split('?').next().unwrap().to_owned();
    let root = app.superuser_token().await;
    let mut yaml = String::from("orgs:\n  - slug: bulk\n    name: Bulk\n    users:\n");
    for i in 0..1200 {
        yaml.push_str(&format!("      - {{email: user{i}@bulk.test, name: User {i}}}\n"));
    }
    let plan = seed_ok(&app, &root, &yaml, "").await;
    assert!(
        plan.to_string().contains("user1199@bulk.test") || plan["created"].as_u64().unwrap_or(0) >= 1200,
        "{plan}"
    );
    let wal = std::fs::metadata(format!("{db}-wal")).map_or(0, |m| m.len());
    let data = std::fs::metadata(&db).unwrap().len();
    assert!(
        wal < 256 * 1024,
        "the WAL holds {wal} bytes after the seed (database: {data} bytes)"
    );
    assert!(data > 1024 * 1024, "the database holds the seed ({data} bytes)");
}

/// A first page's `total` of an admin list.
async fn total(app: &TestApp, root: &str, path: &str) -> u64 {
    app.expect("GET", &format!("{path}?limit=1"), root, None, StatusCode::OK)
        .await["total"]
        .as_u64()
        .unwrap()
}

/// Past the rows of one multi-row insert (1,000): 2,500 users with roles, two teams, a domain
/// each (some inactive, one with a password) are all written, with one event per change as one
/// user at a time wrote them; the second apply notes everything unchanged and writes nothing.
#[tokio::test]
async fn a_document_past_the_chunk_size_applies_once_and_again_writes_nothing() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let mut yaml = String::from(
        "orgs:\n  - slug: chunky\n    name: Chunky\n    roles:\n      - {key: editor, permissions: [docs.write]}\n    teams:\n",
    );
    for t in 0..20 {
        yaml.push_str(&format!("      - {{slug: team-{t}, name: Team {t}}}\n"));
    }
    yaml.push_str("    domains:\n      - key: root\n        name: Root\n        children:\n");
    for d in 0..10 {
        yaml.push_str(&format!("          - {{key: d{d}, name: D{d}}}\n"));
    }
    yaml.push_str("    users:\n");
    for u in 0..2500 {
        let extra = match u {
            0 => ", password: 'chunky password 0', roles: [member, editor]".to_owned(),
            _ if u % 100 == 7 => ", active: false".to_owned(),
            _ => String::new(),
        };
        yaml.push_str(&format!(
            "      - {{email: User{u}@Chunky.test, teams: {{team-{}: member, team-{}: maintainer}}, domains: [d{}]{extra}}}\n",
            u % 20,
            (u + 7) % 20,
            u % 10
        ));
    }
    let applied = seed_ok(&app, &root, &yaml, "").await;
    let objects = 1 + 1 + 20 + 11 + 2500;
    assert_eq!(applied["summary"]["create"], objects, "{}", applied["summary"]);

    let org = app.expect("GET", "/orgs", &root, None, StatusCode::OK).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["slug"] == "chunky")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(total(&app, &root, &format!("/orgs/{org}/members")).await, 2500);
    let login = app
        .post_json(
            "/auth/login",
            &json!({"email": "user0@chunky.test", "password": "chunky password 0", "organization": "chunky"}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK, "the hashed password logs in");
    let claims = claims_of(body(login).await["access_token"].as_str().unwrap());
    assert_eq!(claims["roles"], json!(["editor", "member"]));
    let teams: Vec<&str> = claims["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["team-0", "team-7"]);
    assert_eq!(claims["domains"], json!(["root/d0"]));

    let events = total(&app, &root, "/admin/events").await;
    let audit = total(&app, &root, "/admin/audit").await;
    let again = seed_ok(&app, &root, &yaml, "").await;
    assert_eq!(again["summary"]["unchanged"], objects, "{}", again["summary"]);
    assert_eq!(again["summary"]["create"], 0);
    assert_eq!(again["summary"]["update"], 0);
    assert_eq!(
        total(&app, &root, "/admin/events").await,
        events,
        "no event the second time"
    );
    assert_eq!(
        total(&app, &root, "/admin/audit").await,
        audit,
        "no audit entry the second time"
    );
}

/// More users in one organisation than SQLite binds parameters in a statement (32,766): every
/// list of emails or members is asked and written in chunks, and a second apply finds them all.
/// SQLite only: PostgreSQL's limit (65,535) is twice as far, and the same chunked statements
/// run there in every other seeding test.
#[tokio::test]
async fn a_document_past_the_bound_parameter_limit_applies() {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres")) {
        eprintln!("skipped: SQLite's bound-parameter limit (PostgreSQL's is past this document)");
        return;
    }
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let users = 33_000;
    let mut yaml = String::from("orgs:\n  - slug: huge\n    name: Huge\n    users:\n");
    for u in 0..users {
        yaml.push_str(&format!("      - {{email: u{u}@huge.test}}\n"));
    }
    let started = std::time::Instant::now();
    let applied = seed_ok(&app, &root, &yaml, "").await;
    let first = started.elapsed();
    assert_eq!(applied["summary"]["create"], 1 + users);
    let started = std::time::Instant::now();
    let again = seed_ok(&app, &root, &yaml, "").await;
    eprintln!("{users} users: first apply {first:?}, second {:?}", started.elapsed());
    assert_eq!(again["summary"]["unchanged"], 1 + users);
    assert_eq!(again["summary"]["create"], 0);
}

/// Seed 002's user numbers for a bulk seed: one per new account, past one statement's chunk,
/// consecutive and in the document's order (the commit hook numbers them with multi-row inserts).
#[tokio::test]
async fn a_bulk_seed_numbers_its_accounts_in_document_order() {
    use sea_orm::{EntityTrait, QueryOrder};
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let users = 1_500;
    let mut yaml = String::from("orgs:\n  - slug: numbered\n    name: Numbered\n    users:\n");
    for u in 0..users {
        yaml.push_str(&format!("      - {{email: u{u}@numbered.test}}\n"));
    }
    seed_ok(&app, &root, &yaml, "").await;
    seed_ok(&app, &root, &yaml, "").await;
    let db = guildhall::store::connect(&app.database_url).await.unwrap();
    let emails: std::collections::HashMap<uuid::Uuid, String> = entity::user::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    let numbered: Vec<(i32, String)> = entity::user_number::Entity::find()
        .order_by_asc(entity::user_number::Column::Number)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.number, emails[&n.user_id].clone()))
        .filter(|(_, email)| email.ends_with("@numbered.test"))
        .collect();
    let expected: Vec<String> = (0..users).map(|u| format!("u{u}@numbered.test")).collect();
    let got: Vec<String> = numbered.iter().map(|(_, email)| email.clone()).collect();
    assert_eq!(got, expected, "one number per account, in the document's order");
    let first = numbered[0].0;
    assert!(
        numbered.iter().zip(first..).all(|((number, _), want)| *number == want),
        "consecutive numbers"
    );
}

/// A role's change reaches the contexts a server has cached in place (no member read again):
/// what that server answers is what a server loading them afresh answers, for a holder of the
/// changed role, a holder of a removed one and a member with neither, and `mv` in a refreshed
/// token is the one a fresh login gets.
#[tokio::test]
async fn a_role_change_made_in_place_answers_as_a_fresh_load_would() {
    let db = fresh_database_url().await;
    let app = spawn_on(&db, |_| {}).await;
    let root = app.superuser_token().await;
    seed_ok(&app, &root, DEMO, "").await;
    let people = ["bob@demo.test", "carol@demo.test", "alice@demo.test"];
    let mut logins = Vec::new();
    for email in people {
        let login = demo_login(&app, email).await;
        let token = login["access_token"].as_str().unwrap().to_owned();
        assert_eq!(app.validate(&token).await["valid"], true, "{email}: cached now");
        logins.push(login);
    }
    let org = claims_of(logins[0]["access_token"].as_str().unwrap())["org"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let roles = app
        .expect("GET", &format!("/orgs/{org}/roles"), &root, None, StatusCode::OK)
        .await;
    let id_of = |key: &str| {
        roles.as_array().unwrap().iter().find(|r| r["key"] == key).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let patch = json!({"permissions": ["publish:prompts", "read:prompts"]});
    let editor = format!("/orgs/{org}/roles/{}", id_of("editor"));
    app.expect("PATCH", &editor, &root, Some(patch), StatusCode::OK).await;
    let viewer = format!("/orgs/{org}/roles/{}", id_of("viewer"));
    app.expect("DELETE", &viewer, &root, None, StatusCode::NO_CONTENT).await;

    let fresh = spawn_on(&db, |_| {}).await;
    for (email, login) in people.iter().zip(&logins) {
        let token = login["access_token"].as_str().unwrap();
        let (cached, loaded) = (app.validate(token).await, fresh.validate(token).await);
        assert_eq!(cached, loaded, "{email}");
    }
    let bob = app.validate(logins[0]["access_token"].as_str().unwrap()).await;
    assert_eq!(bob["user"]["permissions"], json!(["publish:prompts", "read:prompts"]));
    let carol = app.validate(logins[1]["access_token"].as_str().unwrap()).await;
    assert_eq!(carol["user"]["roles"], json!(["member"]));
    assert_eq!(carol["user"]["permissions"], json!([]));

    let refreshed = app
        .post_json("/auth/refresh", &json!({"refresh_token": logins[2]["refresh_token"]}))
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = body(refreshed).await;
    let again = demo_login(&fresh, "alice@demo.test").await;
    let mv = |login: &Value| claims_of(login["access_token"].as_str().unwrap())["mv"].clone();
    assert_eq!(mv(&refreshed), mv(&again), "a member without either role: mv moved too");
    assert!(mv(&again).as_i64().unwrap() > mv(&logins[2]).as_i64().unwrap());
}
