//! Registration, login, bootstrap and password policy.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn register_returns_tokens_and_the_user_in_the_default_org() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "Ada@Acme.test", "password": PASSWORD, "name": "Ada", "username": "Ada"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let v = body(response).await;
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 1800);
    assert!(v["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(v["refresh_token"].as_str().unwrap().len() >= 43, "at least 256 bits");
    let user = &v["user"];
    assert_eq!(user["email"], "ada@acme.test");
    assert_eq!(user["username"], "ada");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["org"]["slug"], "default");
    assert_eq!(user["roles"], json!(["member"]));
    assert_eq!(user["teams"], json!([]));
    assert_eq!(user["domains"], json!([]));
    let me = body(app.get_with("/auth/me", v["access_token"].as_str().unwrap()).await).await;
    assert_eq!(me["id"], user["id"]);
}

#[tokio::test]
async fn email_and_username_are_unique_case_insensitively() {
    let app = spawn_app().await;
    app.post_json(
        "/auth/register",
        &json!({"email": "ada@acme.test", "password": PASSWORD, "username": "ada"}),
    )
    .await;
    for body in [
        json!({"email": "ADA@acme.test", "password": PASSWORD}),
        json!({"email": "other@acme.test", "password": PASSWORD, "username": "ADA"}),
    ] {
        expect_error(
            app.post_json("/auth/register", &body).await,
            StatusCode::CONFLICT,
            "user_exists",
        )
        .await;
    }
}

#[tokio::test]
async fn login_by_email_or_username_in_any_case() {
    let app = spawn_app().await;
    app.post_json(
        "/auth/register",
        &json!({"email": "ada@acme.test", "password": PASSWORD, "username": "ada"}),
    )
    .await;
    for login in ["ada@acme.test", "ADA@Acme.Test", "ada", "Ada"] {
        let v = app.login_ok(login, PASSWORD).await;
        assert_eq!(v["user"]["email"], "ada@acme.test", "{login}");
    }
    let v = body(
        app.post_json("/auth/login", &json!({"username": "ada", "password": PASSWORD}))
            .await,
    )
    .await;
    assert_eq!(v["user"]["username"], "ada");
}

#[tokio::test]
async fn every_login_failure_looks_the_same() {
    let app = spawn_app().await;
    let v = app.register("ada@acme.test").await;
    app.register("off@acme.test").await;
    let off_id: uuid::Uuid = body(app.login("off@acme.test", PASSWORD).await).await["user"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    guildhall::store::users::set_active(
        app.handle.db(),
        off_id,
        false,
        guildhall::clock::Clock::now(app.clock.as_ref()),
    )
    .await
    .unwrap();
    let mut seen: Vec<Value> = Vec::new();
    for (login, password) in [
        ("nobody@acme.test", PASSWORD),
        ("ada@acme.test", "wrong password!"),
        ("off@acme.test", PASSWORD),
    ] {
        let mut b = expect_error(
            app.login(login, password).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
        b.as_object_mut().unwrap().remove("request_id");
        seen.push(b);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    assert_eq!(app.me_status(v["access_token"].as_str().unwrap()).await, StatusCode::OK);
}

#[tokio::test]
async fn passwords_follow_the_policy_and_are_taken_exactly_as_sent() {
    let app = spawn_app().await;
    let long = "p".repeat(1025);
    let cases: &[(&str, &str)] = &[
        ("short7!", "at least 8"),
        ("password123", "too common"),
        ("Qwerty123", "too common"),
        (long.as_str(), "at most 1024"),
    ];
    for (password, message) in cases {
        let response = app
            .post_json(
                "/auth/register",
                &json!({"email": "ada@acme.test", "password": password}),
            )
            .await;
        let b = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(b["errors"][0]["field"], "password", "{password:.12}");
        assert!(b["errors"][0]["message"].as_str().unwrap().contains(message), "{b}");
    }
    let exactly = "  spaced out words  ";
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "ada@acme.test", "password": exactly}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    expect_error(
        app.login("ada@acme.test", exactly.trim()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    app.login_ok("ada@acme.test", exactly).await;
    let response = app.login("ada@acme.test", &long).await;
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn the_policy_is_configurable() {
    let app = spawn_app_with(|s| {
        s.password_min_length = 4;
        s.password_blocklist = false;
    })
    .await;
    let response = app
        .post_json("/auth/register", &json!({"email": "ada@acme.test", "password": "pass"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn registration_can_be_closed() {
    let app = spawn_app_with(|s| s.allow_registration = false).await;
    let response = app
        .post_json(
            "/auth/register",
            &json!({"email": "ada@acme.test", "password": PASSWORD}),
        )
        .await;
    expect_error(response, StatusCode::FORBIDDEN, "registration_disabled").await;
    expect_error(
        app.login("ada@acme.test", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn the_bootstrap_superuser_owns_the_default_org_and_survives_restarts() {
    let app = spawn_app().await;
    let v = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(v["user"]["is_superuser"], true);
    assert_eq!(v["user"]["roles"], json!(["owner"]));
    assert_eq!(v["user"]["permissions"], json!(["*"]));
    app.login_ok("admin", ADMIN_PASSWORD).await;
    let again = spawn_on(&app.database_url, |s| {
        s.admin_password = Some("another password entirely".into())
    })
    .await;
    again.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    expect_error(
        again.login(ADMIN_EMAIL, "another password entirely").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn without_a_configured_password_the_admin_is_never_admin_admin() {
    let app = spawn_app_with(|s| s.admin_password = None).await;
    for password in ["admin", "password", ""] {
        assert_ne!(
            app.login("admin", password).await.status(),
            StatusCode::OK,
            "{password}"
        );
    }
}

#[tokio::test]
async fn the_token_endpoint_speaks_oauth_forms() {
    let app = spawn_app().await;
    app.register("ada@acme.test").await;
    let response = app.password_grant("ada@acme.test", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let v = body(response).await;
    assert_eq!(v["token_type"], "bearer");
    let (_, refresh) = tokens(&v);
    let response = app
        .post_form(
            "/auth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .post_form("/auth/token", &[("username", "ada@acme.test"), ("password", PASSWORD)])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "grant_type defaults to password (seed 002's form login)"
    );
    let response = app.post_form("/auth/token", &[("grant_type", "implicit")]).await;
    expect_error(response, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let response = app
        .post_form(
            "/auth/token",
            &[("grant_type", "password"), ("username", "ada@acme.test")],
        )
        .await;
    let b = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(b["errors"][0]["field"], "password");
}
