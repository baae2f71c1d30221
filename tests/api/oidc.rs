//! Logging in through an organisation's OpenID provider (our own fake one, which can misbehave on
//! demand): the code flow, provisioning and group mapping, linking rules, and every refusal.
use crate::fake_idp::{CLIENT_ID, CLIENT_SECRET, FakeIdp, Tamper};
use crate::helpers::*;
use crate::oidc_support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `acme` with a team, a domain and the fake provider (`acme-sso`) configured by its admin.
pub async fn acme_with(app: &TestApp, idp: &FakeIdp, tweak: impl FnOnce(&mut Value)) -> Org {
    let acme = app.create_org("acme").await;
    // Providers may serve only verified email domains of their organisation.
    app.verified_email_domain(&acme.id, "acme.test", serde_json::Value::Null)
        .await;
    let t = &acme.admin_token;
    app.create_team(t, "platform").await;
    app.create_domain(t, "eng", None).await;
    let mut provider = json!({
        "slug": "acme-sso", "name": "Acme SSO", "issuer": idp.issuer(), "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "email_domains": ["acme.test"], "jit": true, "link_by_email": false,
        "mappings": [{"value": "engineers", "roles": ["admin"], "teams": {"platform": "maintainer"}, "domains": ["eng"]},
                     {"value": "interns", "teams": {"platform": "member"}}]
    });
    tweak(&mut provider);
    let path = format!("/orgs/{}/identity-providers", acme.id);
    app.expect("POST", &path, t, Some(provider), StatusCode::CREATED).await;
    acme
}

/// A provider as listed, turned back into what PUT takes, with `changes` applied.
pub fn writable(listed: &Value, changes: Value) -> Value {
    let mut body = json!({});
    for field in [
        "slug",
        "name",
        "issuer",
        "client_id",
        "scopes",
        "email_domains",
        "jit",
        "link_by_email",
        "groups_claim",
        "mappings",
    ] {
        body[field] = listed[field].clone();
    }
    for (k, v) in changes.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// A whole login through the fake provider; answers the frontend's query.
pub async fn log_in(app: &TestApp) -> std::collections::HashMap<String, String> {
    let browser = Browser::start(app, "acme-sso").await;
    let at_idp = manual().get(&browser.authorize).send().await.unwrap();
    browser.finish(app, &location(&at_idp)).await
}

#[tokio::test]
async fn a_first_login_provisions_the_account_with_its_groups_mapped() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    idp.set_account(
        json!({"sub": "fake-user-1", "email": "dana@acme.test", "email_verified": true,
        "name": "Dana Scully", "groups": ["engineers", "interns", "unmapped"]}),
    );
    let acme = acme_with(&app, &idp, |_| {}).await;
    let users_before = user_count(&app).await;

    let browser = Browser::start(&app, "acme-sso").await;
    let sent = query(&browser.authorize);
    assert!(browser.authorize.starts_with(&format!("{}/authorize?", idp.issuer())));
    assert_eq!(sent["code_challenge_method"], "S256");
    assert_eq!(sent["code_challenge"].len(), 43, "a SHA-256 challenge");
    assert!(sent["state"].len() >= 22 && sent["nonce"].len() >= 22);
    assert_eq!(sent["redirect_uri"], format!("{PUBLIC}/auth/oidc/acme-sso/callback"));
    assert_eq!(sent["scope"], "openid email profile");

    let at_idp = manual().get(&browser.authorize).send().await.unwrap();
    let back = browser.finish(&app, &location(&at_idp)).await;
    assert_eq!(back["state"], "frontend-state", "the frontend's state comes back");
    assert!(
        !back.contains_key("access_token") && !back.contains_key("refresh_token"),
        "no tokens in URLs"
    );
    let code = &back["code"];

    let grant = exchange(&app, code).await;
    assert_eq!(grant["token_type"], "bearer");
    assert_eq!(grant["user"]["email"], "dana@acme.test");
    assert_eq!(grant["user"]["name"], "Dana Scully");
    let claims = claims_of(grant["access_token"].as_str().unwrap());
    assert_eq!(
        claims["org"]["id"], acme.id,
        "provisioned into the provider's organisation"
    );
    assert_eq!(claims["roles"], json!(["admin", "member"]));
    assert_eq!(claims["teams"][0]["slug"], "platform");
    assert_eq!(
        claims["teams"][0]["role"], "maintainer",
        "the highest mapped team role wins"
    );
    let me = app.validate(grant["access_token"].as_str().unwrap()).await;
    assert_eq!(me["valid"], true);
    assert_eq!(me["user"]["domains"][0]["key"], "eng", "{me}");
    assert_eq!(user_count(&app).await, users_before + 1);

    // The code is single use.
    let again = app.post_json("/auth/oidc/exchange", &json!({"code": code})).await;
    expect_error(again, StatusCode::BAD_REQUEST, "invalid_code").await;

    // The next login finds the same account by (issuer, subject), creating nothing.
    let second = exchange(&app, &log_in(&app).await["code"]).await;
    assert_eq!(second["user"]["id"], grant["user"]["id"]);
    assert_eq!(user_count(&app).await, users_before + 1);
}

