//! guildhall-axum, the service SDK, against a real guildhall: local verification, the
//! `/auth/validate` fallback, the JWKS cache, and the example service's router.
mod keys;
mod local;
mod router;
mod validate;

use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guildhall::clock::ManualClock;
use guildhall_axum::{Builder, Guildhall};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::SystemTime;

/// The issuer `test_settings` gives guildhall; the SDK reaches it at the app's address instead.
pub const ISSUER: &str = "http://guildhall.test";

/// The test app's clock, shifted by `offset`, as the SDK's clock.
pub struct AppClock {
    clock: Arc<ManualClock>,
    offset: chrono::Duration,
}

impl guildhall_axum::Clock for AppClock {
    fn now(&self) -> SystemTime {
        (guildhall::clock::Clock::now(self.clock.as_ref()) + self.offset).into()
    }
}

pub fn app_clock(app: &TestApp, offset: chrono::Duration) -> Arc<AppClock> {
    Arc::new(AppClock {
        clock: Arc::clone(&app.clock),
        offset,
    })
}

/// An SDK for `app`: issuer `http://guildhall.test`, reached at the app's address, on its clock.
pub fn sdk(app: &TestApp) -> Builder {
    Guildhall::builder(ISSUER)
        .base_url(&app.address)
        .clock(app_clock(app, chrono::Duration::zero()))
}

/// A guildhall whose issuer is its own address (no base URL needed): the port is picked first.
pub async fn spawn_at_own_address(tweak: impl FnOnce(&mut guildhall::config::Settings)) -> TestApp {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    spawn_app_with(|s| {
        s.port = port;
        s.issuer = Some(format!("http://127.0.0.1:{port}"));
        tweak(s);
    })
    .await
}

/// What the tests' organisation holds.
pub struct Acme {
    pub org: Org,
    pub ada: String,
    pub team: String,
}

/// `acme` with ada (`member`) in team `platform` as maintainer and assigned the domain
/// `engineering`, which has a child `backend`; a sibling `engineering-x` is not assigned.
pub async fn acme_with_ada(app: &TestApp) -> Acme {
    let org = app.create_org("acme").await;
    let t = &org.admin_token;
    let ada = app.user_in(t, &org.id, "ada@example.test", &["member"]).await;
    let team = app.create_team(t, "platform").await;
    app.expect(
        "PUT",
        &format!("/teams/{team}/members/{ada}"),
        t,
        Some(json!({"role": "maintainer"})),
        StatusCode::NO_CONTENT,
    )
    .await;
    let engineering = app.create_domain(t, "engineering", None).await;
    app.create_domain(t, "backend", Some(&engineering)).await;
    app.create_domain(t, "engineering-x", None).await;
    app.expect(
        "PUT",
        &format!("/domains/{engineering}/users/{ada}"),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    Acme { org, ada, team }
}

/// Sets ada's roles in acme.
pub async fn set_roles(app: &TestApp, acme: &Acme, roles: &[&str]) {
    app.expect(
        "PUT",
        &format!("/orgs/{}/members/{}", acme.org.id, acme.ada),
        &acme.org.admin_token,
        Some(json!({"roles": roles})),
        StatusCode::OK,
    )
    .await;
}

/// A service account's token (client-credentials grant) in `org`.
pub async fn service_token(app: &TestApp, org: &Org) -> String {
    let account = app
        .expect(
            "POST",
            &format!("/orgs/{}/service-accounts", org.id),
            &org.admin_token,
            Some(json!({"name": "billing", "permissions": ["read:posts"]})),
            StatusCode::CREATED,
        )
        .await;
    let grant = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", account["client_id"].as_str().unwrap()),
                ("client_secret", account["client_secret"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(grant.status(), StatusCode::OK);
    body(grant).await["access_token"].as_str().unwrap().to_owned()
}

/// `token` with its header changed (the signature no longer matches it).
pub fn with_header(token: &str, change: impl FnOnce(&mut Value)) -> String {
    with_segment(token, 0, change)
}

/// `token` with its claims changed (the signature no longer matches them).
pub fn with_claims(token: &str, change: impl FnOnce(&mut Value)) -> String {
    with_segment(token, 1, change)
}

fn with_segment(token: &str, index: usize, change: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut value: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[index]).unwrap()).unwrap();
    change(&mut value);
    parts[index] = URL_SAFE_NO_PAD.encode(value.to_string());
    parts.join(".")
}

/// The code of a refusal, or the context's email when it was accepted (for table tests).
pub fn outcome<T: std::fmt::Debug>(result: &Result<T, guildhall_axum::Error>) -> String {
    match result {
        Ok(accepted) => format!("accepted: {accepted:?}"),
        Err(refused) => refused.code().to_owned(),
    }
}
