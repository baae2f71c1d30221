//! guildhall as an OpenID Provider, driven by the Rust `openidconnect` crate as a relying party
//! and by a cookie-keeping HTTP client through the hosted pages: discovery, code + PKCE, ID
//! token validation, userinfo, refresh per client, single sign-on, consent, organisation
//! picker, logout, and what must be refused.
use crate::helpers::{PASSWORD, TestApp, claims_of, expect_error};
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
    // The roles in the token's organisation, as tools such as Grafana map them.
    let raw: Value = app
        .client
        .get(format!("{}/oauth2/userinfo", app.address))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["roles"], json!(["member"]));
    assert_eq!(raw["org"]["slug"], "acme");

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

/// A public SPA of acme (PKCE required), with Ada a member of acme.
async fn spa(app: &TestApp) -> (crate::helpers::Org, String) {
    let (acme, registered) = acme_app(
        app,
        json!({"name": "Board", "kind": "public", "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"], "first_party": true}),
    )
    .await;
    (acme, registered["client_id"].as_str().unwrap().to_owned())
}

fn code_request<'a>(client_id: &'a str, challenge: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    params
}

#[tokio::test]
async fn an_unknown_client_or_an_unregistered_redirect_is_an_error_page_never_a_redirect() {
    let app = spawn_provider(|_| {}).await;
    let (_, client_id) = spa(&app).await;
    let (_, challenge) = pkce();
    let browser = Browser::new(&app);
    let cases = [
        (
            vec![
                ("client_id", "app_unknown"),
                ("redirect_uri", CALLBACK),
                ("response_type", "code"),
            ],
            "Unknown application",
        ),
        (
            vec![
                ("client_id", client_id.as_str()),
                ("redirect_uri", "https://evil.example/cb"),
                ("response_type", "code"),
            ],
            "Redirect URI not registered",
        ),
        (
            vec![
                ("client_id", client_id.as_str()),
                ("redirect_uri", "http://127.0.0.1:9/callback/../evil"),
                ("response_type", "code"),
            ],
            "Redirect URI not registered",
        ),
        (vec![("response_type", "code")], "Unknown application"),
    ];
    for (params, title) in cases {
        let page = browser.get(&authorize_url(&app, &params)).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{params:?}");
        assert!(page.location.is_none(), "never a redirect: {params:?}");
        assert!(page.is(title), "{title}: {}", page.html);
    }
    // Other errors go back to the client with state and iss (RFC 6749 §4.1.2.1, RFC 9207).
    let cases = [
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("request", "eyJ...")], "request_not_supported"),
        (vec![("resource", "https://api.example")], "invalid_target"),
    ];
    for (extra, error) in cases {
        let mut params: Vec<(&str, &str)> = code_request(&client_id, &challenge, &[])
            .into_iter()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .collect();
        params.extend(extra.iter().copied());
        let page = browser.get(&authorize_url(&app, &params)).await;
        assert_eq!(page.status, StatusCode::FOUND, "{extra:?}: {}", page.html);
        assert!(page.location.as_deref().unwrap().starts_with(CALLBACK));
        assert_eq!(page.param("error").as_deref(), Some(error), "{extra:?}");
        assert_eq!(page.param("state").as_deref(), Some("st-1"));
        assert_eq!(page.param("iss").as_deref(), Some(app.address.as_str()));
    }
    // A public client must use PKCE.
    let params: Vec<(&str, &str)> = code_request(&client_id, &challenge, &[])
        .into_iter()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    let page = browser.get(&authorize_url(&app, &params)).await;
    assert_eq!(page.param("error").as_deref(), Some("invalid_request"));
    assert!(page.param("error_description").unwrap().contains("PKCE"));
}

