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
    let claims = claims_of(&token);
    assert_eq!(claims["sub"], me["id"]);
    // What its SFS, Compute and Gateway services read from the token.
    assert_eq!(claims["user_id"], number, "the integer user number");
    assert_eq!(claims["username"], "user@example.com");
    assert_eq!(claims["display_name"], "Test User");
    let native = tokens(&app.login_ok("user@example.com", PASSWORD).await).0;
    assert!(
        claims_of(&native).get("user_id").is_none(),
        "only /login's tokens carry them"
    );

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

#[tokio::test]
async fn jwt_secret_alone_selects_hs256_and_default_user_is_created_once() {
    use clap::{CommandFactory, FromArgMatches};
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        settings: guildhall::config::Settings,
    }
    // Seed 001's deployment: JWT_SECRET, ADMIN_USERNAME, DEFAULT_USERNAME, DEFAULT_PASSWORD.
    let parse = |env: &[(&str, &str)]| {
        let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        let command = guildhall::config::with_aliases(Only::command().mut_args(|a| a.env(None)), lookup);
        Only::from_arg_matches(&command.get_matches_from(["guildhall"]))
            .unwrap()
            .settings
    };
    let secret = "edd-cloud's shared secret, thirty-two bytes+";
    let parsed = parse(&[
        ("JWT_SECRET", secret),
        ("DEFAULT_USERNAME", "eddison@example.com"),
        ("DEFAULT_PASSWORD", "default user password"),
    ]);
    let config = guildhall::config::Config::try_from(parsed.clone()).unwrap();
    assert_eq!(config.algorithm, guildhall::token::Algorithm::HS256);
    assert!(config.algorithm_from_secret);
    let plain = guildhall::config::Config::try_from(parse(&[])).unwrap();
    assert_eq!(
        plain.algorithm,
        guildhall::token::Algorithm::ES256,
        "nothing set: ES256"
    );
    let asked =
        guildhall::config::Config::try_from(parse(&[("JWT_SECRET", secret), ("JWT_ALGORITHM", "ES256")])).unwrap();
    assert_eq!(
        asked.algorithm,
        guildhall::token::Algorithm::ES256,
        "an algorithm asked for wins"
    );
    let no_password = guildhall::config::Config::try_from(parse(&[("DEFAULT_USERNAME", "eddison")]));
    assert!(no_password.unwrap_err().to_string().contains("needs DEFAULT_PASSWORD"));

    let database_url = fresh_database_url().await;
    let start = |database_url: String| {
        let parsed = parsed.clone();
        async move {
            spawn_on(&database_url, |s| {
                s.jwt_secret = parsed.jwt_secret.clone();
                s.jwt_algorithm = parsed.jwt_algorithm.clone();
                s.default_user = parsed.default_user.clone();
            })
            .await
        }
    };
    let app = start(database_url.clone()).await;
    let login = app
        .post_json(
            "/login",
            &json!({"username": "eddison@example.com", "password": "default user password"}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK, "the default user logs in");
    let token = body(login).await["token"].as_str().unwrap().to_owned();
    // Its other services verify HS256 with the shared secret.
    let key = jsonwebtoken::DecodingKey::from_secret(secret.as_bytes());
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["guildhall"]);
    let verified = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
    assert_eq!(verified.claims["username"], "eddison@example.com");
    assert!(verified.claims["user_id"].as_i64().unwrap() > 1);
    let admin = tokens(&app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await).0;
    let listed = body(app.get_with("/admin/users?limit=200", &admin).await).await;
    let count = listed["total"].as_i64().unwrap();

    // A restart with a changed password neither creates it again nor resets it.
    let again = spawn_on(&database_url, |s| {
        s.jwt_secret = parsed.jwt_secret.clone();
        s.default_user.default_username = Some("eddison@example.com".into());
        s.default_user.default_password = Some("another password now".into());
    })
    .await;
    let admin = tokens(&again.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await).0;
    let listed = body(again.get_with("/admin/users?limit=200", &admin).await).await;
    assert_eq!(listed["total"].as_i64().unwrap(), count);
    again.login_ok("eddison@example.com", "default user password").await;
}
