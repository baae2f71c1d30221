//! Seed 001 (edd-cloud): `/login`, `/logout`, `/me`, admin-only `/admin/users` GET/POST/DELETE,
//! `/healthz`, and its `-addr` / `-session-ttl` flags as settings.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn login_me_logout_and_healthz() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.register("user@example.com").await;
    let login = app
        .post_json("/login", &json!({"username": "user@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let login = body(login).await;
    let token = login["token"].as_str().unwrap().to_owned();
    assert_eq!(login["access_token"], token.as_str());
    let me = body(app.get_with("/me", &token).await).await;
    assert_eq!(me["email"], "user@example.com");
    assert_eq!(me["display_name"], "Test User");
    let number = me["user_id"].as_i64().unwrap();
    assert!(number > 1, "the bootstrap admin is number 1: {me}");
    assert_eq!(claims_of(&token)["sub"], me["id"]);

    let out = app
        .client
        .post(app.url("/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get_with("/me", &token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    expect_error(app.get("/me").await, StatusCode::UNAUTHORIZED, "not_authenticated").await;
    expect_error(
        app.post_json(
            "/login",
            &json!({"username": "user@example.com", "password": "wrong one!"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    expect_error(
        app.post_json("/login", &json!({"username": "user@example.com"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.client.post(app.url("/logout")).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
    )
    .await;
}

#[tokio::test]
async fn admin_users_is_admin_only_and_takes_a_username_that_is_an_email() {
    let app = spawn_app().await;
    let admin = app.superuser_token().await;
    let member = tokens(&app.register("member@example.com").await).0;

    // Not an admin: 403 for every method; no token: 401.
    for (method, path) in [
        ("GET", "/admin/users"),
        ("POST", "/admin/users"),
        ("DELETE", "/admin/users/00000000-0000-0000-0000-000000000000"),
    ] {
        let body = (method == "POST").then(|| json!({"username": "x@example.com", "password": PASSWORD}));
        let e = app
            .expect(method, path, &member, body.clone(), StatusCode::FORBIDDEN)
            .await;
        assert_eq!(e["detail"], "Not enough permissions");
        let anonymous = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }

    // Create with seed 001's fields: the username is the email.
    let created = app
        .expect(
            "POST",
            "/admin/users",
            &admin,
            Some(json!({"username": "new@example.com", "password": PASSWORD, "display_name": "New User"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(
        (created["email"].as_str(), created["name"].as_str()),
        (Some("new@example.com"), Some("New User"))
    );
    let token = tokens(&app.login_ok("new@example.com", PASSWORD).await).0;
    assert_eq!(
        body(app.get_with("/me", &token).await).await["display_name"],
        "New User"
    );

    // Bad input: 422 and nothing written.
    for input in [
        json!({"username": "plainname", "password": PASSWORD}),
        json!({"password": PASSWORD}),
        json!({"username": "x@example.com", "password": "short"}),
    ] {
        app.expect(
            "POST",
            "/admin/users",
            &admin,
            Some(input),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    app.expect(
        "POST",
        "/admin/users",
        &admin,
        Some(json!({"username": "new@example.com", "password": PASSWORD})),
        StatusCode::CONFLICT,
    )
    .await;
    let list = app.expect("GET", "/admin/users", &admin, None, StatusCode::OK).await;
    let emails: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [ADMIN_EMAIL, "member@example.com", "new@example.com"]);

    // Delete: the account and its sessions end.
    let id = created["id"].as_str().unwrap();
    app.expect(
        "DELETE",
        &format!("/admin/users/{id}"),
        &admin,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.me_status(&token).await, StatusCode::UNAUTHORIZED);
    app.expect(
        "DELETE",
        &format!("/admin/users/{id}"),
        &admin,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn another_organisations_admin_cannot_delete_our_users() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let other = app.create_org("other").await;
    let id = app
        .user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let e = app
        .expect(
            "DELETE",
            &format!("/admin/users/{id}"),
            &other.admin_token,
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
    assert_eq!(e["detail"], "User not found");
    app.login_ok("ada@acme.test", PASSWORD).await;
}

#[tokio::test]
async fn addr_and_session_ttl_are_settings() {
    let app = spawn_app_with(|s| {
        s.addr = Some("127.0.0.1:0".into());
        s.session_ttl = Some("1h".into());
    })
    .await;
    let (access, refresh) = tokens(&app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await);
    assert_eq!(app.me_status(&access).await, StatusCode::OK);
    app.advance(chrono::Duration::minutes(50));
    let refreshed = app.refresh(&refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = body(refreshed).await;
    // PostgreSQL keeps microseconds, the clock nanoseconds: 599 or 600.
    let expires_in = refreshed["expires_in"].as_i64().unwrap();
    assert!(
        (599..=600).contains(&expires_in),
        "the access token ends with the one-hour session: {expires_in}"
    );
    app.advance(chrono::Duration::minutes(11));
    let (_, refresh) = tokens(&refreshed);
    expect_error(app.refresh(&refresh).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}
