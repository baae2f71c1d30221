//! `spawn_app()` and typed helpers.
use chrono::Duration;
use guildhall::clock::ManualClock;
use guildhall::config::{Config, Settings};
use guildhall::startup::{AppHandle, Application};
use guildhall::store::Conn;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

pub const ADMIN_EMAIL: &str = "root@guildhall.test";
pub const ADMIN_PASSWORD: &str = "a very long admin password";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub handle: AppHandle,
    pub database_url: String,
}

/// A fresh database: a new SQLite file, or a new PostgreSQL database on TEST_DATABASE_URL's server.
pub async fn fresh_database_url() -> String {
    let name = format!("gh_test_{}", uuid::Uuid::new_v4().simple());
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            let admin = guildhall::store::connect(&server)
                .await
                .expect("TEST_DATABASE_URL is reachable");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let (base, query) = match server.split_once('?') {
                Some((base, query)) => (base, format!("?{query}")),
                None => (server.as_str(), String::new()),
            };
            let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
            format!("{base}/{name}{query}")
        }
        _ => {
            let dir = std::env::temp_dir().join("guildhall-tests");
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}?mode=rwc", dir.join(format!("{name}.db")).display())
        }
    }
}

/// Settings for tests: loopback, port 0, cheap argon2, a known admin.
pub fn test_settings(database_url: &str) -> Settings {
    let mut s = Settings::defaults();
    s.host = "127.0.0.1".into();
    s.port = 0;
    s.database_url = Some(database_url.to_owned());
    s.data_dir = std::env::temp_dir().join("guildhall-tests");
    s.issuer = Some("http://guildhall.test".into());
    s.argon2_memory_kib = 256;
    s.argon2_iterations = 1;
    s.admin_email = ADMIN_EMAIL.into();
    s.admin_password = Some(ADMIN_PASSWORD.into());
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let database_url = fresh_database_url().await;
    spawn_on(&database_url, tweak).await
}

/// Starts an application on an existing database (a "restart").
pub async fn spawn_on(database_url: &str, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }

    let mut settings = test_settings(database_url);
    tweak(&mut settings);
    let config = Config::try_from(settings).expect("valid test configuration");
    let clock = Arc::new(ManualClock::default());
    let app = Application::build_with_clock(config, clock.clone())
        .await
        .expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        clock,
        handle,
        database_url: database_url.to_owned(),
    }
}

