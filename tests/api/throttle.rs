//! Brute-force protection on password logins: a name is locked after repeated failures, on every
//! login route, without saying whether the account exists.
use crate::helpers::*;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

const WRONG: &str = "not the password at all";

async fn fail(app: &TestApp, login: &str, times: usize) {
    for _ in 0..times {
        expect_error(
            app.login(login, WRONG).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
}

async fn expect_locked(response: reqwest::Response, seconds: &str) {
    assert_eq!(
        response.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some(seconds)
    );
    let body = expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    assert!(body["detail"].as_str().unwrap().contains(seconds), "{body}");
}

#[tokio::test]
async fn repeated_failures_lock_the_name_even_against_the_right_password() {
    let app = spawn_app().await;
    app.register("ada@acme.test").await;
    app.register("bob@acme.test").await;
    fail(&app, "ada@acme.test", 5).await;
    // Locked: the right password is refused too, and other names are not affected.
    expect_locked(app.login("ada@acme.test", PASSWORD).await, "60").await;
    expect_locked(app.login("  ADA@acme.test ", PASSWORD).await, "60").await;
    app.login_ok("bob@acme.test", PASSWORD).await;
    // Every password route goes through the same guard: the OAuth password grant (seed 002's form
    // login) and seed 000's login.
    expect_locked(app.password_grant("ada@acme.test", PASSWORD).await, "60").await;
    let daarion = app
        .post_json(
            "/api/auth/login",
            &json!({"email": "ada@acme.test", "password": PASSWORD}),
        )
        .await;
    expect_locked(daarion, "60").await;

    app.advance(Duration::seconds(60));
    app.login_ok("ada@acme.test", PASSWORD).await;
    // The success forgot the failures: four more are not a lock.
    fail(&app, "ada@acme.test", 4).await;
    app.login_ok("ada@acme.test", PASSWORD).await;
}

#[tokio::test]
async fn each_failure_after_the_lock_doubles_it() {
    let app = spawn_app().await;
    app.register("ada@acme.test").await;
    fail(&app, "ada@acme.test", 5).await;
    app.advance(Duration::seconds(61));
    fail(&app, "ada@acme.test", 1).await;
    expect_locked(app.login("ada@acme.test", PASSWORD).await, "120").await;
    app.advance(Duration::seconds(100));
    expect_locked(app.login("ada@acme.test", PASSWORD).await, "20").await;
    app.advance(Duration::seconds(20));
    app.login_ok("ada@acme.test", PASSWORD).await;
}

#[tokio::test]
async fn unknown_names_are_locked_the_same_way() {
    let app = spawn_app().await;
    fail(&app, "nobody@acme.test", 5).await;
    expect_locked(app.login("nobody@acme.test", WRONG).await, "60").await;
}

#[tokio::test]
async fn the_limit_and_the_lock_follow_the_configuration() {
    let off = spawn_app_with(|s| s.throttle.login_max_failures = 0).await;
    off.register("ada@acme.test").await;
    fail(&off, "ada@acme.test", 12).await;
    off.login_ok("ada@acme.test", PASSWORD).await;

    let strict = spawn_app_with(|s| {
        s.throttle.login_max_failures = 2;
        s.throttle.login_lockout_seconds = 300;
    })
    .await;
    strict.register("ada@acme.test").await;
    fail(&strict, "ada@acme.test", 2).await;
    expect_locked(strict.login("ada@acme.test", PASSWORD).await, "300").await;
}
