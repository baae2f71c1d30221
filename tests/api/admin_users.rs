//! `/admin/users`: superusers manage everyone; organisation admins manage their own users only.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn org_admins_manage_their_users_and_superusers_everyone() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let t = &acme.admin_token;
    let created = app
        .expect(
            "POST",
            "/admin/users",
            t,
            Some(json!({"email": "New@Acme.test", "password": PASSWORD, "name": "New", "roles": ["admin"]})),
            StatusCode::CREATED,
        )
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["email"], "new@acme.test");
    let token = app.token_in("new@acme.test", "acme").await;
    assert_eq!(claims_of(&token)["roles"], json!(["admin"]));
    let list = app.expect("GET", "/admin/users", t, None, StatusCode::OK).await;
    assert_eq!(list["total"], 2, "acme's owner and the new user");
    let root = app.superuser_token().await;
    assert!(
        app.expect("GET", "/admin/users", &root, None, StatusCode::OK).await["total"]
            .as_u64()
            .unwrap()
            >= 4
    );

    let patched = app
        .expect(
            "PATCH",
            &format!("/admin/users/{id}"),
            t,
            Some(json!({"name": "Renamed", "username": "renamed"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (patched["name"].as_str(), patched["username"].as_str()),
        (Some("Renamed"), Some("renamed"))
    );
    expect_error(
        app.send(
            "PATCH",
            &format!("/admin/users/{id}"),
            t,
            Some(json!({"is_superuser": true})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.send(
            "POST",
            "/admin/users",
            t,
            Some(json!({"email": "x@acme.test", "is_superuser": true})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // acme's admin made the account, which proves nothing about its address: a superuser vouches
    // for it before another organisation may add it.
    app.expect(
        "PATCH",
        &format!("/admin/users/{id}"),
        &root,
        Some(json!({"email_verified": true})),
        StatusCode::OK,
    )
    .await;
    app.user_in(&globex.admin_token, &globex.id, "new@acme.test", &["member"])
        .await;
    let shared = app
        .send("PATCH", &format!("/admin/users/{id}"), t, Some(json!({"name": "Mine"})))
        .await;
    expect_error(shared, StatusCode::CONFLICT, "user_in_other_organizations").await;
    expect_error(
        app.send("DELETE", &format!("/admin/users/{id}"), t, None).await,
        StatusCode::CONFLICT,
        "user_in_other_organizations",
    )
    .await;

    let own = app.user_in(t, &acme.id, "solo@acme.test", &["member"]).await;
    let solo_token = app.token_in("solo@acme.test", "acme").await;
    app.expect(
        "DELETE",
        &format!("/admin/users/{own}"),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.me_status(&solo_token).await, StatusCode::UNAUTHORIZED);
    expect_error(
        app.send("GET", &format!("/admin/users/{own}"), t, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let member_token = app.token_in("new@acme.test", "globex").await;
    expect_error(
        app.send("GET", "/admin/users", &member_token, None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let me = claims_of(&root)["sub"].as_str().unwrap().to_owned();
    expect_error(
        app.send("DELETE", &format!("/admin/users/{me}"), &root, None).await,
        StatusCode::CONFLICT,
        "self_lockout",
    )
    .await;
}

#[tokio::test]
async fn admin_user_writes_reject_bad_input_and_write_nothing() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let before = app.expect("GET", "/admin/users", &root, None, StatusCode::OK).await["total"].clone();
    let cases = [
        json!({"email": "not-an-email"}),
        json!({"email": "a@b.test", "password": "short"}),
        json!({"email": "a@b.test", "roles": ["ghost"]}),
        json!({"email": "a@b.test", "username": "has space"}),
        json!({"email": ADMIN_EMAIL}),
        json!({"email": 3}),
        json!({"email": "a@b.test", "unknown": 1}),
    ];
    for case in cases {
        let response = app.send("POST", "/admin/users", &root, Some(case.clone())).await;
        assert!(response.status().is_client_error(), "{case}");
    }
    assert_eq!(
        app.expect("GET", "/admin/users", &root, None, StatusCode::OK).await["total"],
        before
    );
}
