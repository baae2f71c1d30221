//! Seed 002 (CL Server), continued: FastAPI's error bodies, exactly, on seed 002's routes (and
//! only there), JSON bodies, the admin flag and deactivation.
use crate::compat_cl::{fastapi, form, token};
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn error_bodies_are_fastapis_exactly() {
    let app = spawn_app().await;
    let admin = token(&app, "admin", ADMIN_PASSWORD).await;
    form(
        &app,
        "POST",
        "/users/",
        &admin,
        &[("username", "plain"), ("password", "testpass123")],
    )
    .await;
    let plain = token(&app, "plain", "testpass123").await;

    // 401 without a token or with a bad one, 403 for a non-admin: on every route, `detail` alone.
    for (method, path) in [
        ("GET", "/users/"),
        ("POST", "/users/"),
        ("GET", "/users/1"),
        ("PUT", "/users/1"),
        ("DELETE", "/users/1"),
        ("GET", "/users/me"),
        ("POST", "/auth/token/refresh"),
    ] {
        let anonymous = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        let e = fastapi(anonymous, StatusCode::UNAUTHORIZED).await;
        assert_eq!(e, json!({"detail": "Not authenticated"}), "{method} {path}");
        let forged = form(&app, method, path, "not.a.token", &[]).await;
        let e = fastapi(forged, StatusCode::UNAUTHORIZED).await;
        assert_eq!(
            e,
            json!({"detail": "Not authenticated"}),
            "{method} {path} with a bad token"
        );
        if path.starts_with("/users/") && path != "/users/me" {
            let e = fastapi(
                form(
                    &app,
                    method,
                    path,
                    &plain,
                    &[("username", "x"), ("password", "testpass123")],
                )
                .await,
                StatusCode::FORBIDDEN,
            )
            .await;
            assert_eq!(e, json!({"detail": "Not enough permissions"}), "{method} {path}");
        }
    }
    for (method, path) in [
        ("GET", "/users/99"),
        ("PUT", "/users/99"),
        ("DELETE", "/users/99"),
        ("GET", "/users/abc"),
    ] {
        let e = fastapi(
            form(&app, method, path, &admin, &[("is_active", "true")]).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(e, json!({"detail": "User not found"}), "{method} {path}");
    }

    // 422: FastAPI's list, located in the body (or the query), and nothing is written.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: &[Case] = &[
        (&[("password", "testpass123")], &["username"], "value_error.missing"),
        (&[("username", "nopass")], &["password"], "value_error.missing"),
        (&[], &["username", "password"], "value_error.missing"),
        (
            &[("username", "bad name"), ("password", "testpass123")],
            &["username"],
            "value_error",
        ),
        (
            &[("username", "weak"), ("password", "short")],
            &["password"],
            "value_error",
        ),
        (
            &[("username", "flag"), ("password", "testpass123"), ("is_admin", "maybe")],
            &["is_admin"],
            "value_error",
        ),
        (
            &[
                ("username", "spaced"),
                ("password", "testpass123"),
                ("permissions", "[read posts]"),
            ],
            &["permissions"],
            "value_error",
        ),
    ];
    for (fields, named, kind) in cases {
        let e = fastapi(
            form(&app, "POST", "/users/", &admin, fields).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let problems = e["detail"].as_array().expect("a list of problems");
        let locs: Vec<Value> = problems.iter().map(|p| p["loc"].clone()).collect();
        let expected: Vec<Value> = named.iter().map(|f| json!(["body", f])).collect();
        assert_eq!(locs, expected, "{fields:?}: {e}");
        for problem in problems {
            let keys: Vec<&String> = problem.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["loc", "msg", "type"], "{fields:?}: {e}");
            assert_eq!(problem["type"], *kind, "{fields:?}: {e}");
            assert!(problem["msg"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        }
        if *kind == "value_error.missing" {
            assert_eq!(problems[0]["msg"], "field required");
        }
    }
    let e = fastapi(
        form(&app, "PUT", "/users/2", &admin, &[("is_active", "perhaps")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(e["detail"][0]["loc"], json!(["body", "is_active"]));
    fastapi(
        form(
            &app,
            "PUT",
            "/users/2",
            &admin,
            &[("password", "short"), ("is_admin", "true")],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        body(app.get_with("/users/2", &admin).await).await["is_admin"],
        false,
        "the failed update changed nothing"
    );
    let listed = body(app.get_with("/users/", &admin).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "no half-created users: {listed}");
    let e = fastapi(
        app.get_with("/users/?limit=5000", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        e,
        json!({"detail": [{"loc": ["query", "limit"], "msg": "ensure this value is less than or equal to 1000", "type": "value_error.number.not_le"}]})
    );
    let e = fastapi(
        app.get_with("/users/?skip=two", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(e["detail"][0]["loc"], json!(["query", "skip"]));

    // A taken username is FastAPI's 400.
    let taken = fastapi(
        form(
            &app,
            "POST",
            "/users/",
            &admin,
            &[("username", "plain"), ("password", "testpass123")],
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(taken, json!({"detail": "Username already registered"}));
}

#[tokio::test]
async fn form_logins_answer_as_fastapi_and_oauth_clients_as_guildhall() {
    let app = spawn_app().await;
    // Seed 002's form login has no grant_type: FastAPI's bodies.
    let e = fastapi(
        app.post_form("/auth/token", &[("username", "plain")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        e,
        json!({"detail": [{"loc": ["body", "password"], "msg": "field required", "type": "value_error.missing"}]})
    );
    let e = fastapi(
        app.post_form("/auth/token", &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(e["detail"].as_array().unwrap().len(), 2, "both fields: {e}");
    let wrong = app
        .post_form("/auth/token", &[("username", "admin"), ("password", "wrong pass")])
        .await;
    assert_eq!(
        wrong.headers().get("www-authenticate").map(|v| v.to_str().unwrap()),
        Some("Bearer")
    );
    assert_eq!(
        fastapi(wrong, StatusCode::UNAUTHORIZED).await,
        json!({"detail": "Not authenticated"})
    );
    let ok = app
        .post_form("/auth/token", &[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    // An OAuth 2.0 client always sends grant_type: guildhall's own error shape.
    expect_error(
        app.post_form(
            "/auth/token",
            &[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", "wrong pass"),
            ],
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    expect_error(
        app.post_form("/auth/token", &[("grant_type", "password"), ("username", "admin")])
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // And guildhall's own routes keep theirs.
    expect_error(app.get("/auth/me").await, StatusCode::UNAUTHORIZED, "not_authenticated").await;
}

#[tokio::test]
async fn json_bodies_admin_flag_and_deactivation() {
    let app = spawn_app().await;
    let admin = token(&app, "admin", ADMIN_PASSWORD).await;
    // The Python integration example posts JSON.
    let created = app
        .expect("POST", "/users/", &admin, Some(json!({"username": "testuser", "password": "testpass123", "is_admin": false, "permissions": ["read:data"]})), StatusCode::CREATED)
        .await;
    assert_eq!(created["permissions"], json!(["read:data"]));
    let id = created["id"].as_i64().unwrap();
    let user = token(&app, "testuser", "testpass123").await;
    assert_eq!(
        fastapi(app.get_with("/users/", &user).await, StatusCode::FORBIDDEN).await,
        json!({"detail": "Not enough permissions"})
    );

    // is_admin=true makes an organisation admin, who may then list users.
    let promoted = body(form(&app, "PUT", &format!("/users/{id}"), &admin, &[("is_admin", "true")]).await).await;
    assert_eq!(
        (promoted["is_admin"].as_bool(), promoted["permissions"].clone()),
        (Some(true), json!(["*", "read:data"]))
    );
    assert_eq!(app.get_with("/users/", &user).await.status(), StatusCode::OK);
    // An admin cannot lock themselves out.
    let refused = fastapi(
        form(&app, "PUT", &format!("/users/{id}"), &user, &[("is_admin", "false")]).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(refused["detail"].as_str().unwrap().contains("yourself"), "{refused}");
    let demoted = body(form(&app, "PUT", &format!("/users/{id}"), &admin, &[("is_admin", "false")]).await).await;
    assert_eq!(demoted["permissions"], json!(["read:data"]));

    // Password change and deactivation.
    form(
        &app,
        "PUT",
        &format!("/users/{id}"),
        &admin,
        &[("password", "another pass 1")],
    )
    .await;
    assert_eq!(
        app.post_form("/auth/token", &[("username", "testuser"), ("password", "testpass123")])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let user = token(&app, "testuser", "another pass 1").await;
    let inactive = body(form(&app, "PUT", &format!("/users/{id}"), &admin, &[("is_active", "false")]).await).await;
    assert_eq!(inactive["is_active"], false);
    assert_eq!(
        app.me_status(&user).await,
        StatusCode::UNAUTHORIZED,
        "deactivation ends the sessions"
    );
    assert_eq!(
        app.post_form(
            "/auth/token",
            &[("username", "testuser"), ("password", "another pass 1")]
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
}