/// Reads a response as JSON, saying what came instead when it is not.
pub async fn body(response: Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts the documented error shape and code; returns the body.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for expected {code}");
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = body(response).await;
    assert_eq!(body["error"], code, "{body}");
    assert!(body["detail"].is_string(), "{body}");
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    assert_eq!(
        body["request_id"].as_str(),
        header_id.as_deref(),
        "request id in body and header"
    );
    body
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_with(&self, path: &str, token: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client.post(self.url(path)).form(form).send().await.unwrap()
    }

    pub async fn post_with(&self, path: &str, token: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Registers `email` with the default password; returns the token response.
    pub async fn register(&self, email: &str) -> Value {
        let response = self
            .post_json(
                "/auth/register",
                &json!({"email": email, "password": PASSWORD, "name": "Test User"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "register {email}");
        body(response).await
    }

    pub async fn login(&self, login: &str, password: &str) -> Response {
        self.post_json("/auth/login", &json!({"email": login, "password": password}))
            .await
    }

    /// The OAuth password grant on `/auth/token` (seed 002's form login).
    pub async fn password_grant(&self, login: &str, password: &str) -> Response {
        self.post_form(
            "/auth/token",
            &[("grant_type", "password"), ("username", login), ("password", password)],
        )
        .await
    }

    /// Logs in and returns the token response, asserting success.
    pub async fn login_ok(&self, login: &str, password: &str) -> Value {
        let response = self.login(login, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login {login}");
        body(response).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json("/auth/refresh", &json!({"refresh_token": refresh_token}))
            .await
    }

    pub async fn me_status(&self, token: &str) -> StatusCode {
        self.get_with("/auth/me", token).await.status()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Now, by the application's (test) clock.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use guildhall::clock::Clock;
        self.clock.now()
    }
}

/// The `access_token` and `refresh_token` of a token response.
pub fn tokens(v: &Value) -> (String, String) {
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// An organisation made for a test, with an admin.
pub struct Org {
    pub id: String,
    pub slug: String,
    pub admin_email: String,
    pub admin_token: String,
}

impl TestApp {
    pub async fn send(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Sends and asserts the status; returns the JSON body (or null).
    pub async fn expect(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let response = self.send(method, path, token, body).await;
        let got = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    /// The bootstrap superuser's access token (default organisation).
    pub async fn superuser_token(&self) -> String {
        tokens(&self.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await).0
    }

    /// Creates an organisation and an owner for it (`admin@<slug>.test`); logs the owner in there.
    pub async fn create_org(&self, slug: &str) -> Org {
        let root = self.superuser_token().await;
        let org = self
            .expect(
                "POST",
                "/orgs",
                &root,
                Some(json!({"slug": slug, "name": slug.to_uppercase()})),
                StatusCode::CREATED,
            )
            .await;
        let id = org["id"].as_str().unwrap().to_owned();
        let admin_email = format!("admin@{slug}.test");
        self.user_in(&root, &id, &admin_email, &["owner"]).await;
        let admin_token = self.token_in(&admin_email, slug).await;
        Org {
            id,
            slug: slug.to_owned(),
            admin_email,
            admin_token,
        }
    }

    /// Makes `email` (created if new, with the default password) a member of `org_id` with `roles`,
    /// added by `token`'s holder. A new account is created by the superuser (so its email is
    /// verified) in the default organisation and leaves it once added to `org_id`, so that it
    /// ends up in `org_id` alone (only superusers place an account that belongs to no
    /// organisation).
    pub async fn user_in(&self, token: &str, org_id: &str, email: &str, roles: &[&str]) -> String {
        let exists = self.login(email, PASSWORD).await.status() == StatusCode::OK;
        let root = self.superuser_token().await;
        let created = if exists {
            None
        } else {
            let created = self
                .expect(
                    "POST",
                    "/admin/users",
                    &root,
                    Some(json!({"email": email, "password": PASSWORD, "name": email})),
                    StatusCode::CREATED,
                )
                .await;
            Some(created["id"].as_str().unwrap().to_owned())
        };
        let member = self
            .expect(
                "POST",
                &format!("/orgs/{org_id}/members"),
                token,
                Some(json!({"email": email, "roles": roles})),
                StatusCode::CREATED,
            )
            .await;
        let default_org = self.default_org_id().await;
        if let Some(id) = created.filter(|_| default_org != org_id) {
            self.expect(
                "DELETE",
                &format!("/orgs/{default_org}/members/{id}"),
                &root,
                None,
                StatusCode::NO_CONTENT,
            )
            .await;
        }
        member["user_id"].as_str().unwrap().to_owned()
    }

    pub async fn default_org_id(&self) -> String {
        let v = self.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        v["user"]["org"]["id"].as_str().unwrap().to_owned()
    }

    /// Logs `email` in to the organisation `slug`; returns the access token.
    pub async fn token_in(&self, email: &str, slug: &str) -> String {
        let response = self
            .post_json(
                "/auth/login",
                &json!({"email": email, "password": PASSWORD, "organization": slug}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "login {email} to {slug}");
        tokens(&body(response).await).0
    }

    pub async fn validate(&self, token: &str) -> Value {
        body(self.post_json("/auth/validate", &json!({"token": token})).await).await
    }

    pub async fn create_team(&self, token: &str, slug: &str) -> String {
        let team = self
            .expect(
                "POST",
                "/teams",
                token,
                Some(json!({"slug": slug, "name": slug})),
                StatusCode::CREATED,
            )
            .await;
        team["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_domain(&self, token: &str, key: &str, parent: Option<&str>) -> String {
        let domain = self
            .expect(
                "POST",
                "/domains",
                token,
                Some(json!({"key": key, "name": key, "parent_id": parent})),
                StatusCode::CREATED,
            )
            .await;
        domain["id"].as_str().unwrap().to_owned()
    }
}

impl TestApp {
    /// Verifies `domain` for the organisation `org_id` the way an operator does (a seed document,
    /// no DNS), with `policy` (`{"join_policy": ..., "roles": ...}`, or null for invite_only), so
    /// that its identity providers may serve it.
    pub async fn verified_email_domain(&self, org_id: &str, domain: &str, policy: Value) {
        let root = self.superuser_token().await;
        let org = self
            .expect("GET", &format!("/orgs/{org_id}"), &root, None, StatusCode::OK)
            .await;
        let mut claim = json!({"domain": domain});
        if let Value::Object(more) = policy {
            claim.as_object_mut().unwrap().extend(more);
        }
        let doc = json!({"orgs": [{"slug": org["slug"], "name": org["name"], "email_domains": [claim]}]});
        self.expect("POST", "/admin/seed", &root, Some(doc), StatusCode::OK)
            .await;
    }
}

/// The claims of a JWT, unverified (for reading what a token carries).
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}
