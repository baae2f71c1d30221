//! Bad input on every tenancy write route: a 4xx of the documented shape, nothing written.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn every_tenancy_write_route_rejects_bad_input() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let t = &acme.admin_token;
    let root = app.superuser_token().await;
    let team = app.create_team(t, "team").await;
    let domain = app.create_domain(t, "domain", None).await;
    let user = app.user_in(t, &acme.id, "ada@example.test", &["member"]).await;
    let role = app
        .expect(
            "POST",
            &format!("/orgs/{}/roles", acme.id),
            t,
            Some(json!({"key": "custom"})),
            StatusCode::CREATED,
        )
        .await;
    let role = role["id"].as_str().unwrap();
    let o = &acme.id;
    let long = "x".repeat(300);
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            "/teams".into(),
            json!({"slug": "Bad Slug", "name": "x"}),
            "slug",
        ),
        ("POST", "/teams".into(), json!({"slug": "ok", "name": ""}), "name"),
        (
            "POST",
            "/teams".into(),
            json!({"slug": "ok", "name": "x", "external_ref": long}),
            "external_ref",
        ),
        ("POST", "/teams".into(), json!({"name": "x"}), "slug"),
        ("PATCH", format!("/teams/{team}"), json!({"slug": "-bad"}), "slug"),
        (
            "PATCH",
            format!("/teams/{team}"),
            json!({"is_active": "yes"}),
            "is_active",
        ),
        (
            "PUT",
            format!("/teams/{team}/members/{user}"),
            json!({"role": "king"}),
            "role",
        ),
        ("POST", "/domains".into(), json!({"key": "Bad Key", "name": "x"}), "key"),
        (
            "POST",
            "/domains".into(),
            json!({"key": "k", "name": "x", "parent_id": "nope"}),
            "parent_id",
        ),
        (
            "PATCH",
            format!("/domains/{domain}"),
            json!({"parent_id": uuid::Uuid::new_v4()}),
            "parent_id",
        ),
        ("POST", "/orgs".into(), json!({"slug": "UPPER", "name": "x"}), "slug"),
        ("PATCH", format!("/orgs/{o}"), json!({"name": ""}), "name"),
        ("POST", format!("/orgs/{o}/members"), json!({}), "email"),
        (
            "POST",
            format!("/orgs/{o}/members"),
            json!({"user_id": "not-a-uuid"}),
            "user_id",
        ),
        (
            "PUT",
            format!("/orgs/{o}/members/{user}"),
            json!({"roles": "admin"}),
            "roles",
        ),
        (
            "POST",
            format!("/orgs/{o}/roles"),
            json!({"key": "", "permissions": []}),
            "key",
        ),
        (
            "PATCH",
            format!("/orgs/{o}/roles/{role}"),
            json!({"permissions": ["a b"]}),
            "permissions",
        ),
        (
            "POST",
            format!("/orgs/{o}/service-accounts"),
            json!({"name": ""}),
            "name",
        ),
        (
            "POST",
            format!("/orgs/{o}/service-accounts"),
            json!({"name": "x", "permissions": [""]}),
            "permissions",
        ),
        (
            "PATCH",
            format!("/admin/users/{user}"),
            json!({"email": "nope"}),
            "email",
        ),
        (
            "PATCH",
            format!("/admin/users/{user}"),
            json!({"password": "short"}),
            "password",
        ),
    ];
    for (method, path, payload, field) in cases {
        let token = if path == "/orgs" { &root } else { t };
        let response = app.send(method, &path, token, Some(payload.clone())).await;
        let b = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(
            b["errors"].as_array().unwrap().iter().any(|e| e["field"] == field),
            "{method} {path} {payload}: {b}"
        );
    }
    for (method, path) in [
        ("POST", "/teams"),
        ("POST", "/domains"),
        ("POST", &format!("/orgs/{o}/roles") as &str),
    ] {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(t)
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
    assert_eq!(
        app.expect("GET", "/teams/all", t, None, StatusCode::OK).await["total"],
        1,
        "nothing written"
    );
    assert_eq!(
        app.expect("GET", "/domains/all", t, None, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.expect("GET", "/orgs", &root, None, StatusCode::OK).await["total"],
        2
    );
    let v = app.validate(&app.token_in("ada@example.test", "acme").await).await;
    assert_eq!(v["user"]["email"], "ada@example.test");
}