#[tokio::test]
async fn codes_are_bound_to_their_verifier_client_and_redirect_and_work_once() {
    let app = spawn_provider(|_| {}).await;
    let (acme, client_id) = spa(&app).await;
    let other = register_app(
        &app,
        &acme,
        json!({"name": "Other", "kind": "public", "redirect_uris": [CALLBACK], "first_party": true}),
    )
    .await;
    let other_id = other["client_id"].as_str().unwrap();
    let browser = Browser::new(&app);
    let code_for = |verifier_challenge: (String, String)| {
        let browser = &browser;
        let client_id = client_id.clone();
        let app = &app;
        async move {
            let (verifier, challenge) = verifier_challenge;
            let page = browser
                .get(&authorize_url(app, &code_request(&client_id, &challenge, &[])))
                .await;
            let page = if page.status == StatusCode::OK {
                browser.log_in(&page, "ada@acme.test", PASSWORD).await
            } else {
                page
            };
            assert_eq!(page.status, StatusCode::FOUND, "{}", page.html);
            assert_eq!(page.param("state").as_deref(), Some("st-1"));
            (page.param("code").unwrap(), verifier)
        }
    };
    let grant = |code: String, verifier: Option<String>, client: String, redirect: &'static str| {
        let app = &app;
        async move {
            let mut form = vec![
                ("grant_type".to_owned(), "authorization_code".to_owned()),
                ("code".to_owned(), code),
                ("redirect_uri".to_owned(), redirect.to_owned()),
                ("client_id".to_owned(), client),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier".to_owned(), v));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            exchange(app, &form, None).await
        }
    };

    let (code, verifier) = code_for(pkce()).await;
    let (status, answer) = grant(code.clone(), None, client_id.clone(), CALLBACK).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "no verifier"
    );
    let (_, wrong) = pkce();
    let (_, answer) = grant(code.clone(), Some(wrong), client_id.clone(), CALLBACK).await;
    assert_eq!(answer["error"], "invalid_grant", "wrong verifier");
    let (_, answer) = grant(code.clone(), Some(verifier.clone()), other_id.to_owned(), CALLBACK).await;
    assert_eq!(answer["error"], "invalid_grant", "another client");
    let (_, answer) = grant(
        code.clone(),
        Some(verifier.clone()),
        client_id.clone(),
        "http://127.0.0.1:9/other",
    )
    .await;
    assert_eq!(answer["error"], "invalid_grant", "another redirect URI");
    let (status, tokens) = grant(code.clone(), Some(verifier.clone()), client_id.clone(), CALLBACK).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "n-1", "the nonce round-trips");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.me_status(&access).await, StatusCode::OK);
    // Replayed: refused, and the tokens it gave are revoked.
    let (_, answer) = grant(code, Some(verifier), client_id.clone(), CALLBACK).await;
    assert_eq!(answer["error"], "invalid_grant");
    assert_eq!(app.me_status(&access).await, StatusCode::UNAUTHORIZED);

    // A code expires after a minute.
    let (code, verifier) = code_for(pkce()).await;
    app.advance(chrono::Duration::seconds(61));
    let (_, answer) = grant(code, Some(verifier), client_id, CALLBACK).await;
    assert_eq!(answer["error"], "invalid_grant");
}

