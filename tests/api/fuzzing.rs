//! What a schemathesis run against the binary found (`tests/schema/run.sh`), kept as tests:
//! numbers out of range and malformed query strings are our 422 naming the parameter (never a
//! panic, never axum's plain text), bodies are JSON objects, no text holds a NUL (PostgreSQL
//! cannot store one: it was a 500 there), a database that does not answer is a 503 with
//! `Retry-After`, and the description lists what operations answer.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The field a 422 names first.
async fn invalid_field(response: reqwest::Response) -> String {
    let body = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    body["errors"][0]["field"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn numbers_out_of_range_in_a_query_are_a_422_naming_the_parameter() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    // Seed 002's `/users/` answers FastAPI's 422 (its clients parse that), naming the parameter.
    // SQLite binds signed 64 bits: one past i64::MAX used to panic in the driver.
    for (path, field) in [
        ("/users/?skip=9223372036854775808", "skip"),
        ("/users/?skip=18446744073709551616", "skip"),
        ("/users/?skip=-1", "skip"),
        ("/users/?limit=1001", "limit"),
    ] {
        let response = app.get_with(path, &token).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let detail = body(response).await;
        assert_eq!(detail["detail"][0]["loc"], json!(["query", field]), "{path}: {detail}");
    }
    let cases = [
        ("/teams/all?limit=18446744073709551616", "limit"),
        ("/teams/all?limit=201", "limit"),
        ("/admin/users?limit=0", "limit"),
        ("/admin/audit?limit=-5", "limit"),
    ];
    for (path, field) in cases {
        assert_eq!(invalid_field(app.get_with(path, &token).await).await, field, "{path}");
    }
    let largest = app.get_with("/users/?skip=9223372036854775807", &token).await;
    assert_eq!(largest.status(), StatusCode::OK, "the largest skip is served");
    assert_eq!(body(largest).await, json!([]));
}

#[tokio::test]
async fn a_malformed_query_string_is_our_422_not_plain_text() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let cases = [
        ("GET", "/teams/all?limit=abc", "limit"),
        ("GET", "/teams/all?limit=1&limit=2", "limit"),
        ("GET", "/teams/all?cursor=not-a-cursor", "cursor"),
        (
            "GET",
            "/orgs?cursor=urn:uuid:01a230f1-49f6-7650-8501-385bf5aa588e",
            "cursor",
        ),
        ("GET", "/domains/all?format=", "format"),
        ("GET", "/domains/all?format=xml", "format"),
        ("POST", "/admin/seed?dry_run=maybe", "dry_run"),
    ];
    for (method, path, field) in cases {
        let response = app.send(method, path, &token, None).await;
        assert_eq!(invalid_field(response).await, field, "{method} {path}");
    }
    for format in ["flat", "tree"] {
        let response = app.get_with(&format!("/domains/all?format={format}"), &token).await;
        assert_eq!(response.status(), StatusCode::OK, "{format}");
    }
}

#[tokio::test]
async fn a_json_body_is_an_object() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let team = app.create_team(&token, "platform").await;
    // serde reads a struct from an array of its fields too; `[null, null]` once patched a team.
    for (method, path, bad) in [
        ("PATCH", format!("/teams/{team}"), json!([null, null])),
        ("POST", "/auth/validate".to_owned(), json!([])),
        ("POST", "/auth/login".to_owned(), json!("admin")),
    ] {
        let response = app.send(method, &path, &token, Some(bad.clone())).await;
        assert_eq!(invalid_field(response).await, "body", "{method} {path} {bad}");
    }
    let still = app
        .expect("GET", &format!("/teams/{team}"), &token, None, StatusCode::OK)
        .await;
    assert_eq!(still["slug"], "platform");
}

#[tokio::test]
async fn text_with_a_nul_character_is_refused_on_every_database() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let login = app
        .post_json("/auth/login", &json!({"email": "ada\u{0}@acme.test", "password": "x"}))
        .await;
    assert_eq!(invalid_field(login).await, "email");
    let nested = app
        .send(
            "POST",
            "/orgs",
            &token,
            Some(json!({"slug": "acme", "name": "Acme", "x": ["ok", "n\u{0}"]})),
        )
        .await;
    assert_eq!(invalid_field(nested).await, "x[1]");
    let form = app
        .post_form("/auth/token", &[("username", "ada\0"), ("password", "x")])
        .await;
    assert_eq!(invalid_field(form).await, "username");
    let query = app.get_with("/teams/all?cursor=%00", &token).await;
    assert_eq!(invalid_field(query).await, "cursor");
    let path = app.get("/auth/oidc/acme%00/login?redirect_uri=x").await;
    expect_error(path, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_database_that_does_not_answer_is_a_503_with_retry_after() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    app.handle.close_database().await.unwrap();

    let write = app
        .send("POST", "/teams", &token, Some(json!({"slug": "ops", "name": "Ops"})))
        .await;
    let login = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let read = app.get_with("/admin/users", &token).await;
    for (what, response) in [("a write", write), ("a login", login), ("a read", read)] {
        assert_eq!(response.headers()["retry-after"], "5", "{what}");
        expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    }
}

/// The standard answers `openapi::document` adds, on a few operations of each kind.
#[tokio::test]
async fn the_description_lists_what_operations_answer() {
    let app = spawn_app_with(|s| s.password_min_length = 12).await;
    let doc = body(app.get("/openapi.json").await).await;
    let statuses = |method: &str, path: &str| -> Vec<String> {
        let responses = doc["paths"][path][method]["responses"].as_object();
        responses
            .unwrap_or_else(|| panic!("{method} {path}"))
            .keys()
            .cloned()
            .collect()
    };
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "post",
            "/teams",
            &["201", "400", "401", "403", "409", "413", "415", "422", "503"],
        ),
        (
            "patch",
            "/teams/{id}",
            &["200", "401", "403", "404", "409", "422", "503"],
        ),
        ("get", "/users/", &["200", "401", "403", "422", "503"]),
        ("post", "/auth/login", &["200", "401", "422", "429", "503"]),
        ("get", "/healthz", &["200"]),
    ];
    for (method, path, expected) in cases {
        let got = statuses(method, path);
        for status in *expected {
            assert!(
                got.iter().any(|s| s == status),
                "{method} {path} lists {status}: {got:?}"
            );
        }
    }
    assert_eq!(
        statuses("get", "/healthz"),
        ["200"],
        "nothing a health check cannot answer"
    );

    let responses = &doc["components"]["responses"];
    for (name, header) in [
        ("Unauthorized", "WWW-Authenticate"),
        ("TooManyRequests", "Retry-After"),
        ("Unavailable", "Retry-After"),
    ] {
        assert_eq!(responses[name]["headers"][header]["required"], true, "{name}");
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["NewPassword"]["minLength"], 12, "the configured policy");
    assert!(
        schemas["NewPassword"]["not"]["enum"]
            .as_array()
            .is_some_and(|l| l.contains(&json!("password")))
    );
    let named: Vec<&Value> = schemas["LoginRequest"]["anyOf"].as_array().unwrap().iter().collect();
    assert_eq!(named.len(), 3, "email, username or login names the account");
    let format = &doc["paths"]["/domains/all"]["get"]["parameters"][0]["schema"];
    assert_eq!(format["enum"], json!(["flat", "tree"]), "{format}");
}