#[tokio::test]
async fn a_callback_without_its_state_a_replayed_one_or_another_browsers_is_refused() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    acme_with(&app, &idp, |_| {}).await;

    let browser = Browser::start(&app, "acme-sso").await;
    let at_idp = location(&manual().get(&browser.authorize).send().await.unwrap());
    let without_state = at_idp.split("&state=").next().unwrap().to_owned();
    expect_error(
        browser.callback(&app, &without_state).await,
        StatusCode::BAD_REQUEST,
        "invalid_state",
    )
    .await;
    let forged = format!("{without_state}&state=forged-state");
    expect_error(
        browser.callback(&app, &forged).await,
        StatusCode::BAD_REQUEST,
        "invalid_state",
    )
    .await;

    // The callback URL delivered to a browser that did not start the login (login CSRF).
    let stranger = Browser {
        client: manual(),
        cookie: "guildhall_oidc=someone-else".into(),
        authorize: String::new(),
    };
    expect_error(
        stranger.callback(&app, &at_idp).await,
        StatusCode::BAD_REQUEST,
        "invalid_state",
    )
    .await;
    // ... which spent the state: the login cannot be completed anywhere now.
    expect_error(
        browser.callback(&app, &at_idp).await,
        StatusCode::BAD_REQUEST,
        "invalid_state",
    )
    .await;

    // Another provider's callback carrying this login's state.
    let browser = Browser::start(&app, "acme-sso").await;
    let at_idp = location(&manual().get(&browser.authorize).send().await.unwrap());
    let elsewhere = at_idp.replacen("/auth/oidc/acme-sso/", "/auth/oidc/other-sso/", 1);
    expect_error(
        browser.callback(&app, &elsewhere).await,
        StatusCode::BAD_REQUEST,
        "invalid_state",
    )
    .await;

    // A code from another issuer than the login's (RFC 9207 mix-up).
    let browser = Browser::start(&app, "acme-sso").await;
    let at_idp = location(&manual().get(&browser.authorize).send().await.unwrap());
    let mixed_up = format!("{at_idp}&iss={}", urlencode("https://evil.test"));
    let to = location(&browser.callback(&app, &mixed_up).await);
    assert_eq!(query(&to)["error"], "invalid_issuer", "{to}");

    // A completed login's callback replayed.
    let browser = Browser::start(&app, "acme-sso").await;
    let at_idp = location(&manual().get(&browser.authorize).send().await.unwrap());
    assert!(browser.finish(&app, &at_idp).await.contains_key("code"));
    expect_error(
        browser.callback(&app, &at_idp).await,
        StatusCode::BAD_REQUEST,
        "invalid_state",
    )
    .await;

    // An expired login (ten minutes).
    let browser = Browser::start(&app, "acme-sso").await;
    let at_idp = location(&manual().get(&browser.authorize).send().await.unwrap());
    app.advance(chrono::Duration::minutes(11));
    expect_error(
        browser.callback(&app, &at_idp).await,
        StatusCode::BAD_REQUEST,
        "invalid_state",
    )
    .await;
}

#[tokio::test]
async fn tampered_id_tokens_are_refused_and_create_nothing() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    acme_with(&app, &idp, |_| {}).await;
    let users = user_count(&app).await;
    for tamper in [
        Tamper::Issuer,
        Tamper::Audience,
        Tamper::Expired,
        Tamper::Nonce,
        Tamper::AlgNone,
        Tamper::Hmac,
        Tamper::UnpublishedKey,
    ] {
        idp.tamper(tamper);
        let back = log_in(&app).await;
        assert_eq!(
            back.get("error").map(String::as_str),
            Some("invalid_id_token"),
            "{tamper:?}: {back:?}"
        );
        assert!(!back.contains_key("code"), "{tamper:?}");
        assert!(back["error_description"].contains("ID token"), "{back:?}");
        assert_eq!(back["state"], "frontend-state");
    }
    assert_eq!(user_count(&app).await, users, "no account was created");
    idp.tamper(Tamper::Nothing);
    assert!(
        log_in(&app).await.contains_key("code"),
        "the same provider, behaving, works"
    );
}

