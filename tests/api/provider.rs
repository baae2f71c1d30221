//! guildhall as an OpenID Provider, driven by the Rust `openidconnect` crate as a relying party
//! and by a cookie-keeping HTTP client through the hosted pages: discovery, code + PKCE, ID
//! token validation, userinfo, refresh per client, single sign-on, consent, organisation
//! picker, logout, and what must be refused.
use crate::helpers::{PASSWORD, TestApp, body, claims_of, expect_error};
use crate::op_support::{Browser, authorize_url, exchange, pkce, register_app, spawn_provider};
use guildhall::service::oidc::http::Http;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CALLBACK: &str = "http://127.0.0.1:9/callback";

async fn acme_app(app: &TestApp, settings: Value) -> (crate::helpers::Org, Value) {
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let client = register_app(app, &acme, settings).await;
    (acme, client)
}

#[tokio::test]
async fn a_stock_relying_party_logs_a_user_in_with_code_and_pkce() {
    let app = spawn_provider(|_| {}).await;
    let (acme, registered) = acme_app(
        &app,
        json!({"name": "Wiki", "kind": "confidential", "redirect_uris": [CALLBACK]}),
    )
    .await;
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let secret = registered["client_secret"].as_str().unwrap().to_owned();

    let http = Http::new().unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new(&app);
    let login = browser.get(url.as_str()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.is("Log in to Wiki") && login.is("ACME"), "{}", login.html);
    let csp = login.csp.clone().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let consent = browser.log_in(&login, "ada@acme.test", PASSWORD).await;
    assert!(consent.is("Wiki wants to access your account"), "{}", consent.html);
    assert!(consent.is("See your email address"));
    let back = browser.consent(&consent, "allow").await;
    assert_eq!(back.status, StatusCode::FOUND);
    assert!(back.location.as_deref().unwrap().starts_with(CALLBACK));
    assert_eq!(back.param("state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(back.param("iss").as_deref(), Some(app.address.as_str()), "RFC 9207");
    let code = back.param("code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token response");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("a valid ID token");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@acme.test"));
    assert_eq!(claims.audiences()[0].as_str(), client_id);
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.access_token_hash().unwrap(),
        &AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap()
        )
        .unwrap()
    );
    let raw_id = claims_of(&id_token.to_string());
    assert_eq!(raw_id["amr"], json!(["pwd"]));
    assert_eq!(raw_id["org"]["slug"], "acme");
    assert_eq!(raw_id["azp"], client_id);
    let header: Value = {
        use base64::Engine;
        let h = id_token.to_string().split('.').next().unwrap().to_owned();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
    };
    assert_eq!(
        header["alg"], "RS256",
        "ID tokens are RS256 by default, whatever signs access tokens"
    );

    // RFC 9068 access token with the memberships of the organisation.
    let access = claims_of(tokens.access_token().secret());
    assert_eq!(access["client_id"], client_id);
    assert_eq!(access["scope"], "openid email profile");
    assert_eq!(access["org"]["slug"], "acme");
    assert_eq!(access["roles"], json!(["member"]));

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("ada@acme.test"));

    // The code works once; presented again it revokes what it gave.
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let (status, again) = exchange(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", "x".repeat(43).as_str()),
        ],
        Some((&client_id, registered["client_secret"].as_str().unwrap())),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"], "invalid_grant");
    assert_eq!(
        app.me_status(tokens.access_token().secret()).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, refreshed) = exchange(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        Some((&client_id, registered["client_secret"].as_str().unwrap())),
    )
    .await;
    assert_eq!(
        (status, refreshed["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let _ = acme;
}
