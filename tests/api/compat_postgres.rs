//! The seed services' flows on PostgreSQL, concurrently: what SQLite's single writer never
//! exercises. Skipped (with a note) unless TEST_DATABASE_URL names a PostgreSQL server.
use crate::helpers::*;
use crate::mail::{VERIFY_SUBJECT, next_mail, next_mail_about, smtp_sink, token_in};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeSet;

fn on_postgres() -> bool {
    let yes = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"));
    if !yes {
        eprintln!("skipped: TEST_DATABASE_URL does not name a PostgreSQL server");
    }
    yes
}

#[tokio::test]
async fn concurrent_cl_creations_get_distinct_numbers_and_a_username_once() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let response = app
        .post_form("/auth/token", &[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .await;
    let admin = body(response).await["access_token"].as_str().unwrap().to_owned();
    // Twelve creations at once, two of each username: six succeed, six are FastAPI's 400.
    let attempts = (0..12).map(|i| {
        let name = format!("user{}", i / 2);
        let request = app
            .client
            .post(app.url("/users/"))
            .bearer_auth(&admin)
            .form(&[("username", name.as_str()), ("password", "testpass123")]);
        async move { request.send().await.unwrap() }
    });
    let mut created = Vec::new();
    let mut conflicts = 0;
    for response in join_all(attempts).await {
        match response.status() {
            StatusCode::CREATED => created.push(body(response).await),
            StatusCode::BAD_REQUEST => {
                assert_eq!(body(response).await, json!({"detail": "Username already registered"}));
                conflicts += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created.len(), conflicts), (6, 6));
    let numbers: BTreeSet<i64> = created.iter().map(|u| u["id"].as_i64().unwrap()).collect();
    assert_eq!(numbers.len(), 6, "distinct numbers");
    assert!(numbers.iter().all(|n| *n > 1));
    let listed = body(app.get_with("/users/?limit=100", &admin).await).await;
    let listed: BTreeSet<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .skip(1)
        .collect();
    assert_eq!(
        listed, numbers,
        "every created user is listed once, nothing half-written"
    );
}

#[tokio::test]
async fn concurrent_resets_with_one_token_succeed_once() {
    if !on_postgres() {
        return;
    }
    let (url, mut mail) = smtp_sink().await;
    let app = spawn_app_with(|s| s.outbound.smtp_url = Some(url)).await;
    app.register("grim@grimoire.test").await;
    // Registration mails a verification token first.
    next_mail_about(&mut mail, VERIFY_SUBJECT).await;
    app.post_json("/auth/password/forgot", &json!({"email": "grim@grimoire.test"}))
        .await;
    let token = token_in(&next_mail(&mut mail).await.data);
    let attempts = (0..8).map(|i| {
        let body = json!({"token": token, "new_password": format!("concurrent passphrase {i}")});
        let request = app.client.post(app.url("/auth/password/reset")).json(&body);
        async move { (i, request.send().await.unwrap().status()) }
    });
    let results = join_all(attempts).await;
    let winners: Vec<usize> = results
        .iter()
        .filter(|(_, s)| *s == StatusCode::OK)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(_, s)| *s == StatusCode::OK || *s == StatusCode::UNPROCESSABLE_ENTITY)
    );
    app.login_ok("grim@grimoire.test", &format!("concurrent passphrase {}", winners[0]))
        .await;
}

#[tokio::test]
async fn concurrent_daarion_registrations_of_one_email_create_one_account() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let attempts = (0..8).map(|_| {
        let request = app
            .client
            .post(app.url("/api/auth/register"))
            .json(&json!({"email": "user@daarion.space", "password": "Password123!", "display_name": "User"}));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::CREATED).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let token = tokens(&app.login_ok("user@daarion.space", "Password123!").await).0;
    let me = body(app.get_with("/me", &token).await).await;
    assert!(me["user_id"].as_i64().unwrap() >= 2);
    let dev = spawn_on(&app.database_url, |s| {
        s.allow_dev_headers = true;
        s.environment = "development".into();
    })
    .await;
    // Development headers racing to create one account: one account.
    let attempts = (0..6).map(|_| {
        let request = dev
            .client
            .get(dev.url("/auth/me"))
            .header("X-User-Email", "racer@example.com");
        async move { body(request.send().await.unwrap()).await["id"].clone() }
    });
    let ids: BTreeSet<String> = join_all(attempts).await.into_iter().map(|v| v.to_string()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
}