#[tokio::test]
async fn denied_consent_unreachable_providers_and_bad_requests_are_clear() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    let acme = acme_with(&app, &idp, |_| {}).await;
    let users = user_count(&app).await;

    idp.deny(true);
    let back = log_in(&app).await;
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], "frontend-state");
    idp.deny(false);

    let start = |q: String| manual().get(app.url(&format!("/auth/oidc/acme-sso/login{q}"))).send();
    expect_error(
        start(String::new()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
    )
    .await;
    let near_miss = format!("?redirect_uri={}", urlencode(&format!("{FRONTEND}/")));
    expect_error(
        start(near_miss).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
    )
    .await;
    let evil = format!("?redirect_uri={}", urlencode("https://evil.test/steal"));
    expect_error(
        start(evil).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
    )
    .await;
    let unknown = manual()
        .get(app.url(&format!("/auth/oidc/nobody/login?redirect_uri={}", urlencode(FRONTEND))))
        .send()
        .await
        .unwrap();
    expect_error(unknown, StatusCode::NOT_FOUND, "not_found").await;

    // A provider whose issuer does not answer.
    let t = &acme.admin_token;
    let dead = json!({"slug": "dead-sso", "name": "Dead", "issuer": "http://127.0.0.1:9", "client_id": "x"});
    let path = format!("/orgs/{}/identity-providers", acme.id);
    app.expect("POST", &path, t, Some(dead), StatusCode::CREATED).await;
    let down = manual()
        .get(app.url(&format!(
            "/auth/oidc/dead-sso/login?redirect_uri={}",
            urlencode(FRONTEND)
        )))
        .send()
        .await
        .unwrap();
    expect_error(down, StatusCode::BAD_GATEWAY, "provider_unavailable").await;

    // The exchange refuses junk.
    let junk = app.post_json("/auth/oidc/exchange", &json!({"code": "made-up"})).await;
    expect_error(junk, StatusCode::BAD_REQUEST, "invalid_code").await;
    let missing = app.post_json("/auth/oidc/exchange", &json!({})).await;
    expect_error(missing, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(user_count(&app).await, users);
}

#[tokio::test]
async fn an_existing_account_is_linked_only_by_a_verified_email_when_the_provider_allows_it() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    let acme = acme_with(&app, &idp, |_| {}).await;
    let local = app
        .user_in(&acme.admin_token, &acme.id, "dana@acme.test", &["member"])
        .await;
    let users = user_count(&app).await;

    let back = log_in(&app).await;
    assert_eq!(back["error"], "account_exists", "linking by email is off");

    let providers = format!("/orgs/{}/identity-providers", acme.id);
    let listed = app
        .expect("GET", &providers, &acme.admin_token, None, StatusCode::OK)
        .await;
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let updated = writable(&listed[0], json!({"link_by_email": true}));
    let path = format!("{providers}/{id}");
    app.expect("PUT", &path, &acme.admin_token, Some(updated), StatusCode::OK)
        .await;

    idp.set_account(json!({"sub": "fake-user-1", "email": "dana@acme.test", "email_verified": false, "groups": []}));
    assert_eq!(
        log_in(&app).await["error"],
        "account_exists",
        "an unverified email links nothing"
    );

    idp.set_account(json!({"sub": "fake-user-1", "email": "dana@acme.test", "email_verified": true, "groups": []}));
    let grant = exchange(&app, &log_in(&app).await["code"]).await;
    assert_eq!(grant["user"]["id"], local.as_str(), "linked to the existing account");
    assert_eq!(user_count(&app).await, users);
    app.login_ok("dana@acme.test", PASSWORD).await;

    // Acme's admins run acme's provider: it may claim any address, so it links no account that
    // also belongs to another organisation, and no superuser.
    let globex = app.create_org("globex").await;
    app.user_in(&globex.admin_token, &globex.id, "ceo@acme.test", &["owner"])
        .await;
    idp.set_account(json!({"sub": "forged-ceo", "email": "ceo@acme.test", "email_verified": true}));
    assert_eq!(
        log_in(&app).await["error"],
        "account_exists",
        "no cross-tenant takeover"
    );
    let any_domain = writable(&listed[0], json!({"link_by_email": true, "email_domains": []}));
    app.expect("PUT", &path, &acme.admin_token, Some(any_domain), StatusCode::OK)
        .await;
    idp.set_account(json!({"sub": "forged-root", "email": ADMIN_EMAIL, "email_verified": true}));
    assert_eq!(log_in(&app).await["error"], "account_exists", "never a superuser");
}

