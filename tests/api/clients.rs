//! Service accounts, the client-credentials grant and RFC 7662 introspection.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

async fn account(app: &TestApp, org: &Org) -> (String, String, String) {
    let created = app
        .expect(
            "POST",
            &format!("/orgs/{}/service-accounts", org.id),
            &org.admin_token,
            Some(json!({"name": "billing", "permissions": ["introspect", "read:users"]})),
            StatusCode::CREATED,
        )
        .await;
    let listed = app
        .expect(
            "GET",
            &format!("/orgs/{}/service-accounts", org.id),
            &org.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert!(listed[0].get("client_secret").is_none(), "the secret is shown once");
    (
        created["id"].as_str().unwrap().into(),
        created["client_id"].as_str().unwrap().into(),
        created["client_secret"].as_str().unwrap().into(),
    )
}

async fn introspect(app: &TestApp, id: &str, secret: &str, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auth/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn introspection_follows_rfc_7662() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let (_, id, secret) = account(&app, &acme).await;
    app.user_in(&acme.admin_token, &acme.id, "ada@example.test", &["member"])
        .await;
    let token = app.token_in("ada@example.test", "acme").await;

    let active = introspect(&app, &id, &secret, &token).await;
    assert_eq!(active.status(), StatusCode::OK);
    let v = body(active).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["username"], "ada@example.test");
    assert_eq!(v["org"]["slug"], "acme");
    assert_eq!(v["iss"], "http://guildhall.test");
    for field in ["sub", "exp", "iat", "aud", "jti", "roles", "teams", "domains", "scope"] {
        assert!(v.get(field).is_some(), "{field} in {v}");
    }
    for inactive in ["garbage", globex.admin_token.as_str()] {
        let v = body(introspect(&app, &id, &secret, inactive).await).await;
        assert_eq!(v, json!({"active": false}), "exactly inactive");
    }
    assert_eq!(
        app.post_with("/auth/logout", &token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        body(introspect(&app, &id, &secret, &token).await).await,
        json!({"active": false})
    );

    let unauthenticated = app
        .client
        .post(app.url("/auth/introspect"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(unauthenticated, StatusCode::UNAUTHORIZED, "invalid_client").await;
    expect_error(
        introspect(&app, &id, "wrong", &token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    let user_as_client = app
        .client
        .post(app.url("/auth/introspect"))
        .bearer_auth(&acme.admin_token)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(user_as_client, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let missing = app
        .client
        .post(app.url("/auth/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("nothing", "")])
        .send()
        .await
        .unwrap();
    expect_error(missing, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn client_credentials_issue_service_tokens_until_the_account_is_deleted() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let (account_id, id, secret) = account(&app, &acme).await;
    let response = app
        .client
        .post(app.url("/auth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let grant = body(response).await;
    assert_eq!(grant["token_type"], "bearer");
    assert_eq!(grant["scope"], "introspect read:users");
    let token = grant["access_token"].as_str().unwrap();
    let claims = claims_of(token);
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["org"]["slug"], "acme");
    assert!(claims.get("sid").is_none());

    let form = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(form.status(), StatusCode::OK, "credentials in the form work too");
    let v = body(introspect(&app, &id, &secret, token).await).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], id.as_str());
    assert_eq!(app.validate(token).await["error"], "not_a_user_token");
    expect_error(
        app.get_with("/auth/me", token).await,
        StatusCode::FORBIDDEN,
        "user_token_required",
    )
    .await;

    let wrong = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "nope"),
            ],
        )
        .await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let none = app
        .post_form("/auth/token", &[("grant_type", "client_credentials")])
        .await;
    expect_error(none, StatusCode::UNAUTHORIZED, "invalid_client").await;

    app.expect(
        "DELETE",
        &format!("/orgs/{}/service-accounts/{account_id}", acme.id),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let again = app
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    expect_error(again, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(
        app.validate(token).await["error"],
        "session_revoked",
        "its tokens die with it"
    );
}
