//! Organisations, memberships and the claims and `/auth/validate` answers built from them.
use crate::helpers::*;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_user_in_two_organisations_gets_a_token_per_org_and_switches_without_logging_in() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let other = app.create_org("initech").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@example.test", &["admin"])
        .await;
    app.user_in(&globex.admin_token, &globex.id, "ada@example.test", &["member"])
        .await;

    let login = body(
        app.post_json(
            "/auth/login",
            &json!({"email": "ada@example.test", "password": PASSWORD, "organization": "acme"}),
        )
        .await,
    )
    .await;
    let (acme_token, refresh) = tokens(&login);
    assert_eq!(claims_of(&acme_token)["org"]["slug"], "acme");
    assert_eq!(claims_of(&acme_token)["roles"], json!(["admin"]));
    assert_eq!(login["user"]["org"]["slug"], "acme");

    let switched = app
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": refresh, "organization": "globex"}),
        )
        .await;
    assert_eq!(switched.status(), StatusCode::OK);
    let switched = body(switched).await;
    let (globex_token, refresh) = tokens(&switched);
    assert_eq!(claims_of(&globex_token)["org"]["slug"], "globex");
    assert_eq!(claims_of(&globex_token)["roles"], json!(["member"]));
    assert_eq!(
        claims_of(&globex_token)["sid"],
        claims_of(&acme_token)["sid"],
        "same session"
    );
    assert_eq!(
        body(app.get_with("/auth/me", &globex_token).await).await["org"]["slug"],
        "globex"
    );

    let form = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("organization", "acme"),
            ],
        )
        .await;
    assert_eq!(form.status(), StatusCode::OK);
    let (_, refresh) = tokens(&body(form).await);

    let denied = app
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": refresh, "organization": other.slug}),
        )
        .await;
    expect_error(denied, StatusCode::FORBIDDEN, "not_a_member").await;
    let denied = app
        .post_json(
            "/auth/login",
            &json!({"email": "ada@example.test", "password": PASSWORD, "organization": "initech"}),
        )
        .await;
    expect_error(denied, StatusCode::FORBIDDEN, "not_a_member").await;
    let unknown = app
        .post_json(
            "/auth/login",
            &json!({"email": "ada@example.test", "password": PASSWORD, "organization": "nope"}),
        )
        .await;
    expect_error(unknown, StatusCode::FORBIDDEN, "not_a_member").await;

    let again = body(
        app.post_json(
            "/auth/login",
            &json!({"email": "ada@example.test", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(
        again["user"]["org"]["slug"], "acme",
        "without organization: the last one used"
    );
}

#[tokio::test]
async fn claims_carry_org_roles_permissions_teams_and_domain_paths() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let role = app
        .expect(
            "POST",
            &format!("/orgs/{}/roles", acme.id),
            &acme.admin_token,
            Some(json!({"key": "editor", "permissions": ["write:posts", "read:posts"]})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(role["permissions"], json!(["read:posts", "write:posts"]));
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member", "editor"])
        .await;
    let platform = app.create_team(&acme.admin_token, "platform").await;
    app.expect(
        "PUT",
        &format!("/teams/{platform}/members/{ada}"),
        &acme.admin_token,
        Some(json!({"role": "maintainer"})),
        StatusCode::NO_CONTENT,
    )
    .await;
    let eng = app.create_domain(&acme.admin_token, "engineering", None).await;
    let backend = app.create_domain(&acme.admin_token, "backend", Some(&eng)).await;
    app.create_domain(&acme.admin_token, "db", Some(&backend)).await;
    app.expect(
        "PUT",
        &format!("/domains/{backend}/users/{ada}"),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;

    let token = app.token_in("ada@example.test", "acme").await;
    let claims = claims_of(&token);
    assert_eq!(claims["org"], json!({"id": acme.id, "slug": "acme"}));
    assert_eq!(claims["roles"], json!(["editor", "member"]));
    assert_eq!(claims["permissions"], json!(["read:posts", "write:posts"]));
    assert_eq!(
        claims["teams"],
        json!([{"id": platform, "slug": "platform", "role": "maintainer"}])
    );
    assert_eq!(claims["domains"], json!(["engineering/backend"]));
    assert!(claims["mv"].as_i64().unwrap() >= 3, "each change bumped mv: {claims}");
    assert!(claims.get("ctx").is_none());

    let validated = app.validate(&token).await;
    assert_eq!(validated["valid"], true);
    assert_eq!(validated["error"], Value::Null);
    let user = &validated["user"];
    assert_eq!(user["email"], "ada@example.test");
    assert_eq!(user["org"]["slug"], "acme");
    assert_eq!(
        user["teams"],
        json!([{"id": platform, "slug": "platform", "name": "platform", "role": "maintainer"}])
    );
    let paths: Vec<&str> = user["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["engineering/backend", "engineering/backend/db"],
        "the assignment's whole subtree"
    );

    let mine = body(app.get_with("/domains", &token).await).await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
    let teams = body(app.get_with("/teams", &token).await).await;
    assert_eq!(
        teams,
        json!([{"id": platform, "slug": "platform", "name": "platform", "role": "maintainer"}])
    );
}

#[tokio::test]
async fn validate_answers_current_memberships_for_a_stale_token() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    let token = app.token_in("ada@example.test", "acme").await;
    let minted_mv = claims_of(&token)["mv"].as_i64().unwrap();
    assert_eq!(app.validate(&token).await["user"]["teams"], json!([]));

    let team = app.create_team(&acme.admin_token, "platform").await;
    app.expect(
        "PUT",
        &format!("/teams/{team}/members/{ada}"),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    app.expect(
        "PUT",
        &format!("/orgs/{}/members/{ada}", acme.id),
        &acme.admin_token,
        Some(json!({"roles": ["admin"]})),
        StatusCode::OK,
    )
    .await;

    let validated = app.validate(&token).await;
    assert_eq!(validated["valid"], true);
    assert_eq!(
        validated["user"]["teams"][0]["slug"], "platform",
        "fresh, not what the token says"
    );
    assert_eq!(validated["user"]["roles"], json!(["admin"]));
    assert_eq!(
        body(app.get_with("/auth/me", &token).await).await["roles"],
        json!(["admin"])
    );
    let fresh = app.token_in("ada@example.test", "acme").await;
    assert!(claims_of(&fresh)["mv"].as_i64().unwrap() > minted_mv);

    app.expect(
        "DELETE",
        &format!("/teams/{team}"),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(
        app.validate(&token).await["user"]["teams"],
        json!([]),
        "deleting a team removes its memberships"
    );
}

#[tokio::test]
async fn validate_refuses_with_stable_reasons() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    let bob = app
        .user_in(&acme.admin_token, &acme.id, "bob@example.test", &["member"])
        .await;
    let ada_token = app.token_in("ada@example.test", "acme").await;
    let bob_token = app.token_in("bob@example.test", "acme").await;
    let logged_out = app.token_in("ada@example.test", "acme").await;
    assert_eq!(
        app.post_with("/auth/logout", &logged_out).await.status(),
        StatusCode::NO_CONTENT
    );

    let root = app.superuser_token().await;
    app.expect(
        "PATCH",
        &format!("/admin/users/{ada}"),
        &root,
        Some(json!({"is_active": false})),
        StatusCode::OK,
    )
    .await;
    app.expect(
        "DELETE",
        &format!("/orgs/{}/members/{bob}", acme.id),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;

    let cases = [
        (ada_token.as_str(), "session_revoked"),
        (bob_token.as_str(), "session_revoked"),
        (logged_out.as_str(), "session_revoked"),
        ("not-a-jwt", "malformed_token"),
    ];
    for (token, reason) in cases {
        let v = app.validate(token).await;
        assert_eq!(v, json!({"valid": false, "user": null, "error": reason}), "{reason}");
    }
    app.advance(Duration::seconds(1800 + 31));
    let fresh_root = app.superuser_token().await;
    assert_eq!(app.validate(&root).await["error"], "token_expired");
    assert_eq!(app.validate(&fresh_root).await["valid"], true);
    let by_header = app
        .client
        .post(app.url("/auth/validate"))
        .bearer_auth(&fresh_root)
        .send()
        .await
        .unwrap();
    assert_eq!(body(by_header).await["valid"], true, "Authorization: Bearer works too");
    let none = app.client.post(app.url("/auth/validate")).send().await.unwrap();
    expect_error(none, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn deactivation_and_removal_end_what_they_must() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    app.user_in(&globex.admin_token, &globex.id, "ada@example.test", &["member"])
        .await;
    let in_acme = app.token_in("ada@example.test", "acme").await;
    let in_globex = app.token_in("ada@example.test", "globex").await;

    app.expect(
        "DELETE",
        &format!("/orgs/{}/members/{ada}", acme.id),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(
        app.me_status(&in_acme).await,
        StatusCode::UNAUTHORIZED,
        "sessions in the organisation end"
    );
    assert_eq!(
        app.me_status(&in_globex).await,
        StatusCode::OK,
        "the other organisation is untouched"
    );
    let login = app
        .post_json(
            "/auth/login",
            &json!({"email": "ada@example.test", "password": PASSWORD, "organization": "acme"}),
        )
        .await;
    expect_error(login, StatusCode::FORBIDDEN, "not_a_member").await;

    let root = app.superuser_token().await;
    app.expect(
        "PATCH",
        &format!("/admin/users/{ada}"),
        &root,
        Some(json!({"is_active": false})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.me_status(&in_globex).await, StatusCode::UNAUTHORIZED);
    expect_error(
        app.login("ada@example.test", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn past_the_claim_budget_teams_and_domains_move_to_validate() {
    let app = spawn_app_with(|s| s.claim_budget = 1200).await;
    let acme = app.create_org("acme").await;
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    for i in 0..12 {
        let team = app
            .create_team(&acme.admin_token, &format!("team-with-a-long-slug-{i}"))
            .await;
        app.expect(
            "PUT",
            &format!("/teams/{team}/members/{ada}"),
            &acme.admin_token,
            None,
            StatusCode::NO_CONTENT,
        )
        .await;
    }
    let token = app.token_in("ada@example.test", "acme").await;
    let claims = claims_of(&token);
    assert_eq!(claims["ctx"], "validate");
    assert!(
        claims.get("teams").is_none() && claims.get("domains").is_none(),
        "{claims}"
    );
    assert_eq!(claims["roles"], json!(["member"]));
    assert_eq!(
        app.validate(&token).await["user"]["teams"].as_array().unwrap().len(),
        12
    );
}

#[tokio::test]
async fn the_validate_path_needs_no_database_once_warm() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    let token = app.token_in("ada@example.test", "acme").await;
    assert_eq!(app.validate(&token).await["valid"], true);
    assert_eq!(app.me_status(&token).await, StatusCode::OK);
    assert_eq!(app.get_with("/teams", &token).await.status(), StatusCode::OK);
    app.handle.close_database().await.unwrap();
    assert_eq!(
        app.validate(&token).await["valid"],
        true,
        "validate with the database closed"
    );
    assert_eq!(
        app.me_status(&token).await,
        StatusCode::OK,
        "/auth/me with the database closed"
    );
    assert_eq!(
        app.get_with("/teams", &token).await.status(),
        StatusCode::OK,
        "/teams with the database closed"
    );
    assert_eq!(
        app.get_with("/domains", &token).await.status(),
        StatusCode::OK,
        "/domains with the database closed"
    );
}

#[tokio::test]
async fn organisations_are_managed_by_superusers_and_their_admins() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let acme = app.create_org("acme").await;
    let member = app
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    let member_token = app.token_in("ada@example.test", "acme").await;

    let orgs = app.expect("GET", "/orgs", &root, None, StatusCode::OK).await;
    assert_eq!(orgs["total"], 2);
    let mine = app.expect("GET", "/orgs", &member_token, None, StatusCode::OK).await;
    assert_eq!(
        mine["items"].as_array().unwrap().len(),
        1,
        "members see their own organisations"
    );

    for (token, status) in [
        (&acme.admin_token, StatusCode::FORBIDDEN),
        (&member_token, StatusCode::FORBIDDEN),
    ] {
        let response = app
            .send("POST", "/orgs", token, Some(json!({"slug": "x", "name": "X"})))
            .await;
        assert_eq!(response.status(), status);
    }
    expect_error(
        app.send("POST", "/orgs", &root, Some(json!({"slug": "acme", "name": "Again"})))
            .await,
        StatusCode::CONFLICT,
        "organization_exists",
    )
    .await;
    let renamed = app
        .expect(
            "PATCH",
            &format!("/orgs/{}", acme.id),
            &acme.admin_token,
            Some(json!({"name": "Acme Corp"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(renamed["name"], "Acme Corp");
    expect_error(
        app.send(
            "PATCH",
            &format!("/orgs/{}", acme.id),
            &acme.admin_token,
            Some(json!({"is_active": false})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.send("GET", &format!("/orgs/{}/members", acme.id), &member_token, None)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.send("POST", "/teams", &member_token, Some(json!({"slug": "t", "name": "T"})))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let members = app
        .expect(
            "GET",
            &format!("/orgs/{}/members", acme.id),
            &acme.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(members["total"], 2);
    expect_error(
        app.send(
            "PUT",
            &format!("/orgs/{}/members/{member}", acme.id),
            &acme.admin_token,
            Some(json!({"roles": ["ghost"]})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.send(
            "POST",
            &format!("/orgs/{}/members", acme.id),
            &acme.admin_token,
            Some(json!({"email": "ada@example.test"})),
        )
        .await,
        StatusCode::CONFLICT,
        "already_a_member",
    )
    .await;
    expect_error(
        app.send(
            "POST",
            &format!("/orgs/{}/members", acme.id),
            &acme.admin_token,
            Some(json!({"email": "nobody@example.test"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    app.expect(
        "PATCH",
        &format!("/orgs/{}", acme.id),
        &root,
        Some(json!({"is_active": false})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.validate(&member_token).await["error"], "organization_inactive");
    let default_id = app.default_org_id().await;
    expect_error(
        app.send("DELETE", &format!("/orgs/{default_id}"), &root, None).await,
        StatusCode::CONFLICT,
        "default_organization",
    )
    .await;
    app.expect(
        "DELETE",
        &format!("/orgs/{}", acme.id),
        &root,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.validate(&acme.admin_token).await["valid"], false);
    assert_eq!(
        app.expect("GET", "/orgs", &root, None, StatusCode::OK).await["total"],
        1
    );
}

#[tokio::test]
async fn roles_are_managed_and_builtins_are_fixed() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let base = format!("/orgs/{}/roles", acme.id);
    let roles = app.expect("GET", &base, &acme.admin_token, None, StatusCode::OK).await;
    let keys: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["admin", "member", "owner"]);
    let owner_id = roles[2]["id"].as_str().unwrap();
    expect_error(
        app.send("DELETE", &format!("{base}/{owner_id}"), &acme.admin_token, None)
            .await,
        StatusCode::CONFLICT,
        "builtin_role",
    )
    .await;
    let editor = app
        .expect(
            "POST",
            &base,
            &acme.admin_token,
            Some(json!({"key": "editor", "permissions": ["read:posts"]})),
            StatusCode::CREATED,
        )
        .await;
    let editor_id = editor["id"].as_str().unwrap();
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["editor"])
        .await;
    let token = app.token_in("ada@example.test", "acme").await;
    let updated = app
        .expect(
            "PATCH",
            &format!("{base}/{editor_id}"),
            &acme.admin_token,
            Some(json!({"permissions": ["read:posts", "write:posts"]})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(updated["permissions"], json!(["read:posts", "write:posts"]));
    assert_eq!(
        app.validate(&token).await["user"]["permissions"],
        json!(["read:posts", "write:posts"]),
        "role holders see it at once"
    );
    app.expect(
        "DELETE",
        &format!("{base}/{editor_id}"),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.validate(&token).await["user"]["roles"], json!([]));
    let _ = ada;
    expect_error(
        app.send("POST", &base, &acme.admin_token, Some(json!({"key": "member"})))
            .await,
        StatusCode::CONFLICT,
        "role_exists",
    )
    .await;
    expect_error(
        app.send(
            "POST",
            &base,
            &acme.admin_token,
            Some(json!({"key": "x", "permissions": ["has space"]})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn only_owners_grant_the_owner_role() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "boss@example.test", &["admin"])
        .await;
    let admin_token = app.token_in("boss@example.test", "acme").await;
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    let path = format!("/orgs/{}/members/{ada}", acme.id);
    expect_error(
        app.send("PUT", &path, &admin_token, Some(json!({"roles": ["owner"]})))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    app.expect(
        "PUT",
        &path,
        &acme.admin_token,
        Some(json!({"roles": ["owner"]})),
        StatusCode::OK,
    )
    .await;
}