#[tokio::test]
async fn without_jit_or_outside_the_served_domains_nothing_is_created() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    acme_with(&app, &idp, |p| p["jit"] = json!(false)).await;
    let users = user_count(&app).await;
    assert_eq!(log_in(&app).await["error"], "not_provisioned");

    idp.set_account(json!({"sub": "fake-user-2", "email": "mallory@evil.test", "email_verified": true}));
    assert_eq!(log_in(&app).await["error"], "email_domain_not_allowed");
    idp.set_account(json!({"sub": "fake-user-3", "email_verified": true}));
    assert_eq!(log_in(&app).await["error"], "email_required");
    assert_eq!(user_count(&app).await, users);
}

#[tokio::test]
async fn home_realm_discovery_names_the_providers_of_an_email_domain() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    let acme = acme_with(&app, &idp, |_| {}).await;
    let found = body(
        app.post_json("/auth/oidc/discover", &json!({"email": "Dana@ACME.test"}))
            .await,
    )
    .await;
    assert_eq!(found["providers"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["providers"][0]["slug"], "acme-sso");
    assert_eq!(found["providers"][0]["organization"], "acme");
    assert_eq!(
        found["providers"][0]["login_url"],
        format!("{PUBLIC}/auth/oidc/acme-sso/login")
    );
    let none = body(
        app.post_json("/auth/oidc/discover", &json!({"email": "x@elsewhere.test"}))
            .await,
    )
    .await;
    assert_eq!(none["providers"], json!([]));
    let bad = app
        .post_json("/auth/oidc/discover", &json!({"email": "not an email"}))
        .await;
    let bad = expect_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(bad["errors"][0]["field"], "email");

    // A provider switched off is neither discovered nor usable.
    let providers = format!("/orgs/{}/identity-providers", acme.id);
    let listed = app
        .expect("GET", &providers, &acme.admin_token, None, StatusCode::OK)
        .await;
    let off = writable(&listed[0], json!({"is_active": false}));
    let path = format!("{providers}/{}", listed[0]["id"].as_str().unwrap());
    app.expect("PUT", &path, &acme.admin_token, Some(off), StatusCode::OK)
        .await;
    let gone = body(
        app.post_json("/auth/oidc/discover", &json!({"email": "dana@acme.test"}))
            .await,
    )
    .await;
    assert_eq!(gone["providers"], json!([]));
    let start = manual()
        .get(app.url(&format!(
            "/auth/oidc/acme-sso/login?redirect_uri={}",
            urlencode(FRONTEND)
        )))
        .send()
        .await
        .unwrap();
    expect_error(start, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_global_provider_slug_is_reserved() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    let acme = app.create_org("acme").await;
    let provider = json!({"slug": "default", "name": "Mine", "issuer": idp.issuer(), "client_id": "x"});
    let path = format!("/orgs/{}/identity-providers", acme.id);
    let refused = app.send("POST", &path, &acme.admin_token, Some(provider)).await;
    let refused = expect_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(refused["errors"][0]["field"], "slug");
}

#[tokio::test]
async fn just_in_time_users_join_by_an_auto_join_domain_when_their_address_is_verified() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    let acme = acme_with(&app, &idp, |_| {}).await;
    let policy = json!({"join_policy": "auto_join", "roles": ["admin"]});
    let path = format!("/orgs/{}/email-domains/acme.test", acme.id);
    app.expect("PATCH", &path, &acme.admin_token, Some(policy), StatusCode::OK)
        .await;

    idp.set_account(json!({"sub": "verified-1", "email": "vera@acme.test", "email_verified": true, "groups": []}));
    let grant = exchange(&app, &log_in(&app).await["code"]).await;
    let claims = claims_of(grant["access_token"].as_str().unwrap());
    assert_eq!(claims["roles"], json!(["admin", "member"]), "the domain's roles");

    idp.set_account(json!({"sub": "unverified-1", "email": "ursula@acme.test", "email_verified": false, "groups": []}));
    let grant = exchange(&app, &log_in(&app).await["code"]).await;
    let claims = claims_of(grant["access_token"].as_str().unwrap());
    assert_eq!(
        claims["roles"],
        json!(["member"]),
        "an unproven address gets only the provider's"
    );
}

