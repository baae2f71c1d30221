//! Against node `oidc-provider` (OpenID Certified): the whole code flow driven headlessly through
//! its development interactions, just-in-time provisioning with group mapping, linking by verified
//! email, and refused consent.
use crate::helpers::*;
use crate::oidc_node::NodeIdp;
use crate::oidc_support::*;
use reqwest::StatusCode;
use serde_json::json;

const SECRET: &str = "a-client-secret-for-the-node-provider";

async fn provider_for(slug: &str) -> NodeIdp {
    NodeIdp::start(json!({
        "clients": [{"client_id": "guildhall", "client_secret": SECRET,
                     "redirect_uris": [format!("{PUBLIC}/auth/oidc/{slug}/callback")]}],
        "accounts": {
            "alice": {"email": "alice@acme.test", "email_verified": true, "name": "Alice Liddell", "groups": ["engineers"]},
            "bob": {"email": "bob@acme.test", "email_verified": true, "name": "Bob", "groups": []},
        }
    }))
    .await
}

async fn connect(app: &TestApp, idp: &NodeIdp, link_by_email: bool) -> Org {
    let acme = app.create_org("acme").await;
    // Providers may serve only verified email domains of their organisation.
    app.verified_email_domain(&acme.id, "acme.test", serde_json::Value::Null)
        .await;
    let t = &acme.admin_token;
    app.create_team(t, "platform").await;
    app.create_domain(t, "eng", None).await;
    let provider = json!({
        "slug": "acme-idp", "name": "Acme IdP", "issuer": idp.issuer, "client_id": "guildhall",
        "client_secret": SECRET, "scopes": ["openid", "email", "profile", "groups"],
        "email_domains": ["acme.test"], "jit": true, "link_by_email": link_by_email,
        "mappings": [{"value": "engineers", "roles": ["admin"], "teams": {"platform": "owner"}, "domains": ["eng"]}]
    });
    let path = format!("/orgs/{}/identity-providers", acme.id);
    app.expect("POST", &path, t, Some(provider), StatusCode::CREATED).await;
    acme
}

async fn log_in(app: &TestApp, idp: &NodeIdp, account: &str) -> std::collections::HashMap<String, String> {
    let browser = Browser::start(app, "acme-idp").await;
    let back_at = idp.authorize(&browser.authorize, account, false).await;
    browser.finish(app, &back_at).await
}

#[tokio::test]
async fn a_real_provider_logs_users_in_and_provisions_them_with_their_groups() {
    let idp = provider_for("acme-idp").await;
    let app = spawn_oidc_app().await;
    let acme = connect(&app, &idp, false).await;

    let back = log_in(&app, &idp, "alice").await;
    assert_eq!(back["state"], "frontend-state");
    let grant = exchange(&app, &back["code"]).await;
    assert_eq!(grant["user"]["email"], "alice@acme.test");
    assert_eq!(grant["user"]["name"], "Alice Liddell");
    let access = grant["access_token"].as_str().unwrap();
    let claims = claims_of(access);
    assert_eq!(claims["org"]["id"], acme.id);
    assert_eq!(claims["roles"], json!(["admin", "member"]));
    assert_eq!(claims["teams"][0]["slug"], "platform");
    assert_eq!(claims["teams"][0]["role"], "owner");
    let verdict = app.validate(access).await;
    assert_eq!(verdict["user"]["domains"][0]["key"], "eng", "{verdict}");

    // Bob is in no mapped group: a plain member.
    let bob = exchange(&app, &log_in(&app, &idp, "bob").await["code"]).await;
    assert_eq!(
        claims_of(bob["access_token"].as_str().unwrap())["roles"],
        json!(["member"])
    );

    // Alice again: the same account, found by (issuer, subject).
    let again = exchange(&app, &log_in(&app, &idp, "alice").await["code"]).await;
    assert_eq!(again["user"]["id"], grant["user"]["id"]);
    // Her refresh token works like any other.
    let refreshed = app.refresh(again["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_real_provider_links_a_verified_email_and_reports_refused_consent() {
    let idp = provider_for("acme-idp").await;
    let app = spawn_oidc_app().await;
    let acme = connect(&app, &idp, true).await;
    let local = app
        .user_in(&acme.admin_token, &acme.id, "alice@acme.test", &["member"])
        .await;
    let users = user_count(&app).await;

    let grant = exchange(&app, &log_in(&app, &idp, "alice").await["code"]).await;
    assert_eq!(grant["user"]["id"], local.as_str(), "linked by the verified email");
    assert_eq!(user_count(&app).await, users);

    let browser = Browser::start(&app, "acme-idp").await;
    let back_at = idp.authorize(&browser.authorize, "bob", true).await;
    let back = browser.finish(&app, &back_at).await;
    assert_eq!(back["error"], "access_denied");
    assert_eq!(user_count(&app).await, users, "nothing created");
}
