//! Events in the outbox (every backend), the audit log, NATS delivery (with TEST_NATS_URL), and
//! consistency between replicas (with TEST_DATABASE_URL).
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

async fn all_events(app: &TestApp) -> Vec<Value> {
    events_with(app, &app.superuser_token().await).await
}

async fn events_with(app: &TestApp, root: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .expect(
                "GET",
                &format!("/admin/events?limit=200&cursor={cursor}"),
                root,
                None,
                StatusCode::OK,
            )
            .await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return out,
        }
    }
}

fn subjects(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_owned())
        .collect()
}

/// Does every kind of change, returning the ids involved.
async fn make_changes(app: &TestApp) -> HashMap<&'static str, String> {
    let mut ids = HashMap::new();
    let acme = app.create_org("acme").await;
    let t = &acme.admin_token;
    let registered = app.register("reg@example.test").await;
    ids.insert("registered", registered["user"]["id"].as_str().unwrap().to_owned());
    let (access, _) = tokens(&registered);
    ids.insert("session", claims_of(&access)["sid"].as_str().unwrap().to_owned());
    assert_eq!(
        app.post_with("/auth/logout", &access).await.status(),
        StatusCode::NO_CONTENT
    );
    let ada = app.user_in(t, &acme.id, "ada@example.test", &["member"]).await;
    app.expect(
        "PUT",
        &format!("/orgs/{}/members/{ada}", acme.id),
        t,
        Some(json!({"roles": ["admin", "member"]})),
        StatusCode::OK,
    )
    .await;
    let team = app.create_team(t, "platform").await;
    app.expect(
        "PATCH",
        &format!("/teams/{team}"),
        t,
        Some(json!({"name": "Platform"})),
        StatusCode::OK,
    )
    .await;
    app.expect(
        "PUT",
        &format!("/teams/{team}/members/{ada}"),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    app.expect("DELETE", &format!("/teams/{team}"), t, None, StatusCode::NO_CONTENT)
        .await;
    let domain = app.create_domain(t, "engineering", None).await;
    app.expect(
        "PUT",
        &format!("/domains/{domain}/users/{ada}"),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    app.expect("DELETE", &format!("/domains/{domain}"), t, None, StatusCode::NO_CONTENT)
        .await;
    let role = app
        .expect(
            "POST",
            &format!("/orgs/{}/roles", acme.id),
            t,
            Some(json!({"key": "editor"})),
            StatusCode::CREATED,
        )
        .await;
    let role = role["id"].as_str().unwrap().to_owned();
    app.expect(
        "DELETE",
        &format!("/orgs/{}/roles/{role}", acme.id),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let account = app
        .expect(
            "POST",
            &format!("/orgs/{}/service-accounts", acme.id),
            t,
            Some(json!({"name": "svc"})),
            StatusCode::CREATED,
        )
        .await;
    let account = account["id"].as_str().unwrap().to_owned();
    app.expect(
        "DELETE",
        &format!("/orgs/{}/service-accounts/{account}", acme.id),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    app.expect(
        "PATCH",
        &format!("/admin/users/{ada}"),
        t,
        Some(json!({"name": "Ada L."})),
        StatusCode::OK,
    )
    .await;
    app.expect(
        "DELETE",
        &format!("/orgs/{}/members/{ada}", acme.id),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let root = app.superuser_token().await;
    app.expect(
        "DELETE",
        &format!("/admin/users/{ada}"),
        &root,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    for (k, v) in [
        ("org", acme.id),
        ("ada", ada),
        ("team", team),
        ("domain", domain),
        ("role", role),
        ("account", account),
    ] {
        ids.insert(k, v);
    }
    ids
}

#[tokio::test]
async fn every_change_leaves_a_cloudevent_on_its_subject() {
    let app = spawn_app().await;
    let ids = make_changes(&app).await;
    let events = all_events(&app).await;
    let seen: BTreeSet<String> = subjects(&events).into_iter().collect();
    let (org, ada, team, domain, role, account) = (
        &ids["org"],
        &ids["ada"],
        &ids["team"],
        &ids["domain"],
        &ids["role"],
        &ids["account"],
    );
    let expected = [
        format!("auth.user.{}.created", ids["registered"]),
        format!("auth.session.{}.created", ids["session"]),
        format!("auth.session.{}.invalidated", ids["session"]),
        format!("auth.user.{ada}.created"),
        format!("auth.user.{ada}.updated"),
        format!("auth.user.{ada}.deleted"),
        format!("auth.org.{org}.created"),
        format!("auth.org.{org}.membership.changed"),
        format!("auth.team.{team}.created"),
        format!("auth.team.{team}.updated"),
        format!("auth.team.{team}.members.changed"),
        format!("auth.team.{team}.deleted"),
        format!("auth.domain.{domain}.created"),
        format!("auth.domain.{domain}.users.changed"),
        format!("auth.domain.{domain}.deleted"),
        format!("auth.role.{role}.created"),
        format!("auth.role.{role}.deleted"),
        format!("auth.identity.{account}.created"),
        format!("auth.identity.{account}.deleted"),
    ];
    for subject in expected {
        assert!(seen.contains(&subject), "{subject} missing from {seen:#?}");
    }
    for e in &events {
        let ce = &e["event"];
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["id"], e["id"]);
        assert_eq!(ce["source"], "http://guildhall.test");
        assert!(ce["type"].as_str().unwrap().starts_with("guildhall."));
        assert!(ce["time"].is_string() && ce["data"].is_object(), "{ce}");
    }
    let roles_changed = events
        .iter()
        .find(|e| {
            e["subject"] == format!("auth.org.{org}.membership.changed")
                && e["event"]["data"]["action"] == "roles_changed"
        })
        .expect("a roles change");
    assert_eq!(roles_changed["event"]["data"]["roles_added"], json!(["admin"]));
    assert_eq!(roles_changed["event"]["data"]["roles_removed"], json!([]));
    let removed = events
        .iter()
        .find(|e| {
            e["subject"] == format!("auth.org.{org}.membership.changed") && e["event"]["data"]["action"] == "removed"
        })
        .expect("a removal");
    assert_eq!(removed["event"]["data"]["roles_removed"], json!(["admin", "member"]));
    let updated = events
        .iter()
        .find(|e| e["subject"] == format!("auth.user.{ada}.updated"))
        .unwrap();
    assert_eq!(updated["event"]["data"]["before"]["name"], "ada@example.test");
    assert_eq!(updated["event"]["data"]["after"]["name"], "Ada L.");

    let acme_admin = app.token_in("admin@acme.test", "acme").await;
    let scoped = app
        .expect("GET", "/admin/events?limit=200", &acme_admin, None, StatusCode::OK)
        .await;
    assert!(
        scoped["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["org_id"] == json!(org)),
        "org admins see their organisation's events only"
    );
}

#[tokio::test]
async fn a_change_that_fails_emits_nothing() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    app.create_team(&acme.admin_token, "platform").await;
    let root = app.superuser_token().await;
    let before = events_with(&app, &root).await.len();
    expect_error(
        app.send(
            "POST",
            "/teams",
            &acme.admin_token,
            Some(json!({"slug": "platform", "name": "again"})),
        )
        .await,
        StatusCode::CONFLICT,
        "team_exists",
    )
    .await;
    expect_error(
        app.post_json("/auth/register", &json!({"email": ADMIN_EMAIL, "password": PASSWORD}))
            .await,
        StatusCode::CONFLICT,
        "user_exists",
    )
    .await;
    let dup = app
        .send(
            "POST",
            &format!("/orgs/{}/members", acme.id),
            &acme.admin_token,
            Some(json!({"email": "admin@acme.test"})),
        )
        .await;
    expect_error(dup, StatusCode::CONFLICT, "already_a_member").await;
    assert_eq!(
        events_with(&app, &root).await.len(),
        before,
        "no event for changes that rolled back"
    );
}

#[tokio::test]
async fn the_audit_log_records_logins_reuse_and_admin_changes() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    expect_error(
        app.login("ada@example.test", "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let (_, refresh) = tokens(&app.login_ok("ada@example.test", PASSWORD).await);
    app.refresh(&refresh).await;
    app.refresh(&refresh).await;
    let root = app.superuser_token().await;
    let page = app
        .expect("GET", "/admin/audit?limit=200", &root, None, StatusCode::OK)
        .await;
    let entries = page["items"].as_array().unwrap();
    let find = |action: &str, outcome: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["outcome"] == outcome)
            .cloned()
    };
    let failed = entries
        .iter()
        .rev()
        .find(|e| e["action"] == "login" && e["outcome"] == "failure" && e["actor"] == "ada@example.test")
        .expect("ada's failed login");
    assert_eq!(failed["actor_id"], json!(ada), "a known account's failure names it");
    assert_eq!(failed["ip"], "127.0.0.1");
    assert!(find("login", "success").is_some());
    let reuse = find("refresh_token.reuse", "failure").expect("reuse");
    assert_eq!(reuse["actor_id"], json!(ada));
    let added = entries
        .iter()
        .find(|e| e["action"] == "org.member.add" && e["target_id"] == json!(ada))
        .expect("ada added");
    assert_eq!(added["actor"], "admin@acme.test");
    assert_eq!(added["target_id"], json!(ada));
    assert_eq!(added["org_id"], json!(acme.id));
    let globex = app.create_org("globex").await;
    let scoped = app
        .expect(
            "GET",
            "/admin/audit?limit=200",
            &globex.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert!(
        scoped["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["org_id"] == json!(globex.id))
    );
    let member = app.token_in("ada@example.test", "acme").await;
    expect_error(
        app.send("GET", "/admin/audit", &member, None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

fn nats_url() -> Option<String> {
    std::env::var("TEST_NATS_URL").ok().filter(|v| !v.is_empty())
}

#[tokio::test]
async fn events_reach_nats_on_their_subjects() {
    let Some(url) = nats_url() else { return };
    use futures_util::StreamExt;
    let client = async_nats::connect(url.as_str())
        .await
        .expect("TEST_NATS_URL is reachable");
    let mut subscription = client.subscribe("auth.>").await.unwrap();
    client.flush().await.unwrap();
    let app = spawn_app_with(|s| s.nats_url = Some(url.clone())).await;
    let ids = make_changes(&app).await;
    let outbox = all_events(&app).await;
    let wanted: BTreeSet<String> = outbox.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    let mut got: HashMap<String, (String, Value)> = HashMap::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !wanted.iter().all(|id| got.contains_key(id)) {
        let Ok(message) = tokio::time::timeout_at(deadline, subscription.next()).await else {
            let waiting: Vec<Value> = all_events(&app)
                .await
                .into_iter()
                .filter(|e| e["published_at"].is_null())
                .collect();
            panic!(
                "not every event arrived; {} still in the outbox, e.g. {:?}",
                waiting.len(),
                waiting.first()
            );
        };
        let message = message.unwrap();
        let event: Value = serde_json::from_slice(&message.payload).unwrap();
        let id = event["id"].as_str().unwrap().to_owned();
        if wanted.contains(&id) {
            assert_eq!(
                message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.as_str()),
                Some(id.as_str())
            );
            got.insert(id, (message.subject.to_string(), event));
        }
    }
    for e in &outbox {
        let (subject, event) = &got[e["id"].as_str().unwrap()];
        assert_eq!(subject, e["subject"].as_str().unwrap());
        assert_eq!(event, &e["event"]);
    }
    assert!(
        got.values()
            .any(|(s, _)| s == &format!("auth.user.{}.deleted", ids["ada"]))
    );
}

/// A nats-server of the test's own, to stop and start.
struct OwnNats {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnNats {
    fn start(port: u16, dir: &std::path::Path) -> Self {
        let binary = [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("nats-server is installed where TEST_NATS_URL is set");
        let child = std::process::Command::new(binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-js",
                "-sd",
                dir.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    fn stop(mut self) -> (u16, std::path::PathBuf) {
        self.child.kill().ok();
        self.child.wait().ok();
        (self.port, self.dir.clone())
    }
}

/// A test that ends (or fails) with its server running does not leave it behind.
impl Drop for OwnNats {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

async fn connect_retrying(url: &str) -> async_nats::Client {
    for _ in 0..100 {
        if let Ok(client) = async_nats::connect(url).await {
            return client;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("nats-server did not start on {url}");
}

#[tokio::test]
async fn events_survive_a_nats_outage_and_arrive_once() {
    if nats_url().is_none() {
        return;
    }
    use futures_util::StreamExt;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("guildhall-nats-{}", uuid::Uuid::new_v4().simple()));
    let nats = OwnNats::start(port, &dir);
    let url = format!("nats://127.0.0.1:{port}");
    let client = connect_retrying(&url).await;
    let jetstream = async_nats::jetstream::new(client.clone());
    jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: "GUILDHALL".into(),
            subjects: vec!["auth.>".into()],
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
    drop(client);
    let app = spawn_app_with(|s| s.nats_url = Some(url.clone())).await;
    app.register("before@example.test").await;
    let (port, dir) = nats.stop();
    app.register("during-1@example.test").await;
    let acme = app.create_org("acme").await;
    app.create_team(&acme.admin_token, "platform").await;
    let waiting = all_events(&app)
        .await
        .iter()
        .filter(|e| e["published_at"].is_null())
        .count();
    assert!(waiting > 0, "events wait in the outbox while NATS is down");
    let _nats = OwnNats::start(port, &dir);
    let outbox_ids: BTreeSet<String> = all_events(&app)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();

    let client = connect_retrying(&url).await;
    let jetstream = async_nats::jetstream::new(client);
    let root = app.superuser_token().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let events = events_with(&app, &root).await;
        let pending = events
            .iter()
            .filter(|e| outbox_ids.contains(e["id"].as_str().unwrap()) && e["published_at"].is_null())
            .count();
        if pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox drains once NATS is back ({pending} left)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let stream = jetstream.get_stream("GUILDHALL").await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut seen = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(std::time::Duration::from_secs(2), messages.next()).await {
        let event: Value = serde_json::from_slice(&message.payload).unwrap();
        seen.push(event["id"].as_str().unwrap().to_owned());
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no event stored twice");
    let missing: Vec<&String> = outbox_ids.iter().filter(|id| !unique.contains(*id)).collect();
    assert!(missing.is_empty(), "every event arrived; missing {missing:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn replicas_agree_on_revocations_and_memberships_within_a_second() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |v| v.is_empty()) {
        return;
    }
    let one = spawn_app().await;
    let two = spawn_on(&one.database_url, |_| {}).await;
    let acme = one.create_org("acme").await;
    let ada = one
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    let token = one.token_in("ada@example.test", "acme").await;
    assert_eq!(
        two.validate(&token).await["valid"],
        true,
        "the second replica knows the token"
    );
    assert_eq!(two.validate(&token).await["user"]["roles"], json!(["member"]));

    let path = format!("/orgs/{}/members/{ada}", acme.id);
    one.expect(
        "PUT",
        &path,
        &acme.admin_token,
        Some(json!({"roles": ["admin"]})),
        StatusCode::OK,
    )
    .await;
    let roles = eventually(
        || async { two.validate(&token).await["user"]["roles"].clone() },
        json!(["admin"]),
    )
    .await;
    assert_eq!(
        roles,
        json!(["admin"]),
        "a membership change on one replica is seen on the other within a second"
    );

    assert_eq!(
        one.post_with("/auth/logout", &token).await.status(),
        StatusCode::NO_CONTENT
    );
    let valid = eventually(|| async { two.validate(&token).await["valid"].clone() }, json!(false)).await;
    assert_eq!(
        valid,
        json!(false),
        "a logout on one replica is honoured by the other within a second"
    );
    assert_eq!(two.me_status(&token).await, StatusCode::UNAUTHORIZED);

    one.user_in(&acme.admin_token, &acme.id, "bob@example.test", &["member"])
        .await;
    let bob_token = two.token_in("bob@example.test", "acme").await;
    assert_eq!(one.validate(&bob_token).await["valid"], true);
    let root = two.superuser_token().await;
    let bob = claims_of(&bob_token)["sub"].as_str().unwrap().to_owned();
    two.expect(
        "PATCH",
        &format!("/admin/users/{bob}"),
        &root,
        Some(json!({"is_active": false})),
        StatusCode::OK,
    )
    .await;
    let valid = eventually(
        || async { one.validate(&bob_token).await["valid"].clone() },
        json!(false),
    )
    .await;
    assert_eq!(
        valid,
        json!(false),
        "a deactivation on one replica is honoured by the other within a second"
    );

    // A role's permissions change on one replica: the other answers its holders' tokens with
    // the new permissions within a second (one small invalidation for the organisation, however
    // many hold the role).
    let role = one
        .expect(
            "POST",
            &format!("/orgs/{}/roles", acme.id),
            &acme.admin_token,
            Some(json!({"key": "editor", "permissions": ["docs:read"]})),
            StatusCode::CREATED,
        )
        .await;
    one.expect(
        "PUT",
        &path,
        &acme.admin_token,
        Some(json!({"roles": ["member", "editor"]})),
        StatusCode::OK,
    )
    .await;
    let ada_token = one.token_in("ada@example.test", "acme").await;
    let permissions = |v: Value| v["user"]["permissions"].clone();
    assert!(
        permissions(two.validate(&ada_token).await)
            .to_string()
            .contains("docs:read")
    );
    one.expect(
        "PATCH",
        &format!("/orgs/{}/roles/{}", acme.id, role["id"].as_str().unwrap()),
        &acme.admin_token,
        Some(json!({"permissions": ["docs:write"]})),
        StatusCode::OK,
    )
    .await;
    let seen = eventually(
        || async {
            let p = permissions(two.validate(&ada_token).await).to_string();
            json!(p.contains("docs:write") && !p.contains("docs:read"))
        },
        json!(true),
    )
    .await;
    assert_eq!(
        seen,
        json!(true),
        "a role's new permissions reach the other replica within a second"
    );
}

/// Polls `probe` for up to a second (20 × 50 ms) until it answers `wanted`; returns the last answer.
async fn eventually<F, Fut>(probe: F, wanted: Value) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let mut last = Value::Null;
    for _ in 0..20 {
        last = probe().await;
        if last == wanted {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    last
}