/// A provider's login is one factor: an account with its own second factor takes the second
/// step after the exchange too, and the tokens say both (`fed otp mfa`).
#[tokio::test]
async fn an_external_login_of_an_account_with_a_second_factor_asks_for_it() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    idp.set_account(json!({"sub": "fake-user-9", "email": "dana@acme.test", "email_verified": true, "name": "Dana"}));
    acme_with(&app, &idp, |_| {}).await;
    let first = exchange(&app, &log_in(&app).await["code"]).await;
    let token = first["access_token"].as_str().unwrap();
    assert_eq!(claims_of(token)["amr"], json!(["fed"]));
    let started = app
        .expect("POST", "/auth/mfa/totp", token, None, StatusCode::CREATED)
        .await;
    let secret = totp_rs::Secret::try_from_base32(started["secret"].as_str().unwrap()).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let code = |app: &TestApp| totp.generate(app.clock_now().timestamp() as u64).to_string();
    app.expect(
        "POST",
        "/auth/mfa/totp/confirm",
        token,
        Some(json!({"code": code(&app)})),
        StatusCode::OK,
    )
    .await;

    let back = log_in(&app).await;
    let response = app
        .post_json("/auth/oidc/exchange", &json!({"code": back["code"]}))
        .await;
    let answer = expect_error(response, StatusCode::UNAUTHORIZED, "mfa_required").await;
    app.advance(chrono::Duration::seconds(30));
    let tokens = body(
        app.post_json(
            "/auth/mfa/verify",
            &json!({"mfa_token": answer["mfa_token"], "code": code(&app)}),
        )
        .await,
    )
    .await;
    let claims = claims_of(tokens["access_token"].as_str().expect("tokens after the second factor"));
    assert_eq!(claims["amr"], json!(["fed", "otp", "mfa"]));
    assert_eq!(claims["org"]["slug"], "acme");
}

#[tokio::test]
async fn a_linked_provider_is_listed_and_unlinked_but_never_the_last_way_in() {
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    let acme = acme_with(&app, &idp, |p| p["link_by_email"] = json!(true)).await;
    // An account made on its first login through the provider: the link is its only way in.
    idp.set_account(json!({"sub": "jit-1", "email": "jit@acme.test", "email_verified": true}));
    let jit = exchange(&app, &log_in(&app).await["code"]).await;
    let jit_token = jit["access_token"].as_str().unwrap();
    let listed = app
        .expect("GET", "/auth/me/identities", jit_token, None, StatusCode::OK)
        .await;
    assert_eq!(listed["identities"][0]["provider"], "acme-sso", "{listed}");
    assert_eq!(listed["identities"][0]["issuer"], idp.issuer());
    let only = listed["identities"][0]["id"].as_str().unwrap().to_owned();
    let refused = app
        .send("DELETE", &format!("/auth/me/identities/{only}"), jit_token, None)
        .await;
    expect_error(refused, StatusCode::CONFLICT, "last_sign_in_method").await;

    // An account with a password, linked by its verified email: unlinked, it logs in with the
    // password still, and the link is gone.
    app.user_in(&acme.admin_token, &acme.id, "dana@acme.test", &["member"])
        .await;
    idp.set_account(json!({"sub": "fake-user-1", "email": "dana@acme.test", "email_verified": true}));
    let dana = exchange(&app, &log_in(&app).await["code"]).await;
    let dana_token = dana["access_token"].as_str().unwrap();
    let link = app
        .expect("GET", "/auth/me/identities", dana_token, None, StatusCode::OK)
        .await["identities"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bad = app
        .send("DELETE", "/auth/me/identities/not-an-id", dana_token, None)
        .await;
    assert!(bad.status().is_client_error(), "{}", bad.status());
    app.expect(
        "DELETE",
        &format!("/auth/me/identities/{link}"),
        dana_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let after = app
        .expect("GET", "/auth/me/identities", dana_token, None, StatusCode::OK)
        .await;
    assert_eq!(after["identities"], json!([]), "{after}");
    let again = app
        .send("DELETE", &format!("/auth/me/identities/{link}"), dana_token, None)
        .await;
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await;
    app.login_ok("dana@acme.test", PASSWORD).await;
    // The JIT account's link is as it was.
    let kept = app
        .expect("GET", "/auth/me/identities", jit_token, None, StatusCode::OK)
        .await;
    assert_eq!(kept["identities"][0]["id"], only.as_str());
}
