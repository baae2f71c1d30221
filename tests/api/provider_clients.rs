//! Applications as clients of guildhall's other OAuth endpoints: the admin API and seed
//! documents that register them, client authentication (secrets, `private_key_jwt`), the
//! client-credentials and device grants, revocation, introspection, logout (RP-initiated and
//! back-channel), and the discovery documents.
use crate::helpers::{ADMIN_PASSWORD, PASSWORD, TestApp, body, claims_of, expect_error};
use crate::op_support::{Browser, authorize_url, exchange, pkce, register_app, spawn_provider};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const CALLBACK: &str = "http://127.0.0.1:9/callback";

#[tokio::test]
async fn applications_are_registered_with_their_rules_and_their_secret_is_shown_once() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    let path = format!("/orgs/{}/clients", acme.id);
    let token = &acme.admin_token;
    let bad = [
        (
            json!({"name": "", "kind": "public", "redirect_uris": [CALLBACK]}),
            "name",
        ),
        (json!({"name": "x", "kind": "public"}), "redirect_uris"),
        (
            json!({"name": "x", "kind": "public", "redirect_uris": ["http://app.example/cb"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"name": "x", "kind": "public", "redirect_uris": ["https://app.example/cb#x"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"name": "x", "kind": "public", "redirect_uris": ["javascript:alert(1)"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"name": "x", "kind": "public", "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "client_secret_basic"}),
            "token_endpoint_auth_method",
        ),
        (
            json!({"name": "x", "kind": "public", "redirect_uris": [CALLBACK], "grant_types": ["client_credentials"]}),
            "grant_types[0]",
        ),
        (
            json!({"name": "x", "kind": "confidential", "redirect_uris": [CALLBACK], "grant_types": ["password"]}),
            "grant_types[0]",
        ),
        (
            json!({"name": "x", "kind": "confidential", "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt"}),
            "jwks",
        ),
        (
            json!({"name": "x", "kind": "confidential", "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "jwks",
        ),
        (
            json!({"name": "x", "kind": "confidential", "redirect_uris": [CALLBACK], "access_token_ttl": 5}),
            "access_token_ttl",
        ),
        (
            json!({"name": "x", "kind": "confidential", "redirect_uris": [CALLBACK], "scopes": ["two words"]}),
            "scopes[0]",
        ),
        (
            json!({"name": "x", "kind": "confidential", "redirect_uris": [CALLBACK], "id_token_signed_response_alg": "HS256"}),
            "id_token_signed_response_alg",
        ),
        (
            json!({"name": "x", "kind": "confidential", "redirect_uris": [CALLBACK], "backchannel_logout_uri": "http://rp.example/bc"}),
            "backchannel_logout_uri",
        ),
    ];
    for (draft, field) in bad {
        let answer = expect_error(
            app.send("POST", &path, token, Some(draft.clone())).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let fields: Vec<&str> = answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{draft} → {fields:?}");
    }
    let unknown = app
        .send(
            "POST",
            &path,
            token,
            Some(json!({"name": "x", "kind": "public", "redirect_uris": [CALLBACK], "secret": "x"})),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.expect("GET", &path, token, None, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing half-written"
    );

    let created = register_app(
        &app,
        &acme,
        json!({"name": "Wiki", "kind": "confidential", "redirect_uris": [CALLBACK]}),
    )
    .await;
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(created["grant_types"], json!(["authorization_code", "refresh_token"]));
    let id = created["id"].as_str().unwrap();
    let shown = app
        .expect("GET", &format!("{path}/{id}"), token, None, StatusCode::OK)
        .await;
    assert!(shown.get("client_secret").is_none(), "never shown again");
    let listed = app.expect("GET", &path, token, None, StatusCode::OK).await;
    assert!(listed[0].get("client_secret").is_none());

    // A member (not an admin) may not manage applications.
    app.user_in(token, &acme.id, "ada@acme.test", &["member"]).await;
    let ada = app.token_in("ada@acme.test", "acme").await;
    expect_error(
        app.send("GET", &path, &ada, None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Client credentials of a confidential app work with its secret only.
    let cc = |secret: String| {
        let app = &app;
        let client_id = created["client_id"].as_str().unwrap().to_owned();
        async move {
            exchange(
                app,
                &[("grant_type", "client_credentials")],
                Some((&client_id, &secret)),
            )
            .await
        }
    };
    assert_eq!(
        cc(secret.clone()).await.1["error"],
        "unauthorized_client",
        "not a registered grant"
    );
    let mut draft = json!({"name": "Wiki", "kind": "confidential", "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "scopes": ["openid", "reports:read"]});
    app.expect(
        "PUT",
        &format!("{path}/{id}"),
        token,
        Some(draft.clone()),
        StatusCode::OK,
    )
    .await;
    let (status, granted) = cc(secret.clone()).await;
    assert_eq!(status, StatusCode::OK, "{granted}");
    let claims = claims_of(granted["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], created["client_id"]);
    assert_eq!(claims["sub"], created["id"]);
    assert!(claims.get("sid").is_none());
    let (status, wrong) = cc("not-the-secret".into()).await;
    assert_eq!(
        (status, wrong["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    // Rotating the secret: the old one stops working.
    let rotated = app
        .expect("POST", &format!("{path}/{id}/secret"), token, None, StatusCode::OK)
        .await;
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(cc(secret).await.1["error"], "invalid_client");
    assert_eq!(cc(new_secret.clone()).await.0, StatusCode::OK);
    // Switching to client_secret_post: Basic is no longer accepted, the form is.
    draft["token_endpoint_auth_method"] = json!("client_secret_post");
    app.expect("PUT", &format!("{path}/{id}"), token, Some(draft), StatusCode::OK)
        .await;
    assert_eq!(cc(new_secret.clone()).await.1["error"], "invalid_client");
    let (status, _) = exchange(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", created["client_id"].as_str().unwrap()),
            ("client_secret", &new_secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Deleting it: gone, and its client id authenticates nobody.
    app.expect("DELETE", &format!("{path}/{id}"), token, None, StatusCode::NO_CONTENT)
        .await;
    expect_error(
        app.send("GET", &format!("{path}/{id}"), token, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

/// An EC P-256 key pair: the signing key and its public JWK.
fn client_key(kid: &str) -> (jsonwebtoken::EncodingKey, Value) {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
    (jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}

fn assertion(key: &jsonwebtoken::EncodingKey, kid: &str, client_id: &str, aud: &str, jti: &str, exp: i64) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.into());
    // The real time: the server's test clock started at it and has not moved.
    #[allow(clippy::disallowed_methods)]
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &header,
        &json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": now, "exp": now + exp}),
        key,
    )
    .unwrap()
}

#[tokio::test]
async fn private_key_jwt_assertions_are_checked_and_work_once() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    let (key, jwk) = client_key("k1");
    let registered = register_app(
        &app,
        &acme,
        json!({"name": "Batch", "kind": "confidential", "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [jwk]}, "grant_types": ["client_credentials"], "redirect_uris": []}),
    )
    .await;
    assert!(registered.get("client_secret").is_none());
    let client_id = registered["client_id"].as_str().unwrap();
    let token_url = app.url("/oauth2/token");
    let grant = |jwt: String| {
        let app = &app;
        async move {
            exchange(
                app,
                &[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &jwt),
                ],
                None,
            )
            .await
        }
    };
    let good = assertion(&key, "k1", client_id, &token_url, "jti-1", 60);
    let (status, answer) = grant(good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        grant(good).await.1["error"],
        "invalid_client",
        "an assertion works once"
    );
    let (other_key, _) = client_key("k1");
    let cases = [
        assertion(&other_key, "k1", client_id, &token_url, "jti-2", 60),
        assertion(&key, "k1", client_id, "https://someone.else/token", "jti-3", 60),
        assertion(&key, "k1", client_id, &token_url, "jti-4", 2 * 3600),
        assertion(&key, "k1", client_id, &token_url, "jti-5", -120),
        assertion(&key, "k1", "app_other", &token_url, "jti-6", 60),
    ];
    for jwt in cases {
        let (status, answer) = grant(jwt).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
    }
    // Its own token may be introspected by it (its organisation's tokens), not by a public client.
    let (_, token) = grant(assertion(&key, "k1", client_id, &token_url, "jti-7", 60)).await;
    let introspected = app
        .client
        .post(app.url("/oauth2/introspect"))
        .form(&[
            ("token", token["access_token"].as_str().unwrap()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            (
                "client_assertion",
                &assertion(&key, "k1", client_id, &app.url("/oauth2/introspect"), "jti-8", 60),
            ),
        ])
        .send()
        .await
        .unwrap();
    let introspected = body(introspected).await;
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["client_id"], client_id);
}

async fn login_code(app: &TestApp, browser: &Browser, client_id: &str, extra: &[(&str, &str)]) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let page = browser.get(&authorize_url(app, &params)).await;
    let page = if page.status == StatusCode::OK {
        browser.log_in(&page, "ada@acme.test", PASSWORD).await
    } else {
        page
    };
    (page.param("code").unwrap_or_else(|| panic!("{}", page.html)), verifier)
}

#[tokio::test]
async fn logging_out_ends_the_browser_session_everywhere_and_tells_the_applications() {
    // A relying party's back-channel logout endpoint, on loopback.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backchannel = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let sink = Arc::clone(&received);
    let rp = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |form: axum::Form<std::collections::HashMap<String, String>>| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock()
                    .unwrap()
                    .push(form.0.get("logout_token").cloned().unwrap_or_default());
                StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, rp).await.unwrap() });

    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let wiki = register_app(
        &app,
        &acme,
        json!({"name": "Wiki", "kind": "public", "redirect_uris": [CALLBACK], "first_party": true,
            "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"], "backchannel_logout_uri": backchannel}),
    )
    .await;
    let board = register_app(
        &app,
        &acme,
        json!({"name": "Board", "kind": "public", "redirect_uris": [CALLBACK], "first_party": true}),
    )
    .await;
    let (wiki_id, board_id) = (
        wiki["client_id"].as_str().unwrap(),
        board["client_id"].as_str().unwrap(),
    );
    let browser = Browser::new(&app);
    let mut access = vec![];
    let mut id_token = String::new();
    for client in [wiki_id, board_id] {
        let (code, verifier) = login_code(&app, &browser, client, &[]).await;
        let (_, tokens) = exchange(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("client_id", client),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
        access.push(tokens["access_token"].as_str().unwrap().to_owned());
        if client == wiki_id {
            id_token = tokens["id_token"].as_str().unwrap().to_owned();
        }
    }
    for token in &access {
        assert_eq!(app.me_status(token).await, StatusCode::OK);
    }

    // Unregistered post-logout redirect: refused, nobody is logged out.
    let refused = browser
        .get(&format!(
            "/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri=https://evil.example/"
        ))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.location.is_none());
    // Without a hint, the user confirms first.
    let confirm = browser.get("/oauth2/logout").await;
    assert!(confirm.is("Log out?"), "{}", confirm.html);
    for token in &access {
        assert_eq!(
            app.me_status(token).await,
            StatusCode::OK,
            "nothing ended before confirming"
        );
    }
    // With the hint naming this browser's session: at once, back to the application with its state.
    let done = browser
        .get(&format!(
            "/oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri=http://127.0.0.1:9/bye&state=s-9"
        ))
        .await;
    assert_eq!(done.status, StatusCode::FOUND, "{}", done.html);
    assert_eq!(done.location.as_deref(), Some("http://127.0.0.1:9/bye?state=s-9"));
    for token in &access {
        assert_eq!(
            app.me_status(token).await,
            StatusCode::UNAUTHORIZED,
            "every application's session ended"
        );
    }
    let silent = browser
        .get(&authorize_url(
            &app,
            &[
                ("client_id", board_id),
                ("redirect_uri", CALLBACK),
                ("response_type", "code"),
                ("code_challenge", &pkce().1),
                ("code_challenge_method", "S256"),
                ("prompt", "none"),
            ],
        ))
        .await;
    assert_eq!(silent.param("error").as_deref(), Some("login_required"));

    // The application that asked for it got a logout token naming the user and the session.
    let mut waited = 0;
    while received.lock().unwrap().is_empty() && waited < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let tokens = received.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1, "Board registered no back-channel URI");
    let logout = claims_of(&tokens[0]);
    let id = claims_of(&id_token);
    assert_eq!(logout["sub"], id["sub"]);
    assert_eq!(logout["sid"], id["sid"]);
    assert_eq!(logout["aud"], wiki_id);
    assert!(logout["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(logout.get("nonce").is_none());
}

#[tokio::test]
async fn a_device_logs_in_with_a_user_code_entered_in_a_browser() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let cli = register_app(
        &app,
        &acme,
        json!({"name": "CLI", "kind": "public", "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
            "redirect_uris": [], "first_party": true}),
    )
    .await;
    let client_id = cli["client_id"].as_str().unwrap();
    let started = body(
        app.client
            .post(app.url("/oauth2/device_authorization"))
            .form(&[("client_id", client_id), ("scope", "openid profile")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    assert_eq!(started["verification_uri"], app.url("/device"));
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code),
        ("client_id", client_id),
    ];
    let poll = || exchange(&app, &form, None);
    assert_eq!(poll().await.1["error"], "authorization_pending");
    assert_eq!(poll().await.1["error"], "slow_down", "polled faster than the interval");

    let browser = Browser::new(&app);
    let page = browser
        .get(started["verification_uri_complete"].as_str().unwrap())
        .await;
    assert!(page.is(user_code), "{}", page.html);
    let csrf = page.field("csrf");
    let wrong = browser
        .post("/device", &[("csrf", &csrf), ("user_code", "BCDF-GHJK")])
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.is("unknown or has expired"));
    let login = browser
        .post("/device", &[("csrf", &csrf), ("user_code", &user_code.to_lowercase())])
        .await;
    let confirm = browser.log_in(&login, "ada@acme.test", PASSWORD).await;
    assert!(
        confirm.is("Connect a device to CLI") && confirm.is(user_code),
        "{}",
        confirm.html
    );
    let done = browser.consent(&confirm, "allow").await;
    assert!(done.is("Device connected"), "{}", done.html);

    app.advance(chrono::Duration::seconds(11));
    let (status, tokens) = poll().await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        claims_of(tokens["access_token"].as_str().unwrap())["email"],
        "ada@acme.test"
    );
    assert!(tokens["refresh_token"].is_string() && tokens["id_token"].is_string());
    assert_eq!(poll().await.1["error"], "invalid_grant", "a device code works once");
}

#[tokio::test]
async fn revocation_ends_only_the_clients_own_sessions() {
    let app = spawn_provider(|_| {}).await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let mut apps = vec![];
    for name in ["Wiki", "Board"] {
        let registered = register_app(
            &app,
            &acme,
            json!({"name": name, "kind": "public", "redirect_uris": [CALLBACK], "first_party": true}),
        )
        .await;
        apps.push(registered["client_id"].as_str().unwrap().to_owned());
    }
    let browser = Browser::new(&app);
    let mut issued = vec![];
    for client in &apps {
        let (code, verifier) = login_code(&app, &browser, client, &[]).await;
        let (_, tokens) = exchange(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("client_id", client),
                ("code_verifier", &verifier),
            ],
            None,
        )
        .await;
        issued.push(tokens);
    }
    let revoke = |token: String, client: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/oauth2/revoke"))
                .form(&[("token", token.as_str()), ("client_id", client.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Board revoking Wiki's token: 200, nothing happens (RFC 7009 tells nobody anything).
    let wiki_refresh = issued[0]["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(revoke(wiki_refresh.clone(), apps[1].clone()).await, StatusCode::OK);
    let wiki_access = issued[0]["access_token"].as_str().unwrap();
    assert_eq!(app.me_status(wiki_access).await, StatusCode::OK);
    assert_eq!(revoke("not-a-token".into(), apps[1].clone()).await, StatusCode::OK);
    // Wiki revoking its refresh token ends its session only.
    assert_eq!(revoke(wiki_refresh, apps[0].clone()).await, StatusCode::OK);
    assert_eq!(app.me_status(wiki_access).await, StatusCode::UNAUTHORIZED);
    let board_access = issued[1]["access_token"].as_str().unwrap();
    assert_eq!(app.me_status(board_access).await, StatusCode::OK);
    // An access token revokes its session too.
    assert_eq!(revoke(board_access.into(), apps[1].clone()).await, StatusCode::OK);
    assert_eq!(app.me_status(board_access).await, StatusCode::UNAUTHORIZED);
    // Unauthenticated or malformed requests are errors of the documented shape.
    let response = app
        .client
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(response).await["error"], "invalid_client");
    let response = app
        .client
        .post(app.url("/oauth2/revoke"))
        .json(&json!({"token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(response).await["error"], "invalid_request");
}

#[tokio::test]
async fn discovery_is_truthful_and_complete() {
    let app = spawn_provider(|_| {}).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc = body(app.get(path).await).await;
        assert_eq!(doc["issuer"], app.address);
        for (key, endpoint) in [
            ("authorization_endpoint", "/oauth2/authorize"),
            ("token_endpoint", "/oauth2/token"),
            ("userinfo_endpoint", "/oauth2/userinfo"),
            ("revocation_endpoint", "/oauth2/revoke"),
            ("introspection_endpoint", "/oauth2/introspect"),
            ("device_authorization_endpoint", "/oauth2/device_authorization"),
            ("end_session_endpoint", "/oauth2/logout"),
            ("jwks_uri", "/.well-known/jwks.json"),
        ] {
            assert_eq!(doc[key], app.url(endpoint), "{path} {key}");
        }
        assert_eq!(doc["response_types_supported"], json!(["code"]));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])
        );
        assert!(
            doc["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("RS256"))
        );
    }
    // Every endpoint it names answers (a GET on a POST endpoint is 405, never 404).
    let doc = body(app.get("/.well-known/openid-configuration").await).await;
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "device_authorization_endpoint",
        "end_session_endpoint",
        "jwks_uri",
    ] {
        let status = app
            .client
            .get(doc[key].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, StatusCode::NOT_FOUND, "{key}");
    }
    // The ID-token key is published.
    let jwks = body(app.get("/.well-known/jwks.json").await).await;
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["alg"] == "RS256"));
    // An SPA on any origin may call the token endpoint (no cookies there).
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/oauth2/token"))
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://spa.example"
    );
    let _ = ADMIN_PASSWORD;
}

#[tokio::test]
async fn seed_documents_declare_applications() {
    let app = spawn_provider(|_| {}).await;
    let root = app.superuser_token().await;
    let doc = json!({"orgs": [{"slug": "acme", "name": "Acme", "logo_url": "https://acme.example/logo.png",
    "users": [{"email": "ada@acme.test", "password": PASSWORD}],
    "applications": [
        {"client_id": "acme-wiki", "client_secret": "a-seeded-secret-that-is-long-enough-123", "name": "Wiki",
         "kind": "confidential", "redirect_uris": [CALLBACK], "first_party": true},
        {"client_id": "acme-spa", "name": "Board", "kind": "public", "redirect_uris": [CALLBACK]}
    ]}]});
    let plan = app
        .expect("POST", "/admin/seed", &root, Some(doc.clone()), StatusCode::OK)
        .await;
    assert!(plan.to_string().contains("acme-wiki"), "{plan}");
    let again = app
        .expect("POST", "/admin/seed", &root, Some(doc.clone()), StatusCode::OK)
        .await;
    assert!(again.to_string().contains("unchanged"), "{again}");
    // The seeded secret authenticates; the pages show the organisation's logo.
    let (status, answer) = exchange(
        &app,
        &[("grant_type", "client_credentials")],
        Some(("acme-wiki", "a-seeded-secret-that-is-long-enough-123")),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
        "authenticated, grant not registered"
    );
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let page = browser
        .get(&authorize_url(
            &app,
            &[
                ("client_id", "acme-wiki"),
                ("redirect_uri", CALLBACK),
                ("response_type", "code"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    assert!(
        page.is("https://acme.example/logo.png") && page.is("Log in to Wiki"),
        "{}",
        page.html
    );
    // Bad applications in a document are refused by path, and nothing is written.
    let bad = json!({"orgs": [{"slug": "acme", "name": "Acme", "applications": [
        {"client_id": "acme-bad", "name": "Bad", "kind": "public", "redirect_uris": ["ftp://x"]},
        {"client_id": "bad id", "name": "Worse", "kind": "public", "redirect_uris": [CALLBACK]}]}]});
    let refused = expect_error(
        app.send("POST", "/admin/seed", &root, Some(bad)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(refused.to_string().contains("applications[1].client_id"), "{refused}");
    let bad = json!({"orgs": [{"slug": "acme", "name": "Acme", "applications": [
        {"client_id": "acme-bad", "name": "Bad", "kind": "public", "redirect_uris": ["ftp://x"]}]}]});
    let refused = expect_error(
        app.send("POST", "/admin/seed", &root, Some(bad)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        refused.to_string().contains("applications[0].redirect_uris[0]"),
        "{refused}"
    );
    let (status, _) = exchange(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", "acme-bad")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "acme-bad was not created");
}