#[tokio::test]
async fn prompt_none_single_sign_on_and_fresh_logins() {
    let app = spawn_provider(|_| {}).await;
    let (acme, client_id) = spa(&app).await;
    let second = register_app(
        &app,
        &acme,
        json!({"name": "Second", "kind": "public", "redirect_uris": [CALLBACK], "first_party": true}),
    )
    .await;
    let second_id = second["client_id"].as_str().unwrap().to_owned();
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();

    // No session: prompt=none answers login_required to the client.
    let page = browser
        .get(&authorize_url(
            &app,
            &code_request(&client_id, &challenge, &[("prompt", "none")]),
        ))
        .await;
    assert_eq!(page.param("error").as_deref(), Some("login_required"));

    // One login...
    let login = browser
        .get(&authorize_url(&app, &code_request(&client_id, &challenge, &[])))
        .await;
    let wrong = browser.log_in(&login, "ada@acme.test", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.is("Incorrect email/username or password"), "{}", wrong.html);
    let done = browser.log_in(&wrong, "ada@acme.test", PASSWORD).await;
    assert!(done.param("code").is_some());
    // ...and a second application logs in without a password (single sign-on), also silently.
    let sso = browser
        .get(&authorize_url(&app, &code_request(&second_id, &challenge, &[])))
        .await;
    assert_eq!(sso.status, StatusCode::FOUND, "{}", sso.html);
    assert!(sso.param("code").is_some());
    let silent = browser
        .get(&authorize_url(
            &app,
            &code_request(&second_id, &challenge, &[("prompt", "none")]),
        ))
        .await;
    assert!(silent.param("code").is_some());
    // prompt=login and an exceeded max_age ask for the password again.
    let again = browser
        .get(&authorize_url(
            &app,
            &code_request(&second_id, &challenge, &[("prompt", "login")]),
        ))
        .await;
    assert!(again.is("id=\"password\""), "{}", again.html);
    app.advance(chrono::Duration::seconds(120));
    let aged = browser
        .get(&authorize_url(
            &app,
            &code_request(&second_id, &challenge, &[("max_age", "60")]),
        ))
        .await;
    assert!(aged.is("id=\"password\""));
    let fresh = browser
        .get(&authorize_url(
            &app,
            &code_request(&second_id, &challenge, &[("max_age", "600")]),
        ))
        .await;
    assert!(fresh.param("code").is_some());
    // select_account asks, and "use another account" logs the browser out first.
    let choose = browser
        .get(&authorize_url(
            &app,
            &code_request(&second_id, &challenge, &[("prompt", "select_account")]),
        ))
        .await;
    assert!(choose.is("Continue as ada@acme.test"), "{}", choose.html);
    let (handle, csrf) = (choose.field("handle"), choose.field("csrf"));
    let other = browser
        .post(
            "/oauth2/select-account",
            &[("handle", &handle), ("csrf", &csrf), ("choice", "another")],
        )
        .await;
    assert!(other.is("id=\"password\""));
    let silent = browser
        .get(&authorize_url(
            &app,
            &code_request(&client_id, &challenge, &[("prompt", "none")]),
        ))
        .await;
    assert_eq!(silent.param("error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn third_party_consent_is_asked_remembered_refusable_and_forms_need_their_csrf_token() {
    let app = spawn_provider(|_| {}).await;
    let (_, registered) = acme_app(
        &app,
        json!({"name": "Partner", "kind": "public", "redirect_uris": [CALLBACK]}),
    )
    .await;
    let client_id = registered["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    let browser = Browser::new(&app);
    let login = browser
        .get(&authorize_url(&app, &code_request(client_id, &challenge, &[])))
        .await;

    // A form without the browser's CSRF token (another site's, or a stale one) is refused.
    let handle = login.field("handle");
    let forged = browser
        .post(
            "/oauth2/login",
            &[
                ("handle", &handle),
                ("csrf", "forged"),
                ("login", "ada@acme.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.is("This form has expired"));
    let stranger = Browser::new(&app);
    let (_, csrf) = (login.field("handle"), login.field("csrf"));
    let cross = stranger
        .post(
            "/oauth2/login",
            &[
                ("handle", &handle),
                ("csrf", &csrf),
                ("login", "ada@acme.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        cross.status,
        StatusCode::FORBIDDEN,
        "another browser has no matching cookie"
    );

    let consent = browser.log_in(&login, "ada@acme.test", PASSWORD).await;
    assert!(consent.is("Partner wants to access your account"));
    let refused = browser.consent(&consent, "deny").await;
    assert_eq!(refused.param("error").as_deref(), Some("access_denied"));
    assert_eq!(refused.param("state").as_deref(), Some("st-1"));

    let consent = browser
        .get(&authorize_url(&app, &code_request(client_id, &challenge, &[])))
        .await;
    let allowed = browser.consent(&consent, "allow").await;
    assert!(allowed.param("code").is_some());
    // Remembered: no page the next time, unless prompt=consent or a new scope is asked.
    let next = browser
        .get(&authorize_url(&app, &code_request(client_id, &challenge, &[])))
        .await;
    assert!(next.param("code").is_some(), "{}", next.html);
    let asked = browser
        .get(&authorize_url(
            &app,
            &code_request(client_id, &challenge, &[("prompt", "consent")]),
        ))
        .await;
    assert!(asked.is("Allow"));
    let mut wider = code_request(client_id, &challenge, &[]);
    wider.retain(|(k, _)| *k != "scope");
    wider.push(("scope", "openid email profile"));
    let asked = browser.get(&authorize_url(&app, &wider)).await;
    assert!(asked.is("See your name and username"), "{}", asked.html);
    let silent = browser
        .get(&authorize_url(&app, &{
            let mut p = wider.clone();
            p.push(("prompt", "none"));
            p
        }))
        .await;
    assert_eq!(silent.param("error").as_deref(), Some("consent_required"));
}

#[tokio::test]
async fn an_application_gets_tokens_only_for_its_own_organisation_unless_it_is_multi_org() {
    let app = spawn_provider(|_| {}).await;
    let (acme, client_id) = spa(&app).await;
    let globex = app.create_org("globex").await;
    app.user_in(&globex.admin_token, &globex.id, "gus@globex.test", &["member"])
        .await;
    let (_, challenge) = pkce();
    let browser = Browser::new(&app);

    // Gus is not in acme: acme's application gets nothing for him.
    let login = browser
        .get(&authorize_url(&app, &code_request(&client_id, &challenge, &[])))
        .await;
    let refused = browser.log_in(&login, "gus@globex.test", PASSWORD).await;
    assert_eq!(
        refused.param("error").as_deref(),
        Some("access_denied"),
        "{}",
        refused.html
    );
    // Nor can it ask for globex.
    let page = browser
        .get(&authorize_url(
            &app,
            &code_request(&client_id, &challenge, &[("organization", "globex")]),
        ))
        .await;
    assert_eq!(page.param("error").as_deref(), Some("invalid_request"));

    // An org admin cannot make an application multi_org; a superuser can.
    let draft = json!({"name": "Console", "kind": "public", "redirect_uris": [CALLBACK], "first_party": true, "multi_org": true});
    let refused = app
        .send(
            "POST",
            &format!("/orgs/{}/clients", acme.id),
            &acme.admin_token,
            Some(draft.clone()),
        )
        .await;
    expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let root = app.superuser_token().await;
    let console = app
        .expect(
            "POST",
            &format!("/orgs/{}/clients", acme.id),
            &root,
            Some(draft),
            StatusCode::CREATED,
        )
        .await;
    let console_id = console["client_id"].as_str().unwrap();
    app.user_in(&globex.admin_token, &globex.id, "ada@acme.test", &["member"])
        .await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let login = browser
        .get(&authorize_url(&app, &code_request(console_id, &challenge, &[])))
        .await;
    let picker = browser.log_in(&login, "ada@acme.test", PASSWORD).await;
    assert!(
        picker.is("Which organisation?") && picker.is("GLOBEX") && picker.is("ACME"),
        "{}",
        picker.html
    );
    let back = browser.pick(&picker, "globex").await;
    let code = back.param("code").unwrap();
    let (status, tokens) = exchange(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", console_id),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        claims_of(tokens["access_token"].as_str().unwrap())["org"]["slug"],
        "globex"
    );
    assert_eq!(claims_of(tokens["id_token"].as_str().unwrap())["org"]["slug"], "globex");
    // `organization` skips the picker.
    let direct = browser
        .get(&authorize_url(
            &app,
            &code_request(console_id, &challenge, &[("organization", "acme")]),
        ))
        .await;
    assert!(direct.param("code").is_some(), "{}", direct.html);
}

#[tokio::test]
async fn refresh_tokens_belong_to_their_client_and_rotate() {
    let app = spawn_provider(|_| {}).await;
    let (acme, client_id) = spa(&app).await;
    let other = register_app(
        &app,
        &acme,
        json!({"name": "Other", "kind": "public", "redirect_uris": [CALLBACK], "first_party": true}),
    )
    .await;
    let (verifier, challenge) = pkce();
    let browser = Browser::new(&app);
    let login = browser
        .get(&authorize_url(&app, &code_request(&client_id, &challenge, &[])))
        .await;
    let back = browser.log_in(&login, "ada@acme.test", PASSWORD).await;
    let code = back.param("code").unwrap();
    let (_, tokens) = exchange(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Not at guildhall's own refresh route, not by another client.
    expect_error(app.refresh(&refresh).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    let (_, answer) = exchange(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", other["client_id"].as_str().unwrap()),
        ],
        None,
    )
    .await;
    assert_eq!(answer["error"], "invalid_grant");
    // Those refusals spent nothing: the client itself refreshes, and gets a new ID token.
    let (status, rotated) = exchange(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(rotated["refresh_token"], refresh.as_str());
    let id = claims_of(rotated["id_token"].as_str().unwrap());
    assert!(id.get("nonce").is_none());
    assert_eq!(id["sub"], claims_of(tokens["id_token"].as_str().unwrap())["sub"]);
    // Reuse of the old one revokes the session.
    let (_, reused) = exchange(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client_id),
        ],
        None,
    )
    .await;
    assert_eq!(reused["error"], "invalid_grant");
    assert_eq!(
        app.me_status(rotated["access_token"].as_str().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
}
