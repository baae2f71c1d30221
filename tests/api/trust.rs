//! Trust boundaries between accounts, tenants and owners: each sequence here was an attack on the
//! release before these rules, and is refused now.
use crate::fake_idp::FakeIdp;
use crate::helpers::*;
use crate::mail::{next_mail, smtp_sink, token_in};
use crate::oidc::{acme_with, log_in};
use crate::oidc_support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn members_of(app: &TestApp, org: &Org) -> Value {
    let path = format!("/orgs/{}/members", org.id);
    app.expect("GET", &path, &org.admin_token, None, StatusCode::OK).await
}

#[tokio::test]
async fn a_self_registered_address_cannot_be_added_to_an_organisation_by_email() {
    let app = spawn_app().await;
    // The squatter registers the CFO's address with a password of their own.
    let squatter = app.register("cfo@b.test").await;
    assert_eq!(squatter["user"]["email_verified"], false);
    assert_eq!(
        claims_of(squatter["access_token"].as_str().unwrap())["email_verified"],
        false
    );
    let b = app.create_org("b").await;
    let before = members_of(&app, &b).await;
    let add = app
        .send(
            "POST",
            &format!("/orgs/{}/members", b.id),
            &b.admin_token,
            Some(json!({"email": "cfo@b.test", "roles": ["admin"]})),
        )
        .await;
    let refused = expect_error(add, StatusCode::CONFLICT, "email_not_verified").await;
    assert!(refused["detail"].as_str().unwrap().contains("invit"), "{refused}");
    assert_eq!(members_of(&app, &b).await, before, "nothing changed");
    let into_b = app
        .post_json(
            "/auth/login",
            &json!({"email": "cfo@b.test", "password": PASSWORD, "organization": "b"}),
        )
        .await;
    expect_error(into_b, StatusCode::FORBIDDEN, "not_a_member").await;

    // An account a superuser made counts as verified, and says so everywhere.
    let root = app.superuser_token().await;
    let made = app
        .expect(
            "POST",
            "/admin/users",
            &root,
            Some(json!({"email": "real@b.test", "password": PASSWORD})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(made["email_verified"], true);
    let token = tokens(&app.login_ok("real@b.test", PASSWORD).await).0;
    assert_eq!(claims_of(&token)["email_verified"], true);
    assert_eq!(app.validate(&token).await["user"]["email_verified"], true);
    let me = app.get_with("/auth/me", &token).await;
    assert_eq!(body(me).await["email_verified"], true);
}

#[tokio::test]
async fn a_provider_links_by_email_only_an_account_whose_address_is_verified() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    let acme = acme_with(&app, &idp, |p| p["link_by_email"] = json!(true)).await;
    // An account acme's admin made: in acme alone, but nobody proved its address.
    app.expect(
        "POST",
        "/admin/users",
        &acme.admin_token,
        Some(json!({"email": "dana@acme.test", "password": PASSWORD})),
        StatusCode::CREATED,
    )
    .await;
    idp.set_account(json!({"sub": "dana-at-idp", "email": "dana@acme.test", "email_verified": true}));
    assert_eq!(log_in(&app).await["error"], "account_exists");
}

#[tokio::test]
async fn owners_are_changed_only_by_owners_and_the_last_owner_stays() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let owner = claims_of(&acme.admin_token)["sub"].as_str().unwrap().to_owned();
    let admin_id = app
        .user_in(&acme.admin_token, &acme.id, "admin2@acme.test", &["admin"])
        .await;
    let admin = app.token_in("admin2@acme.test", "acme").await;
    let forbidden = [
        (
            "PATCH",
            format!("/admin/users/{owner}"),
            Some(json!({"password": "a new owner password"})),
        ),
        (
            "PATCH",
            format!("/admin/users/{owner}"),
            Some(json!({"is_active": false})),
        ),
        ("DELETE", format!("/admin/users/{owner}"), None),
        ("DELETE", format!("/orgs/{}/members/{owner}", acme.id), None),
        (
            "PUT",
            format!("/orgs/{}/members/{owner}", acme.id),
            Some(json!({"roles": ["member"]})),
        ),
        (
            "PUT",
            format!("/orgs/{}/members/{admin_id}", acme.id),
            Some(json!({"roles": ["owner"]})),
        ),
    ];
    for (method, path, body) in forbidden {
        let response = app.send(method, &path, &admin, body.clone()).await;
        expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    app.login_ok(&acme.admin_email, PASSWORD).await;

    // Seed 002's routes follow the same rules.
    let listed = app.expect("GET", "/users/", &admin, None, StatusCode::OK).await;
    let number = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == acme.admin_email)
        .unwrap()["id"]
        .clone();
    let put = app
        .client
        .put(app.url(&format!("/users/{number}")))
        .bearer_auth(&admin)
        .form(&[("password", "a new owner password")])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    let delete = app.send("DELETE", &format!("/users/{number}"), &admin, None).await;
    assert_eq!(delete.status(), StatusCode::FORBIDDEN);

    // An admin cannot make owners through a provider's group mapping either.
    let mapping = json!({
        "slug": "acme-sso", "name": "Acme SSO", "issuer": "https://idp.acme.test", "client_id": "c",
        "mappings": [{"value": "everyone", "roles": ["owner"]}]
    });
    let providers = format!("/orgs/{}/identity-providers", acme.id);
    let response = app.send("POST", &providers, &admin, Some(mapping.clone())).await;
    expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    app.expect(
        "POST",
        &providers,
        &acme.admin_token,
        Some(mapping),
        StatusCode::CREATED,
    )
    .await;

    // The last owner is neither demoted nor removed, even by themselves or a superuser.
    let demote = app
        .send(
            "PUT",
            &format!("/orgs/{}/members/{owner}", acme.id),
            &acme.admin_token,
            Some(json!({"roles": ["admin"]})),
        )
        .await;
    expect_error(demote, StatusCode::CONFLICT, "last_owner").await;
    let root = app.superuser_token().await;
    for (method, path) in [
        ("DELETE", format!("/orgs/{}/members/{owner}", acme.id)),
        ("DELETE", format!("/admin/users/{owner}")),
    ] {
        expect_error(
            app.send(method, &path, &root, None).await,
            StatusCode::CONFLICT,
            "last_owner",
        )
        .await;
    }
    // With a second owner, the first may go.
    app.expect(
        "PUT",
        &format!("/orgs/{}/members/{admin_id}", acme.id),
        &acme.admin_token,
        Some(json!({"roles": ["owner"]})),
        StatusCode::OK,
    )
    .await;
    app.expect(
        "PUT",
        &format!("/orgs/{}/members/{owner}", acme.id),
        &acme.admin_token,
        Some(json!({"roles": ["admin"]})),
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn an_account_in_no_organisation_is_a_superusers_to_place() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let root = app.superuser_token().await;
    let made = app
        .expect(
            "POST",
            "/admin/users",
            &root,
            Some(json!({"email": "orphan@x.test", "password": PASSWORD})),
            StatusCode::CREATED,
        )
        .await;
    let id = made["id"].as_str().unwrap();
    let default_org = app.default_org_id().await;
    app.expect(
        "DELETE",
        &format!("/orgs/{default_org}/members/{id}"),
        &root,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let adopt = app
        .send(
            "POST",
            &format!("/orgs/{}/members", acme.id),
            &acme.admin_token,
            Some(json!({"email": "orphan@x.test"})),
        )
        .await;
    expect_error(adopt, StatusCode::CONFLICT, "account_unaffiliated").await;
    let reset = app
        .send(
            "PATCH",
            &format!("/admin/users/{id}"),
            &acme.admin_token,
            Some(json!({"password": "a password of mine"})),
        )
        .await;
    expect_error(reset, StatusCode::NOT_FOUND, "not_found").await;
    // Its password is still its own (a wrong one would be 401); it just belongs nowhere yet.
    let login = app.login("orphan@x.test", PASSWORD).await;
    expect_error(login, StatusCode::FORBIDDEN, "no_organisation").await;
}

#[tokio::test]
async fn changing_credentials_ends_the_sessions_it_should() {
    let (url, mut mail) = smtp_sink().await;
    let app = spawn_app_with(|s| s.outbound.smtp_url = Some(url)).await;
    let acme = app.create_org("acme").await;
    let ada = app
        .user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let first = tokens(&app.login_ok("ada@acme.test", PASSWORD).await).0;

    // An admin sets the password: every session ends.
    let new_password = "an admin chose this one";
    app.expect(
        "PATCH",
        &format!("/admin/users/{ada}"),
        &acme.admin_token,
        Some(json!({"password": new_password})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.me_status(&first).await, StatusCode::UNAUTHORIZED);

    // The user changes it: every session but the current one ends.
    let current = tokens(&app.login_ok("ada@acme.test", new_password).await).0;
    let other = tokens(&app.login_ok("ada@acme.test", new_password).await).0;
    let wrong = app
        .client
        .post(app.url("/auth/password/change"))
        .bearer_auth(&current)
        .json(&json!({"current_password": "not it", "new_password": "my own new password"}))
        .send()
        .await
        .unwrap();
    expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let changed = app
        .client
        .post(app.url("/auth/password/change"))
        .bearer_auth(&current)
        .json(&json!({"current_password": new_password, "new_password": "my own new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.me_status(&current).await,
        StatusCode::OK,
        "the current session stays"
    );
    assert_eq!(app.me_status(&other).await, StatusCode::UNAUTHORIZED);
    app.login_ok("ada@acme.test", "my own new password").await;

    // An email change spends the reset links mailed to the old address.
    let forgot = app
        .post_json("/auth/password/forgot", &json!({"email": "ada@acme.test"}))
        .await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    let reset_token = token_in(&next_mail(&mut mail).await.data);
    app.expect(
        "PATCH",
        &format!("/admin/users/{ada}"),
        &acme.admin_token,
        Some(json!({"email": "ada@new.acme.test"})),
        StatusCode::OK,
    )
    .await;
    let reset = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": reset_token, "new_password": "a stolen mailbox's password"}),
        )
        .await;
    expect_error(reset, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn a_refused_organisation_switch_spends_nothing() {
    let app = spawn_app().await;
    app.create_org("not-mine").await;
    let (_, refresh) = tokens(&app.register("ada@example.test").await);
    let switch = app
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": refresh, "organization": "not-mine"}),
        )
        .await;
    expect_error(switch, StatusCode::FORBIDDEN, "not_a_member").await;
    let ordinary = app.refresh(&refresh).await;
    assert_eq!(ordinary.status(), StatusCode::OK, "the token was not spent");
    let (access, _) = tokens(&body(ordinary).await);
    assert_eq!(app.me_status(&access).await, StatusCode::OK, "and the session lives");
}

#[tokio::test]
async fn introspection_needs_the_introspect_permission() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let created = app
        .expect(
            "POST",
            &format!("/orgs/{}/service-accounts", acme.id),
            &acme.admin_token,
            Some(json!({"name": "reports", "permissions": ["read:reports"]})),
            StatusCode::CREATED,
        )
        .await;
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let response = app
        .client
        .post(app.url("/auth/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", acme.admin_token.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::FORBIDDEN, "insufficient_scope").await;
}

#[tokio::test]
async fn a_changed_secret_in_a_seed_document_rotates_the_service_account() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let document = |secret: &str| {
        format!(
            "orgs:\n  - slug: acme\n    name: Acme\n    service_accounts:\n      - client_id: acme-reports\n        name: Reports\n        secret: {secret}\n        permissions: [introspect]\n"
        )
    };
    let apply = |text: String| {
        app.client
            .post(app.url("/admin/seed"))
            .bearer_auth(&root)
            .header("content-type", "application/yaml")
            .body(text)
            .send()
    };
    let first = apply(document("first-secret-0123456789abcdef-0123456789"))
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK, "{}", first.text().await.unwrap());
    let grant = |secret: &str| {
        app.client
            .post(app.url("/auth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "acme-reports"),
                ("client_secret", secret),
            ])
            .send()
    };
    assert_eq!(
        grant("first-secret-0123456789abcdef-0123456789")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        apply(document("second-secret-0123456789abcdef-0123456789"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        grant("first-secret-0123456789abcdef-0123456789")
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        grant("second-secret-0123456789abcdef-0123456789")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn jit_provisioning_does_not_bring_back_a_member_an_admin_removed() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    let acme = acme_with(&app, &idp, |_| {}).await;
    let grant = exchange(&app, &log_in(&app).await["code"]).await;
    let dana = grant["user"]["id"].as_str().unwrap().to_owned();
    app.expect(
        "DELETE",
        &format!("/orgs/{}/members/{dana}", acme.id),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(log_in(&app).await["error"], "membership_removed");
    // An admin may bring the member back; then the provider's logins work again.
    let root = app.superuser_token().await;
    app.expect(
        "POST",
        &format!("/orgs/{}/members", acme.id),
        &root,
        Some(json!({"user_id": dana})),
        StatusCode::CREATED,
    )
    .await;
    assert!(log_in(&app).await.contains_key("code"));
}

#[tokio::test]
async fn usernames_are_normalised_and_look_alikes_refused() {
    let app = spawn_app().await;
    let register = |email: &str, username: &str| {
        let body = json!({"email": email, "password": PASSWORD, "username": username});
        app.client.post(app.url("/auth/register")).json(&body).send()
    };
    let first = body(register("ada@x.test", "ＡＤＡ").await.unwrap()).await;
    assert_eq!(first["user"]["username"], "ada", "fullwidth letters are the same name");
    app.login_ok("ada", PASSWORD).await;
    // "аda" with a Cyrillic а looks exactly like "ada".
    let cyrillic = register("fake@x.test", "\u{0430}da").await.unwrap();
    expect_error(cyrillic, StatusCode::CONFLICT, "user_exists").await;
    let other = register("bob@x.test", "bob").await.unwrap();
    assert_eq!(other.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_provider_must_not_send_passwords_over_plain_http() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    idp.tamper(crate::fake_idp::Tamper::PlainAuthorize);
    acme_with(&app, &idp, |_| {}).await;
    let start = manual()
        .get(app.url(&format!(
            "/auth/oidc/acme-sso/login?redirect_uri={}",
            urlencode(FRONTEND)
        )))
        .send()
        .await
        .unwrap();
    expect_error(start, StatusCode::BAD_GATEWAY, "insecure_provider").await;
}
