//! Seed 003 (PromptStack): register and login shapes, `/auth/validate`, `/auth/me` with a bearer
//! or (development only) `X-User-Email` / `X-User-Name`, teams and domains, `/health`, its names.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn register_login_validate_me_teams_and_domains() {
    let app = spawn_app().await;
    assert_eq!(body(app.get("/health").await).await["status"], "ok");
    let registered = app
        .post_json(
            "/auth/register",
            &json!({"email": "user@example.com", "password": "password123!", "name": "John Doe"}),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registered = body(registered).await;
    let login = app.login_ok("user@example.com", "password123!").await;
    for v in [&registered, &login] {
        assert_eq!(v["token_type"], "bearer");
        assert!(v["access_token"].is_string());
        let user = &v["user"];
        assert_eq!(
            (user["email"].as_str(), user["name"].as_str()),
            (Some("user@example.com"), Some("John Doe"))
        );
        assert!(
            user["id"].is_string() && user["teams"].is_array() && user["domains"].is_array(),
            "{user}"
        );
    }
    let token = login["access_token"].as_str().unwrap();
    let validated = app.validate(token).await;
    assert_eq!(
        (validated["valid"].as_bool(), validated["error"].clone()),
        (Some(true), serde_json::Value::Null)
    );
    assert_eq!(validated["user"]["email"], "user@example.com");
    let bad = app.validate("eyJhbGc.x.y").await;
    assert_eq!(
        (bad["valid"].as_bool(), bad["user"].clone()),
        (Some(false), serde_json::Value::Null)
    );
    assert!(bad["error"].is_string());
    let me = body(app.get_with("/auth/me", token).await).await;
    assert_eq!(me["name"], "John Doe");
    for path in ["/teams", "/teams/all", "/domains", "/domains/all"] {
        assert_eq!(app.get_with(path, token).await.status(), StatusCode::OK, "{path}");
        assert_eq!(app.get(path).await.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

async fn with_headers(app: &TestApp, path: &str, email: &str, name: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("X-User-Email", email)
        .header("X-User-Name", name)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn development_headers_work_only_in_development() {
    let dev = spawn_app_with(|s| {
        s.allow_dev_headers = true;
        s.environment = "development".into();
    })
    .await;
    let me = with_headers(&dev, "/auth/me", "user@example.com", "Test User").await;
    assert_eq!(me.status(), StatusCode::OK);
    let me = body(me).await;
    assert_eq!(
        (me["email"].as_str(), me["name"].as_str()),
        (Some("user@example.com"), Some("Test User"))
    );
    assert_eq!(me["roles"], json!(["member"]));
    let again = body(with_headers(&dev, "/auth/me", "USER@example.com", "Other Name").await).await;
    assert_eq!(again["id"], me["id"], "the same account, not a second one");
    assert_eq!(
        with_headers(&dev, "/teams", "user@example.com", "Test User")
            .await
            .status(),
        StatusCode::OK
    );
    // The headers name a user; they do not make one an admin.
    let admin = with_headers(&dev, "/admin/users", "user@example.com", "Test User").await;
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    expect_error(
        with_headers(&dev, "/auth/me", "not an email", "X").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // A bearer token still wins over the headers.
    let token = tokens(&dev.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await).0;
    let me = dev
        .client
        .get(dev.url("/auth/me"))
        .bearer_auth(&token)
        .header("X-User-Email", "user@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(body(me).await["email"], ADMIN_EMAIL);

    // Off by default: the headers are ignored.
    let app = spawn_app().await;
    expect_error(
        with_headers(&app, "/auth/me", "user@example.com", "Test User").await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
    )
    .await;
    assert_eq!(
        app.login("user@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Asked for outside development: start-up refuses.
    let mut settings = test_settings(&fresh_database_url().await);
    settings.allow_dev_headers = true;
    let error = guildhall::config::Config::try_from(settings).unwrap_err().to_string();
    assert!(
        error.contains("AUTH_ALLOW_DEV_HEADERS") && error.contains("AUTH_ENV=development"),
        "{error}"
    );
    // In development but not asked for: ignored.
    let quiet = spawn_app_with(|s| s.environment = "development".into()).await;
    assert_eq!(
        with_headers(&quiet, "/auth/me", "user@example.com", "Test User")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn its_environment_names_configure_the_service() {
    use clap::{CommandFactory, FromArgMatches};
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        settings: guildhall::config::Settings,
    }
    let env = [
        ("AUTH_JWT_SECRET_KEY", "your-secret-key-change-in-production-please"),
        ("AUTH_JWT_ALGORITHM", "HS256"),
        ("AUTH_JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "15"),
        (
            "AUTH_API_CORS_ORIGINS",
            "http://localhost:5173,http://localhost:3000,http://localhost:8000",
        ),
    ];
    let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
    // AUTH_* names are clap's own `env`; the aliases come from with_aliases.
    let command = guildhall::config::with_aliases(Only::command().mut_args(|a| a.env(None)), lookup);
    let mut parsed = Only::from_arg_matches(&command.get_matches_from(["guildhall"]))
        .unwrap()
        .settings;
    parsed.jwt_algorithm = "HS256".into();
    parsed.api_cors_origins = Some(env[3].1.into());
    let app = spawn_app_with(|s| {
        s.jwt_secret = parsed.jwt_secret.clone();
        s.jwt_algorithm = parsed.jwt_algorithm.clone();
        s.access_token_ttl = parsed.access_token_ttl;
        s.api_cors_origins = parsed.api_cors_origins.clone();
    })
    .await;
    let login = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login["expires_in"], 900, "15 minutes");
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/auth/me"))
        .header("Origin", "http://localhost:5173")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    // HS256 with the shared secret: services validate with POST /auth/validate.
    assert_eq!(
        app.validate(login["access_token"].as_str().unwrap()).await["valid"],
        true
    );
}
