//! Bad input on every write route: 4xx of the documented shape, and nothing written.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

const JSON_ROUTES: &[&str] = &["/auth/register", "/auth/login", "/auth/refresh"];

#[tokio::test]
async fn malformed_bodies_get_clear_errors_on_every_json_route() {
    let app = spawn_app().await;
    let big = format!("{{\"email\": \"{}\"}}", "a".repeat(70 * 1024));
    for route in JSON_ROUTES {
        let cases: Vec<(&str, Option<&str>, String, StatusCode, &str)> = vec![
            (
                "malformed",
                Some("application/json"),
                "{\"email\": ".into(),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                "trailing",
                Some("application/json"),
                "{} {}".into(),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                "not an object",
                Some("application/json"),
                "[1, 2]".into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
            (
                "text/plain",
                Some("text/plain"),
                "{}".into(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                "no content type",
                None,
                "{}".into(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                "over 64 KiB",
                Some("application/json"),
                big.clone(),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                "empty object",
                Some("application/json"),
                "{}".into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            ),
        ];
        for (name, content_type, payload, status, code) in cases {
            let mut request = app.client.post(app.url(route)).body(payload);
            if let Some(ct) = content_type {
                request = request.header("content-type", ct);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), status, "{route}: {name}");
            expect_error(response, status, code).await;
        }
    }
}

#[tokio::test]
async fn missing_mistyped_and_unknown_fields_are_named() {
    let app = spawn_app().await;
    let cases = [
        ("/auth/register", json!({"password": PASSWORD}), "email"),
        (
            "/auth/register",
            json!({"email": "ada@acme.test", "password": 12345678}),
            "password",
        ),
        (
            "/auth/register",
            json!({"email": "ada@acme.test", "password": PASSWORD, "admin": true}),
            "admin",
        ),
        (
            "/auth/register",
            json!({"email": "ada@acme.test", "password": PASSWORD, "name": ["x"]}),
            "name",
        ),
        ("/auth/login", json!({"email": "ada@acme.test"}), "password"),
        ("/auth/login", json!({"email": 7, "password": PASSWORD}), "email"),
        ("/auth/refresh", json!({"refresh_token": null}), "refresh_token"),
        ("/auth/refresh", json!({}), "refresh_token"),
    ];
    for (route, payload, field) in cases {
        let b = expect_error(
            app.post_json(route, &payload).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let errors = b["errors"].as_array().unwrap();
        assert!(errors.iter().any(|e| e["field"] == field), "{route} {payload}: {b}");
    }
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = spawn_app().await;
    let payload = json!({"email": "not-an-email", "password": "short", "name": "   ", "username": "a b"});
    let b = expect_error(
        app.post_json("/auth/register", &payload).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut fields: Vec<&str> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["email", "name", "password", "username"]);
}

#[tokio::test]
async fn rejected_registrations_write_nothing() {
    let app = spawn_app().await;
    let bad = [
        json!({"email": "ada@acme.test", "password": "short"}),
        json!({"email": "ada@acme.test", "password": PASSWORD, "username": "no spaces allowed"}),
        json!({"email": "ada@acme.test", "password": PASSWORD, "organization": "elsewhere"}),
    ];
    for payload in bad {
        assert!(
            app.post_json("/auth/register", &payload)
                .await
                .status()
                .is_client_error(),
            "{payload}"
        );
    }
    expect_error(
        app.login("ada@acme.test", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    app.register("ada@acme.test").await;
}

#[tokio::test]
async fn form_routes_check_their_content_type_and_fields() {
    let app = spawn_app().await;
    let response = app
        .post_json("/auth/token", &json!({"username": "a", "password": "b"}))
        .await;
    expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let response = app
        .client
        .post(app.url("/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username={}", "a".repeat(70 * 1024)))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn a_malformed_logout_body_is_a_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/auth/logout"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
}
