//! What floods and outages cannot do: multiply password guesses (at once, by name or across
//! replicas), starve the hashing threads, grow tables without bound, hammer an identity provider
//! that is down, or keep a lost invalidation alive.
use crate::helpers::*;
use chrono::Duration;
use futures_util::future::join_all;
use guildhall::clock::Clock;
use guildhall::service::housekeeping::{self, Retention};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const WRONG: &str = "not the password at all";

/// Sends `n` wrong-password logins for `login` at once; answers their statuses.
async fn guesses(app: &TestApp, login: &str, n: usize) -> Vec<StatusCode> {
    join_all((0..n).map(|_| app.login(login, WRONG)))
        .await
        .into_iter()
        .map(|r| r.status())
        .collect()
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
async fn guesses_sent_at_once_get_only_the_limit() {
    let app = spawn_app().await;
    app.register("ada@example.test").await;
    let statuses = guesses(&app, "ada@example.test", 20).await;
    assert_eq!(count(&statuses, StatusCode::UNAUTHORIZED), 5, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 15, "{statuses:?}");
    let right = app.login("ada@example.test", PASSWORD).await;
    expect_error(right, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

#[tokio::test]
async fn the_email_and_the_username_of_an_account_share_one_counter() {
    let app = spawn_app().await;
    let body = json!({"email": "ada@example.test", "username": "ada", "password": PASSWORD});
    assert_eq!(
        app.post_json("/auth/register", &body).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        count(&guesses(&app, "ada@example.test", 3).await, StatusCode::UNAUTHORIZED),
        3
    );
    assert_eq!(count(&guesses(&app, "ada", 2).await, StatusCode::UNAUTHORIZED), 2);
    for name in ["ada", "ada@example.test"] {
        let locked = app.login(name, PASSWORD).await;
        expect_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    }
}

#[tokio::test]
async fn replicas_share_the_counters_on_postgresql() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        return; // SQLite is one process; the counters are in memory there.
    }
    let first = spawn_app().await;
    let second = spawn_on(&first.database_url, |_| {}).await;
    first.register("ada@example.test").await;
    assert_eq!(
        count(&guesses(&first, "ada@example.test", 3).await, StatusCode::UNAUTHORIZED),
        3
    );
    assert_eq!(
        count(&guesses(&second, "ada@example.test", 2).await, StatusCode::UNAUTHORIZED),
        2
    );
    for app in [&first, &second] {
        let locked = app.login("ada@example.test", PASSWORD).await;
        expect_error(locked, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    }
}

#[tokio::test]
async fn a_hashing_flood_is_refused_at_once_and_made_up_reset_tokens_cost_no_hash() {
    let app = spawn_app_with(|s| {
        s.argon2_memory_kib = 16_384;
        s.argon2_iterations = 2;
        s.hash_concurrency = Some(1);
        s.limits.hash_max_wait_ms = 1;
        s.throttle.login_max_failures = 0;
    })
    .await;
    let names: Vec<String> = (0..8).map(|i| format!("nobody-{i}@example.test")).collect();
    let responses = join_all(names.iter().map(|n| app.login(n, WRONG))).await;
    let overloaded: Vec<_> = responses
        .into_iter()
        .filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        !overloaded.is_empty(),
        "some logins could not start hashing within 1 ms"
    );
    for response in overloaded {
        assert_eq!(response.headers()["retry-after"], "2");
        expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    }
    // A reset checks its token first: made-up ones never reach the hashing queue.
    let resets = join_all((0..8).map(|i| {
        let body = json!({"token": format!("made-up-{i}"), "new_password": "a perfectly good password"});
        app.client.post(app.url("/auth/password/reset")).json(&body).send()
    }))
    .await;
    let resets: Vec<_> = resets.into_iter().map(|r| r.unwrap()).collect();
    assert!(
        resets.iter().all(|r| r.status() == StatusCode::UNPROCESSABLE_ENTITY),
        "{:?}",
        resets.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn without_nats_old_events_go_and_the_audit_log_keeps_its_retention() {
    let app = spawn_app().await;
    app.register("ada@example.test").await;
    let total = |path: &'static str| {
        let app = &app;
        async move {
            let root = app.superuser_token().await;
            app.expect("GET", path, &root, None, StatusCode::OK).await["total"]
                .as_u64()
                .unwrap()
        }
    };
    assert!(total("/admin/events").await > 0);
    let retention = Retention {
        events: Duration::days(7),
        audit: Duration::days(90),
        relayed: false,
    };
    let clock: guildhall::clock::SharedClock = app.clock.clone();
    app.advance(Duration::days(8));
    housekeeping::sweep(app.handle.db(), &clock, retention).await.unwrap();
    let root = app.superuser_token().await;
    let events = app.expect("GET", "/admin/events", &root, None, StatusCode::OK).await;
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["subject"].as_str().unwrap().contains("session")),
        "only what the superuser's login just wrote is left: {events}"
    );
    assert!(total("/admin/audit").await > 0, "the audit log is kept longer");
    app.advance(Duration::days(91));
    housekeeping::sweep(app.handle.db(), &clock, retention).await.unwrap();
    let root = app.superuser_token().await;
    let audit = app.expect("GET", "/admin/audit", &root, None, StatusCode::OK).await;
    assert_eq!(audit["total"], 1, "only the login just now: {audit}");
}

