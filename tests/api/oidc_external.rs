//! The global provider (`AUTH_OIDC_*`): its code flow provisions into the default organisation,
//! and `/auth/me` and `/auth/validate` accept its own tokens (seed 003's enterprise mode).
use crate::fake_idp::{CLIENT_ID, CLIENT_SECRET, FakeIdp};
use crate::helpers::*;
use crate::oidc_support::*;
use reqwest::StatusCode;
use serde_json::json;

async fn spawn_with_global(idp: &FakeIdp) -> TestApp {
    let issuer = idp.issuer().to_owned();
    spawn_app_with(move |s| {
        s.oidc.oidc_issuer = Some(issuer);
        s.oidc.oidc_client_id = Some(CLIENT_ID.into());
        s.oidc.oidc_client_secret = Some(CLIENT_SECRET.into());
        s.oidc.oidc_redirect_uris = Some(FRONTEND.into());
    })
    .await
}

#[tokio::test]
async fn the_providers_tokens_are_accepted_by_validate_and_me() {
    let idp = FakeIdp::start().await;
    let app = spawn_with_global(&idp).await;
    let users = user_count(&app).await;
    let token = idp.mint(json!({}));

    let verdict = app.validate(&token).await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["user"]["email"], "dana@acme.test");
    assert_eq!(
        verdict["user"]["org"]["slug"], "default",
        "provisioned into the default organisation"
    );
    assert_eq!(user_count(&app).await, users + 1);

    let me = app.get_with("/auth/me", &token).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me = body(me).await;
    assert_eq!(me["id"], verdict["user"]["id"], "the same account every time");
    // Cognito-style access tokens carry the client in `client_id` instead of `aud`.
    let access = idp.mint(json!({"aud": null, "client_id": CLIENT_ID, "token_use": "access"}));
    assert_eq!(app.validate(&access).await["user"]["id"], me["id"]);
    assert_eq!(user_count(&app).await, users + 1);

    for (token, reason) in [
        (idp.mint(json!({"aud": "someone-else"})), "invalid_audience"),
        (
            idp.mint(json!({"exp": crate::fake_idp::wall_clock() - 3600})),
            "token_expired",
        ),
        (idp.mint_hmac(json!({})), "algorithm_not_allowed"),
    ] {
        let verdict = app.validate(&token).await;
        assert_eq!(verdict["valid"], false, "{reason}");
        assert_eq!(verdict["error"], reason);
        let me = app.get_with("/auth/me", &token).await;
        expect_error(me, StatusCode::UNAUTHORIZED, reason).await;
    }
    // Someone else's issuer is not the provider's: our own verdict stands.
    let foreign = idp.mint(json!({"iss": "https://evil.test"}));
    assert_eq!(app.validate(&foreign).await["valid"], false);
    assert_eq!(app.me_status(&foreign).await, StatusCode::UNAUTHORIZED);
    // A forged signature with the provider's issuer and key id.
    let mut parts: Vec<String> = idp.mint(json!({})).split('.').map(String::from).collect();
    parts[2] = parts[2].chars().rev().collect();
    let verdict = app.validate(&parts.join(".")).await;
    assert_eq!(verdict["valid"], false);
    assert_eq!(user_count(&app).await, users + 1);

    // A known subject's next token is answered from caches alone, like our own tokens.
    app.handle.close_database().await.unwrap();
    let verdict = app.validate(&idp.mint(json!({}))).await;
    assert_eq!(verdict["valid"], true, "validate with the database closed: {verdict}");
    assert_eq!(verdict["user"]["id"], me["id"]);
}

#[tokio::test]
async fn without_a_global_provider_foreign_tokens_are_refused() {
    let idp = FakeIdp::start().await;
    let app = spawn_oidc_app().await;
    let verdict = app.validate(&idp.mint(json!({}))).await;
    assert_eq!(verdict["valid"], false);
    assert_eq!(app.me_status(&idp.mint(json!({}))).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_global_provider_logs_in_through_the_code_flow() {
    let idp = FakeIdp::start().await;
    let app = spawn_with_global(&idp).await;
    let browser = Browser::start(&app, "default").await;
    assert!(browser.authorize.starts_with(idp.issuer()));
    let at_idp = location(&manual().get(&browser.authorize).send().await.unwrap());
    assert!(
        at_idp.starts_with(&format!("{PUBLIC}/auth/oidc/default/callback")),
        "{at_idp}"
    );
    let back = browser.finish(&app, &at_idp).await;
    let grant = exchange(&app, &back["code"]).await;
    assert_eq!(grant["user"]["email"], "dana@acme.test");
    assert_eq!(
        claims_of(grant["access_token"].as_str().unwrap())["org"]["slug"],
        "default"
    );
    // Its ID token, presented directly, is the same person.
    assert_eq!(
        app.validate(&idp.mint(json!({}))).await["user"]["id"],
        grant["user"]["id"]
    );
}

#[tokio::test]
async fn concurrent_first_sightings_of_one_identity_make_one_account() {
    let idp = FakeIdp::start().await;
    let app = spawn_with_global(&idp).await;
    let users = user_count(&app).await;
    let token = idp.mint(json!({"sub": "racer", "email": "racer@acme.test"}));
    let verdicts = futures_util::future::join_all((0..8).map(|_| app.validate(&token))).await;
    for v in &verdicts {
        assert_eq!(v["valid"], true, "{v}");
        assert_eq!(v["user"]["id"], verdicts[0]["user"]["id"]);
    }
    assert_eq!(user_count(&app).await, users + 1);
}
