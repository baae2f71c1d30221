//! Webhooks: CRUD by organisation admins, deliveries from the outbox verified by a real receiver
//! using the reference `standardwebhooks` library (PyPI, in `target/ci-venv`, installed here
//! when missing), retries with backoff on the test clock, a hanging receiver cut off, persistent
//! failure disabling the webhook with an event, and destinations refused by range.
use crate::helpers::*;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

static VENV: Mutex<()> = Mutex::new(());

/// The venv's Python with `standardwebhooks`; made (once, for every test) when missing.
fn python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/ci-venv");
    let python = venv.join("bin/python");
    let has_library = || {
        Command::new(&python)
            .args(["-c", "import standardwebhooks"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let _once = VENV.lock().unwrap_or_else(|p| p.into_inner());
    if has_library() {
        return python;
    }
    let made = python.exists()
        || Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
    let installed = made
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "standardwebhooks"])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        installed && has_library(),
        "the webhook tests need Python's `standardwebhooks` in target/ci-venv: run \
         `python3 -m venv target/ci-venv && target/ci-venv/bin/pip install standardwebhooks` \
         (.ci/run does) with PyPI reachable"
    );
    python
}

/// `tests/webhooks/receiver.py`, running until dropped.
struct Receiver {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start() -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/receiver.py");
        let mut child = Command::new(python())
            .arg(script)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the receiver starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the receiver prints its port");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, mode: &str, name: &str) -> String {
        format!("{}/{mode}/{name}", self.base)
    }

    async fn secret(&self, name: &str, secret: &str) {
        let response = self
            .client
            .put(format!("{}/secret/{name}", self.base))
            .body(secret.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    /// The deliveries `name` received.
    async fn log(&self, name: &str) -> Vec<Value> {
        let log: Vec<Value> = self
            .client
            .get(format!("{}/log", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log.into_iter().filter(|e| e["name"] == name).collect()
    }
}

/// Settings for webhook tests: receivers on 127.0.0.1, retries a second apart for a minute.
fn quick(s: &mut guildhall::config::Settings) {
    s.operators.webhook_allow_private = true;
    s.operators.webhook_retry_base = 1;
    s.operators.webhook_retry_window = 60;
    s.operators.webhook_timeout_ms = 1000;
}

async fn create_webhook(app: &TestApp, org: &Org, url: &str, types: &[&str]) -> Value {
    app.expect(
        "POST",
        &format!("/orgs/{}/webhooks", org.id),
        &org.admin_token,
        Some(json!({"url": url, "event_types": types})),
        StatusCode::CREATED,
    )
    .await
}

async fn deliveries(app: &TestApp, org: &Org, hook: &str) -> Vec<Value> {
    let page = app
        .expect(
            "GET",
            &format!("/orgs/{}/webhooks/{hook}/deliveries", org.id),
            &org.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    page["items"].as_array().unwrap().clone()
}

/// Polls the webhook's first delivery until `done` holds (10 s at most).
async fn wait_for(app: &TestApp, org: &Org, hook: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        if let Some(first) = deliveries(app, org, hook).await.first()
            && done(first)
        {
            return first.clone();
        }
        assert!(
            started.elapsed().as_secs() < 10,
            "{what}: {:?}",
            deliveries(app, org, hook).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn deliveries_are_signed_verified_and_retried() {
    let receiver = Receiver::start();
    let app = spawn_app_with(|s| {
        quick(s);
        s.sealing.master_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
    })
    .await;
    let org = app.create_org("hooks").await;
    let ok = create_webhook(&app, &org, &receiver.url("ok", "a"), &["guildhall.team.*"]).await;
    let secret = ok["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{ok}");
    receiver.secret("a", secret).await;
    let flaky = create_webhook(&app, &org, &receiver.url("flaky", "b"), &["guildhall.team.created"]).await;
    receiver.secret("b", flaky["secret"].as_str().unwrap()).await;
    let listed = app
        .expect(
            "GET",
            &format!("/orgs/{}/webhooks", org.id),
            &org.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed[0].get("secret").is_none(), "the secret is shown once: {listed}");

    app.create_team(&org.admin_token, "platform").await;
    let (a, b) = (ok["id"].as_str().unwrap(), flaky["id"].as_str().unwrap());
    let delivered = wait_for(&app, &org, a, "delivered to a", |d| d["status"] == "delivered").await;
    assert_eq!(
        (delivered["attempts"].as_i64(), delivered["last_status"].as_i64()),
        (Some(1), Some(204))
    );
    assert_eq!(delivered["type"], "guildhall.team.created");
    let got = receiver.log("a").await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["verified"], true, "the reference library verifies it: {got:?}");
    assert_eq!(got[0]["id"], delivered["event_id"], "webhook-id is the event's id");
    assert_eq!(got[0]["body"]["type"], "guildhall.team.created");
    assert_eq!(got[0]["body"]["data"]["slug"], "platform");
    assert!(got[0]["body"]["timestamp"].is_string());

    // The flaky receiver answered 500: the delivery waits a second (on the test clock).
    let failed = wait_for(&app, &org, b, "first attempt at b", |d| d["attempts"] == 1).await;
    assert_eq!(
        (failed["status"].as_str(), failed["last_status"].as_i64()),
        (Some("pending"), Some(500))
    );
    assert!(failed["next_attempt_at"].as_str().unwrap() > failed["last_attempt_at"].as_str().unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        receiver.log("b").await.len(),
        1,
        "no retry before the backoff has passed"
    );
    app.advance(Duration::seconds(2));
    let retried = wait_for(&app, &org, b, "retry at b", |d| d["status"] == "delivered").await;
    assert_eq!(retried["attempts"], 2);
    let got = receiver.log("b").await;
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|e| e["verified"] == true), "{got:?}");
    assert_eq!(got[0]["id"], got[1]["id"], "a retry keeps its webhook-id");

    // The secret is sealed at rest and covered by rewrap.
    let stored = guildhall::store::secrets::all(app.handle.db()).await.unwrap();
    let sealed: Vec<_> = stored
        .iter()
        .filter(|s| matches!(s.at, guildhall::store::secrets::Location::WebhookSecret { .. }))
        .collect();
    assert_eq!(sealed.len(), 2);
    assert!(
        sealed
            .iter()
            .all(|s| s.stored.starts_with("gh-sealed:") && !s.stored.contains(secret))
    );
}

#[tokio::test]
async fn persistent_failure_disables_the_webhook_with_an_event() {
    let receiver = Receiver::start();
    let app = spawn_app_with(|s| {
        quick(s);
        s.operators.webhook_retry_window = 20;
    })
    .await;
    let org = app.create_org("failing").await;
    let hook = create_webhook(&app, &org, &receiver.url("fail", "c"), &["*"]).await;
    receiver.secret("c", hook["secret"].as_str().unwrap()).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    // Its own creation is an event of the organisation it wants ("*").
    wait_for(&app, &org, &id, "first attempt", |d| d["attempts"] == 1).await;
    let mut last = 1;
    for _ in 0..10 {
        app.advance(Duration::seconds(5));
        let now = wait_for(&app, &org, &id, "another attempt", |d| {
            d["attempts"].as_i64() > Some(last) || d["status"] == "failed"
        })
        .await;
        last = now["attempts"].as_i64().unwrap();
        if now["status"] == "failed" {
            break;
        }
    }
    let given_up = deliveries(&app, &org, &id).await;
    assert_eq!(given_up[0]["status"], "failed", "{given_up:?}");
    assert!(
        given_up[0]["attempts"].as_i64().unwrap() >= 3,
        "retried before giving up: {given_up:?}"
    );
    assert!(receiver.log("c").await.iter().all(|e| e["verified"] == true));
    let path = format!("/orgs/{}/webhooks/{id}", org.id);
    let disabled = app.expect("GET", &path, &org.admin_token, None, StatusCode::OK).await;
    assert_eq!(
        (disabled["is_active"].as_bool(), disabled["disabled_reason"].as_str()),
        (Some(false), Some("persistent_failure"))
    );
    let events = app
        .expect("GET", "/admin/events?limit=200", &org.admin_token, None, StatusCode::OK)
        .await;
    let disabled_event = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "guildhall.webhook.disabled")
        .unwrap_or_else(|| panic!("a webhook.disabled event: {events}"));
    assert_eq!(disabled_event["event"]["data"]["reason"], "persistent_failure");
    let metrics = crate::metrics::scrape(&app).await;
    assert_eq!(
        crate::metrics::value(&metrics, "guildhall_webhooks_disabled_total", &[]),
        1.0
    );
    assert!(crate::metrics::value(&metrics, "guildhall_webhook_attempts_total", &[("outcome", "failed")]) >= 2.0);

    // Every pending delivery was given up; nothing more is made while disabled.
    let before = deliveries(&app, &org, &id).await;
    assert!(before.iter().all(|d| d["status"] == "failed"), "{before:?}");
    app.create_team(&org.admin_token, "quiet").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        deliveries(&app, &org, &id).await.len(),
        before.len(),
        "no deliveries while disabled"
    );
    let enabled = app
        .expect(
            "PATCH",
            &path,
            &org.admin_token,
            Some(json!({"is_active": true})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (enabled["is_active"].as_bool(), enabled["disabled_reason"].as_str()),
        (Some(true), None)
    );
}

#[tokio::test]
async fn a_hanging_receiver_is_cut_off_and_counted_as_a_failed_attempt() {
    let receiver = Receiver::start();
    let app = spawn_app_with(quick).await;
    let org = app.create_org("slow").await;
    let hook = create_webhook(&app, &org, &receiver.url("hang", "d"), &["guildhall.team.created"]).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    app.create_team(&org.admin_token, "waiting").await;
    let cut = wait_for(&app, &org, &id, "the cut-off attempt", |d| d["attempts"] == 1).await;
    assert!(
        started.elapsed().as_secs() < 5,
        "cut off after the timeout, not after 30 s"
    );
    assert_eq!(cut["status"], "pending", "it will be retried");
    assert!(cut["last_status"].is_null());
    assert!(
        cut["last_error"].as_str().unwrap().contains("no answer within 1000 ms"),
        "{cut}"
    );
}

#[tokio::test]
async fn bad_destinations_and_types_are_422s_naming_the_field() {
    let app = spawn_app().await;
    let org = app.create_org("strict").await;
    let path = format!("/orgs/{}/webhooks", org.id);
    for (url, why) in [
        ("not a url", "is not a URL"),
        ("ftp://hooks.example.com/in", "http or https"),
        ("https://user:secret@hooks.example.com/", "user name or password"),
        ("http://127.0.0.1:9/in", "private, loopback or link-local"),
        ("http://10.0.0.7/in", "private"),
        ("http://169.254.169.254/latest/meta-data", "private"),
        ("http://[::1]:9/in", "private"),
        ("http://[fe80::1]/in", "private"),
        ("http://localhost:9/in", "private"),
    ] {
        let response = app
            .send(
                "POST",
                &path,
                &org.admin_token,
                Some(json!({"url": url, "event_types": ["*"]})),
            )
            .await;
        let e = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(e["errors"][0]["field"], "url", "{url}: {e}");
        assert!(e["errors"][0]["message"].as_str().unwrap().contains(why), "{url}: {e}");
    }
    for types in [json!([]), json!(["user.created"]), json!(["guildhall.nothing.*"])] {
        let response = app
            .send(
                "POST",
                &path,
                &org.admin_token,
                Some(json!({"url": "https://hooks.example.com/", "event_types": types})),
            )
            .await;
        let e = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(e["errors"][0]["field"], "event_types", "{types}: {e}");
    }
    // Members may not manage webhooks; other organisations' admins see nothing.
    let other = app.create_org("other").await;
    app.user_in(&org.admin_token, &org.id, "member@strict.test", &["member"])
        .await;
    let member = app.token_in("member@strict.test", "strict").await;
    let body = json!({"url": "http://127.0.0.1:9/", "event_types": ["*"]});
    expect_error(
        app.send("GET", &path, &member, None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.send("POST", &path, &other.admin_token, Some(body)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn private_destinations_are_refused_again_at_delivery() {
    let receiver = Receiver::start();
    let app = spawn_app_with(|s| {
        quick(s);
        s.operators.webhook_allow_private = false;
    })
    .await;
    let org = app.create_org("rebind").await;
    // Webhooks whose hosts resolved to public addresses when they were written, and no longer
    // do (DNS rebinding): written to the store directly, past the check at creation.
    let port = receiver.base.rsplit(':').next().unwrap().to_owned();
    let mut ids = Vec::new();
    for (name, url) in [
        ("e", receiver.url("ok", "e")),
        ("f", format!("http://localhost:{port}/ok/f")),
    ] {
        let new = guildhall::store::webhooks::NewWebhook {
            org_id: org.id.parse().unwrap(),
            url,
            event_types: vec!["guildhall.team.created".into()],
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        };
        let hook = guildhall::store::webhooks::insert(app.handle.db(), app.handle.sealer(), new, app.clock_now())
            .await
            .unwrap();
        receiver.secret(name, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").await;
        ids.push(hook.id.to_string());
    }
    app.create_team(&org.admin_token, "later").await;
    for id in &ids {
        let refused = wait_for(&app, &org, id, "the refused attempt", |d| d["attempts"] == 1).await;
        assert!(refused["last_status"].is_null(), "{refused}");
        assert_eq!(refused["status"], "pending");
        let error = refused["last_error"].as_str().unwrap();
        assert!(error.contains("private") || error.contains("refused"), "{error}");
    }
    assert!(receiver.log("e").await.is_empty() && receiver.log("f").await.is_empty());
}