#[tokio::test]
async fn a_user_has_at_most_the_configured_sessions_and_they_come_in_pages() {
    let app = spawn_app_with(|s| s.limits.max_sessions_per_user = 2).await;
    app.register("ada@example.test").await;
    // Registering started a session; two logins make three, and the oldest made room.
    let first = tokens(&app.login_ok("ada@example.test", PASSWORD).await).0;
    let _ = tokens(&app.login_ok("ada@example.test", PASSWORD).await).0;
    assert_eq!(
        app.me_status(&first).await,
        StatusCode::OK,
        "the registration's session went"
    );
    let second = tokens(&app.login_ok("ada@example.test", PASSWORD).await).0;
    assert_eq!(
        app.me_status(&first).await,
        StatusCode::UNAUTHORIZED,
        "now the first login's did"
    );
    let page = app
        .expect("GET", "/auth/sessions?limit=1", &second, None, StatusCode::OK)
        .await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(page["sessions"][0]["current"], true, "newest first");
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = app
        .expect(
            "GET",
            &format!("/auth/sessions?limit=1&cursor={cursor}"),
            &second,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(next["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(next["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_lost_invalidation_lives_at_most_the_cache_max_age() {
    let app = spawn_app_with(|s| s.limits.cache_max_age = 60).await;
    let acme = app.create_org("acme").await;
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["admin"])
        .await;
    let token = app.token_in("ada@acme.test", "acme").await;
    assert_eq!(app.validate(&token).await["user"]["roles"], json!(["admin"]));
    // Behind the caches' back (as if the notification were lost): ada is demoted and her
    // session revoked.
    let db = app.handle.db();
    let ada: uuid::Uuid = ada.parse().unwrap();
    let org: uuid::Uuid = acme.id.parse().unwrap();
    let member = entity::org_member::Entity::find()
        .filter(entity::org_member::Column::OrgId.eq(org))
        .filter(entity::org_member::Column::UserId.eq(ada))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    entity::member_role::Entity::delete_many()
        .filter(entity::member_role::Column::MemberId.eq(member.id))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(app.validate(&token).await["user"]["roles"], json!(["admin"]), "cached");
    app.advance(Duration::seconds(61));
    assert_eq!(app.validate(&token).await["user"]["roles"], json!([]), "re-read");
    let sid: uuid::Uuid = claims_of(&token)["sid"].as_str().unwrap().parse().unwrap();
    entity::session::Entity::update_many()
        .col_expr(entity::session::Column::RevokedAt, Expr::value(app.clock.now()))
        .filter(entity::session::Column::Id.eq(sid))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        app.me_status(&token).await,
        StatusCode::OK,
        "the revocation is not known yet"
    );
    app.advance(Duration::seconds(61));
    assert_eq!(app.validate(&token).await["error"], "session_revoked");
}

/// A provider that is down: every request is counted and answered 500.
async fn broken_provider() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let app = axum::Router::new().fallback(move || {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            StatusCode::INTERNAL_SERVER_ERROR
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

#[tokio::test]
async fn a_provider_that_is_down_is_asked_once_not_once_per_token() {
    let (issuer, hits) = broken_provider().await;
    let global = issuer.clone();
    let app = spawn_app_with(move |s| {
        s.oidc.oidc_issuer = Some(global.clone());
        s.oidc.oidc_audience = Some("guildhall-services".into());
        s.oidc.oidc_jwks_url = Some(format!("{global}/jwks"));
    })
    .await;
    use base64::Engine;
    let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let tokens: Vec<String> = (0..20)
        .map(|i| {
            let header = b64(json!({"alg": "ES256", "kid": format!("unknown-{i}")}));
            let claims = b64(json!({"iss": issuer, "sub": "x", "exp": 4_000_000_000_i64}));
            format!("{header}.{claims}.c2lnbmF0dXJl")
        })
        .collect();
    let verdicts = join_all(tokens.iter().map(|t| app.validate(t))).await;
    assert!(
        verdicts.iter().all(|v| v["error"] == "provider_unavailable"),
        "{verdicts:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one fetch for twenty tokens");
}
