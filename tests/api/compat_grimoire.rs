//! Seed 004 (Grimoire): access and refresh tokens with rotation, logout, superusers' user CRUD,
//! password reset by a single-use token delivered over SMTP (to a sink in this test), `/docs`
//! and `/redoc`.
use crate::helpers::*;
use crate::mail::{VERIFY_SUBJECT, next_mail, next_mail_about, smtp_sink, token_in};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn access_and_refresh_rotation_logout_and_superuser_crud() {
    let app = spawn_app().await;
    app.register("grim@grimoire.test").await;
    let (access, refresh) = tokens(&app.login_ok("grim@grimoire.test", PASSWORD).await);
    assert_eq!(app.me_status(&access).await, StatusCode::OK);
    let rotated = body(app.refresh(&refresh).await).await;
    let (access2, _) = tokens(&rotated);
    assert_ne!(rotated["refresh_token"], refresh.as_str());
    expect_error(app.refresh(&refresh).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert_eq!(
        app.me_status(&access2).await,
        StatusCode::UNAUTHORIZED,
        "reuse of the old one revoked the session"
    );
    let (access3, _) = tokens(&app.login_ok("grim@grimoire.test", PASSWORD).await);
    assert_eq!(
        app.post_with("/auth/logout", &access3).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me_status(&access3).await, StatusCode::UNAUTHORIZED);

    let root = app.superuser_token().await;
    let user = app
        .expect(
            "POST",
            "/admin/users",
            &root,
            Some(json!({"email": "crud@grimoire.test", "password": PASSWORD, "full_name": "Full Name"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(user["name"], "Full Name");
    let path = format!("/admin/users/{}", user["id"].as_str().unwrap());
    let patched = app
        .expect(
            "PATCH",
            &path,
            &root,
            Some(json!({"full_name": "Renamed", "is_active": false})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (patched["name"].as_str(), patched["is_active"].as_bool()),
        (Some("Renamed"), Some(false))
    );
    let member = tokens(&app.login_ok("grim@grimoire.test", PASSWORD).await).0;
    app.expect("GET", &path, &member, None, StatusCode::FORBIDDEN).await;
    app.expect(
        "PATCH",
        &path,
        &root,
        Some(json!({"is_superuser": "yes"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    app.expect("DELETE", &path, &root, None, StatusCode::NO_CONTENT).await;
    app.expect("GET", &path, &root, None, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn password_reset_by_smtp_is_single_use_and_ends_every_session() {
    let (url, mut mail) = smtp_sink().await;
    let app = spawn_app_with(|s| {
        s.outbound.smtp_url = Some(url);
        s.outbound.password_reset_url = Some("https://app.grimoire.test/reset?token={token}".into());
    })
    .await;
    app.register("grim@grimoire.test").await;
    // Registration mails a verification token first.
    next_mail_about(&mut mail, VERIFY_SUBJECT).await;
    let (access, refresh) = tokens(&app.login_ok("grim@grimoire.test", PASSWORD).await);

    // The same answer whether or not the account exists.
    let known = app
        .post_json("/auth/password/forgot", &json!({"email": "Grim@Grimoire.test"}))
        .await;
    let unknown = app
        .post_json("/auth/password/forgot", &json!({"email": "nobody@grimoire.test"}))
        .await;
    assert_eq!(
        (known.status(), unknown.status()),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(body(known).await, body(unknown).await);
    let message = next_mail(&mut mail).await;
    assert_eq!(message.recipients, ["grim@grimoire.test"]);
    let token = token_in(&message.data);
    assert!(
        message
            .data
            .contains(&format!("https://app.grimoire.test/reset?token={token}")),
        "{}",
        message.data
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mail.try_recv().is_err(), "nothing is sent for an unknown account");

    // A weak password is refused and does not spend the token.
    let weak = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": token, "new_password": "short"}),
        )
        .await;
    let e = expect_error(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(e["errors"][0]["field"], "new_password");
    let done = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": token, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);

    // Every session ended; the old password no longer works; the new one does.
    assert_eq!(app.me_status(&access).await, StatusCode::UNAUTHORIZED);
    expect_error(app.refresh(&refresh).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert_eq!(
        app.login("grim@grimoire.test", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login_ok("grim@grimoire.test", "a brand new passphrase").await;

    // Single use.
    let again = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": token, "new_password": "yet another passphrase"}),
        )
        .await;
    let e = expect_error(again, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(e["errors"][0]["field"], "token");
    app.login_ok("grim@grimoire.test", "a brand new passphrase").await;
}

#[tokio::test]
async fn reset_tokens_expire_are_stored_hashed_and_a_reset_spends_the_older_ones() {
    use guildhall::store::Conn;
    let (url, mut mail) = smtp_sink().await;
    let app = spawn_app_with(|s| s.outbound.smtp_url = Some(url)).await;
    app.register("grim@grimoire.test").await;
    // Registration mails a verification token first.
    next_mail_about(&mut mail, VERIFY_SUBJECT).await;
    // At most one mail a minute per address: the second request within the minute sends nothing.
    for _ in 0..2 {
        app.post_json("/auth/password/forgot", &json!({"email": "grim@grimoire.test"}))
            .await;
    }
    let first = token_in(&next_mail(&mut mail).await.data);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mail.try_recv().is_err(), "a second mail within the minute");
    app.advance(chrono::Duration::seconds(60));
    app.post_json("/auth/password/forgot", &json!({"email": "grim@grimoire.test"}))
        .await;
    let second = token_in(&next_mail(&mut mail).await.data);
    assert_ne!(first, second);

    let db = app.handle.db();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT token_hash FROM password_resets",
        ))
        .await
        .unwrap();
    let stored: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "token_hash").unwrap())
        .collect();
    assert_eq!(stored.len(), 2);
    for token in [&first, &second] {
        assert!(!stored.contains(token), "the token itself is never stored");
        let digest: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(stored.contains(&digest), "its SHA-256 is");
    }

    // Using the second spends the first too.
    let ok = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": second, "password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let stale = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": first, "new_password": "yet another passphrase"}),
        )
        .await;
    expect_error(stale, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // Expiry: one hour by default (a minute on, so the mail is not paced).
    app.advance(chrono::Duration::seconds(60));
    app.post_json("/auth/password/forgot", &json!({"email": "grim@grimoire.test"}))
        .await;
    let late = token_in(&next_mail(&mut mail).await.data);
    app.advance(chrono::Duration::minutes(61));
    let expired = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": late, "new_password": "yet another passphrase"}),
        )
        .await;
    expect_error(expired, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    app.login_ok("grim@grimoire.test", "a brand new passphrase").await;
}

#[tokio::test]
async fn bad_input_and_no_smtp() {
    let app = spawn_app().await;
    app.register("grim@grimoire.test").await;
    for input in [
        json!({}),
        json!({"email": "not an email"}),
        json!({"email": "grim@grimoire.test", "extra": 1}),
    ] {
        expect_error(
            app.post_json("/auth/password/forgot", &input).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    for input in [
        json!({"new_password": "a brand new passphrase"}),
        json!({"token": "", "new_password": "a brand new passphrase"}),
        json!({"token": "made-up", "new_password": "a brand new passphrase"}),
    ] {
        expect_error(
            app.post_json("/auth/password/reset", &input).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    // Without SMTP (production): the same answer, nothing delivered, the password unchanged.
    assert_eq!(
        app.post_json("/auth/password/forgot", &json!({"email": "grim@grimoire.test"}))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    app.login_ok("grim@grimoire.test", PASSWORD).await;
}

#[tokio::test]
async fn docs_and_redoc_are_served_without_the_internet() {
    let app = spawn_app().await;
    assert_eq!(app.get("/docs/").await.status(), StatusCode::OK);
    let page = app.get("/redoc").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/openapi.json") && html.contains("/redoc/redoc.standalone.js"),
        "{html}"
    );
    assert!(!html.contains("https://"), "the page loads nothing from the internet");
    let script = app.get("/redoc/redoc.standalone.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(script.text().await.unwrap().contains("Redoc"));
    let doc = body(app.get("/openapi.json").await).await;
    assert!(doc["paths"]["/auth/password/forgot"]["post"].is_object());
}
