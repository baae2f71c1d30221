//! Seed 002 (CL Server), continued: the documented status codes and `detail` strings of every
//! route, JSON bodies, the admin flag and deactivation.
use crate::compat_cl::{form, token};
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn status_codes_and_details_are_the_documented_ones() {
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

    // 401 without a token, 403 for a non-admin, 404 for a missing user: on every admin route.
    for (method, path) in [
        ("GET", "/users/"),
        ("POST", "/users/"),
        ("GET", "/users/1"),
        ("PUT", "/users/1"),
        ("DELETE", "/users/1"),
    ] {
        let anonymous = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        let e = expect_error(anonymous, StatusCode::UNAUTHORIZED, "not_authenticated").await;
        assert_eq!(e["detail"], "Not authenticated", "{method} {path}");
        let e = expect_error(
            form(
                &app,
                method,
                path,
                &plain,
                &[("username", "x"), ("password", "testpass123")],
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_eq!(e["detail"], "Not enough permissions", "{method} {path}");
    }
    for (method, path) in [
        ("GET", "/users/99"),
        ("PUT", "/users/99"),
        ("DELETE", "/users/99"),
        ("GET", "/users/abc"),
    ] {
        let e = expect_error(
            form(&app, method, path, &admin, &[("is_active", "true")]).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(e["detail"], "User not found", "{method} {path}");
    }

    // 422: missing or invalid fields, and nothing is written.
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("password", "testpass123")], "username"),
        (&[("username", "nopass")], "password"),
        (&[("username", "bad name"), ("password", "testpass123")], "username"),
        (&[("username", "weak"), ("password", "short")], "password"),
        (
            &[("username", "flag"), ("password", "testpass123"), ("is_admin", "maybe")],
            "is_admin",
        ),
        (
            &[
                ("username", "spaced"),
                ("password", "testpass123"),
                ("permissions", "[read posts]"),
            ],
            "permissions",
        ),
    ];
    for (fields, field) in cases {
        let e = expect_error(
            form(&app, "POST", "/users/", &admin, fields).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(e["errors"][0]["field"], *field, "{fields:?}");
    }
    let e = expect_error(
        form(&app, "PUT", "/users/2", &admin, &[("is_active", "perhaps")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(e["errors"][0]["field"], "is_active");
    expect_error(
        form(
            &app,
            "PUT",
            "/users/2",
            &admin,
            &[("password", "short"), ("is_admin", "true")],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        body(app.get_with("/users/2", &admin).await).await["is_admin"],
        false,
        "the failed update changed nothing"
    );
    let listed = body(app.get_with("/users/", &admin).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "no half-created users: {listed}");
    expect_error(
        app.get_with("/users/?limit=5000", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        form(
            &app,
            "POST",
            "/users/",
            &admin,
            &[("username", "plain"), ("password", "testpass123")],
        )
        .await,
        StatusCode::CONFLICT,
        "user_exists",
    )
    .await;
    expect_error(
        app.post_form("/auth/token", &[("username", "plain")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.post_form("/auth/token", &[("username", "plain"), ("password", "wrong pass")])
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
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
        body(app.get_with("/users/", &user).await).await["detail"],
        "Not enough permissions"
    );

    // is_admin=true makes an organisation admin, who may then list users.
    let promoted = body(form(&app, "PUT", &format!("/users/{id}"), &admin, &[("is_admin", "true")]).await).await;
    assert_eq!(
        (promoted["is_admin"].as_bool(), promoted["permissions"].clone()),
        (Some(true), json!(["*", "read:data"]))
    );
    assert_eq!(app.get_with("/users/", &user).await.status(), StatusCode::OK);
    // An admin cannot lock themselves out.
    expect_error(
        form(&app, "PUT", &format!("/users/{id}"), &user, &[("is_admin", "false")]).await,
        StatusCode::CONFLICT,
        "self_lockout",
    )
    .await;
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
