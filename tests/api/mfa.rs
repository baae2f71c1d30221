//! Second factors with real ceremonies: codes are computed from the enrolled secret with the
//! RFC 6238 algorithm at the server's (test) clock, never a mocked check. Enrolment, the
//! two-step login on every password route, replayed and expired codes, single-use and
//! flow-bound `mfa_token`s, recovery codes (mailed about on use), lockout, removal with a fresh
//! factor, the organisation's `require_mfa` policy with enrolment-only tokens, an admin's reset
//! with owner protection, and the hosted pages' second-factor and enrolment steps.
use crate::helpers::{Org, PASSWORD, TestApp, body, claims_of, expect_error, spawn_app_with};
use crate::mail::{next_mail_about, smtp_sink};
use crate::op_support::{Browser, authorize_url, exchange, pkce, register_app, spawn_provider};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// The code an authenticator app with `secret` (base32) shows at the app's clock.
fn code(app: &TestApp, secret: &str) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    totp.generate(app.clock_now().timestamp() as u64).to_string()
}

/// Moves the clock to the next 30-second step (a new code).
fn next_step(app: &TestApp) {
    app.advance(chrono::Duration::seconds(30));
}

/// Enrols and confirms an authenticator app for `token`'s user: the secret and recovery codes.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let started = app
        .expect("POST", "/auth/mfa/totp", token, None, StatusCode::CREATED)
        .await;
    let secret = started["secret"].as_str().unwrap().to_owned();
    let confirmed = app
        .expect(
            "POST",
            "/auth/mfa/totp/confirm",
            token,
            Some(json!({"code": code(app, &secret)})),
            StatusCode::OK,
        )
        .await;
    let codes = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn member(app: &TestApp, email: &str) -> (Org, String) {
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, email, &["member"]).await;
    let token = app.token_in(email, "acme").await;
    (acme, token)
}

/// A password login that must answer `mfa_required`: its token.
async fn mfa_token(app: &TestApp, email: &str) -> String {
    let answer = expect_error(
        app.login(email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "mfa_required",
    )
    .await;
    answer["mfa_token"].as_str().unwrap().to_owned()
}

async fn verify(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/auth/mfa/verify", &body).await
}

#[tokio::test]
async fn an_enrolled_app_makes_every_password_login_two_steps_and_a_code_works_once() {
    let app = spawn_app_with(|_| {}).await;
    let (_, token) = member(&app, "ada@acme.test").await;

    let started = app
        .expect("POST", "/auth/mfa/totp", &token, None, StatusCode::CREATED)
        .await;
    let secret = started["secret"].as_str().unwrap().to_owned();
    let uri = started["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(
        uri.contains("ada%40acme.test") || uri.contains("ada@acme.test"),
        "{uri}"
    );
    assert!(started["qr_svg"].as_str().unwrap().contains("<svg"));
    // Not confirmed yet: logins stay one step, and the status says no app.
    let status = app.expect("GET", "/auth/mfa", &token, None, StatusCode::OK).await;
    assert_eq!(status["totp"], false);
    assert_eq!(app.login("ada@acme.test", PASSWORD).await.status(), StatusCode::OK);

    // A wrong first code confirms nothing; a right one answers ten recovery codes, once.
    let current = code(&app, &secret);
    let wrong_code = if current == "000000" { "111111" } else { "000000" };
    expect_error(
        app.send(
            "POST",
            "/auth/mfa/totp/confirm",
            &token,
            Some(json!({"code": wrong_code})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    let confirmed = app
        .expect(
            "POST",
            "/auth/mfa/totp/confirm",
            &token,
            Some(json!({"code": current})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(confirmed["recovery_codes"].as_array().unwrap().len(), 10);
    expect_error(
        app.send("POST", "/auth/mfa/totp", &token, None).await,
        StatusCode::CONFLICT,
        "totp_already_enrolled",
    )
    .await;
    let status = app.expect("GET", "/auth/mfa", &token, None, StatusCode::OK).await;
    assert_eq!(
        status,
        json!({"totp": true, "passkeys": 0, "recovery_codes_left": 10, "methods": ["totp", "recovery_code"]})
    );

    // Every password route now answers mfa_required, after the password (a wrong one is still
    // just invalid_credentials).
    expect_error(
        app.login("ada@acme.test", "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let response = app.login("ada@acme.test", PASSWORD).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let answer = expect_error(response, StatusCode::UNAUTHORIZED, "mfa_required").await;
    assert_eq!(answer["methods"], json!(["totp", "recovery_code"]));
    assert!(answer.get("access_token").is_none());
    let first = answer["mfa_token"].as_str().unwrap().to_owned();
    expect_error(
        app.password_grant("ada@acme.test", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "mfa_required",
    )
    .await;

    // The confirming code is spent: replaying it in its window fails, and so does a wrong one.
    expect_error(
        verify(&app, json!({"mfa_token": first, "code": current})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    expect_error(
        verify(&app, json!({"mfa_token": first, "code": wrong_code})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    next_step(&app);
    let fresh = code(&app, &secret);
    let tokens = body(verify(&app, json!({"mfa_token": first, "code": fresh})).await).await;
    let access = tokens["access_token"].as_str().expect("tokens after the second factor");
    let claims = claims_of(access);
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "urn:guildhall:acr:mfa");
    let validated = app.validate(access).await;
    assert_eq!(validated["valid"], true);
    assert_eq!(validated["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(validated["acr"], "urn:guildhall:acr:mfa");
    // A one-factor token says so too.
    assert_eq!(app.validate(&token).await["acr"], "urn:guildhall:acr:1fa");

    // The mfa_token is single use; the code it took cannot serve another login either.
    expect_error(
        verify(&app, json!({"mfa_token": first, "code": fresh})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;
    let second = mfa_token(&app, "ada@acme.test").await;
    expect_error(
        verify(&app, json!({"mfa_token": second, "code": fresh})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    // It lives five minutes.
    app.advance(chrono::Duration::minutes(6));
    let late = code(&app, &secret);
    expect_error(
        verify(&app, json!({"mfa_token": second, "code": late})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;
    // Not a bearer token either.
    assert_eq!(app.me_status(&second).await, StatusCode::UNAUTHORIZED);

    // Bad input is a 422 naming the field, and changes nothing.
    let third = mfa_token(&app, "ada@acme.test").await;
    for (bad, field) in [
        (json!({"mfa_token": third}), "code"),
        (
            json!({"mfa_token": third, "code": late, "recovery_code": "abcd"}),
            "recovery_code",
        ),
        (json!({"mfa_token": " ", "code": late}), "mfa_token"),
        (json!({"mfa_token": third, "code": late, "extra": 1}), "extra"),
    ] {
        let answer = expect_error(
            verify(&app, bad.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(answer["errors"].to_string().contains(field), "{bad}: {answer}");
    }
    let done = body(verify(&app, json!({"mfa_token": third, "code": late})).await).await;
    assert!(done["access_token"].is_string(), "{done}");
}

#[tokio::test]
async fn recovery_codes_work_once_are_mailed_about_and_regenerate() {
    let (url, mut mail) = smtp_sink().await;
    let app = spawn_app_with(|s| s.outbound.smtp_url = Some(url)).await;
    let (_, token) = member(&app, "ada@acme.test").await;
    let (secret, codes) = enrol(&app, &token).await;

    let login = mfa_token(&app, "ada@acme.test").await;
    // Typed loosely: upper case, spaces for dashes.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let tokens = body(verify(&app, json!({"mfa_token": login, "recovery_code": typed})).await).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    assert_eq!(
        claims_of(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    let notice = next_mail_about(&mut mail, "A recovery code of your account was used").await;
    assert_eq!(notice.recipients, vec!["ada@acme.test".to_owned()]);
    assert!(notice.data.contains("9 recovery codes are left"), "{}", notice.data);

    let again = mfa_token(&app, "ada@acme.test").await;
    expect_error(
        verify(&app, json!({"mfa_token": again, "recovery_code": codes[3]})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    let status = app.expect("GET", "/auth/mfa", &token, None, StatusCode::OK).await;
    assert_eq!(status["recovery_codes_left"], 9);

    // New codes need a fresh factor; the old ones stop working.
    expect_error(
        app.send(
            "POST",
            "/auth/mfa/recovery-codes",
            &token,
            Some(json!({"code": "12345"})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    next_step(&app);
    let fresh = app
        .expect(
            "POST",
            "/auth/mfa/recovery-codes",
            &token,
            Some(json!({"code": code(&app, &secret)})),
            StatusCode::OK,
        )
        .await;
    let fresh: Vec<String> = fresh["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !codes.contains(c)));
    let old = mfa_token(&app, "ada@acme.test").await;
    expect_error(
        verify(&app, json!({"mfa_token": old, "recovery_code": codes[0]})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    let ok = verify(&app, json!({"mfa_token": old, "recovery_code": fresh[0]})).await;
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout_and_removal_needs_a_fresh_factor() {
    let app = spawn_app_with(|_| {}).await;
    let (_, token) = member(&app, "ada@acme.test").await;
    let (secret, _) = enrol(&app, &token).await;
    next_step(&app);
    let right = code(&app, &secret);
    let wrong = if right == "000000" { "111111" } else { "000000" };

    // Each attempt needs the password first, and the password step does not forgive the
    // failed codes: five wrong codes lock the account, whatever comes next.
    for _ in 0..5 {
        let login = mfa_token(&app, "ada@acme.test").await;
        expect_error(
            verify(&app, json!({"mfa_token": login, "code": wrong})).await,
            StatusCode::UNAUTHORIZED,
            "invalid_mfa_code",
        )
        .await;
    }
    let locked = app.login("ada@acme.test", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);

    // Once the lock passes, the right factor logs in and forgets the failures.
    app.advance(chrono::Duration::minutes(10));
    let login = mfa_token(&app, "ada@acme.test").await;
    let now = code(&app, &secret);
    assert_eq!(
        verify(&app, json!({"mfa_token": login, "code": now})).await.status(),
        StatusCode::OK
    );

    // Removing the app takes a fresh factor: a wrong or spent code changes nothing.
    for bad in [json!({"code": wrong}), json!({"code": now}), json!({})] {
        let response = app.send("DELETE", "/auth/mfa/totp", &token, Some(bad.clone())).await;
        assert!(response.status().is_client_error(), "{bad}: {}", response.status());
    }
    assert_eq!(
        app.expect("GET", "/auth/mfa", &token, None, StatusCode::OK).await["totp"],
        true
    );
    next_step(&app);
    app.expect(
        "DELETE",
        "/auth/mfa/totp",
        &token,
        Some(json!({"code": code(&app, &secret)})),
        StatusCode::NO_CONTENT,
    )
    .await;
    let status = app.expect("GET", "/auth/mfa", &token, None, StatusCode::OK).await;
    assert_eq!(
        status,
        json!({"totp": false, "passkeys": 0, "recovery_codes_left": 0, "methods": []})
    );
    assert_eq!(app.login("ada@acme.test", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_organisation_that_requires_mfa_sends_members_without_one_to_enrol_first() {
    let app = spawn_app_with(|_| {}).await;
    let (acme, _) = member(&app, "ada@acme.test").await;
    let patched = app
        .expect(
            "PATCH",
            &format!("/orgs/{}", acme.id),
            &acme.admin_token,
            Some(json!({"require_mfa": true})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(patched["require_mfa"], true);
    expect_error(
        app.send(
            "PATCH",
            &format!("/orgs/{}", acme.id),
            &acme.admin_token,
            Some(json!({"require_mfa": "yes"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let answer = expect_error(
        app.login("ada@acme.test", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "mfa_enrollment_required",
    )
    .await;
    let enrolment = answer["mfa_token"].as_str().unwrap().to_owned();
    assert!(answer.get("methods").is_none());
    // The token only enrols: it is no bearer, and no second factor for /auth/mfa/verify.
    assert_eq!(app.me_status(&enrolment).await, StatusCode::UNAUTHORIZED);
    expect_error(
        verify(&app, json!({"mfa_token": enrolment, "code": "123456"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;
    expect_error(
        app.post_json("/auth/mfa/enroll", &json!({"mfa_token": "not-a-token"}))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;

    let started = body(
        app.post_json("/auth/mfa/enroll", &json!({"mfa_token": enrolment}))
            .await,
    )
    .await;
    let secret = started["secret"].as_str().unwrap().to_owned();
    expect_error(
        app.post_json(
            "/auth/mfa/enroll/confirm",
            &json!({"mfa_token": enrolment, "code": "abc"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    let done = body(
        app.post_json(
            "/auth/mfa/enroll/confirm",
            &json!({"mfa_token": enrolment, "code": code(&app, &secret)}),
        )
        .await,
    )
    .await;
    assert_eq!(done["recovery_codes"].as_array().unwrap().len(), 10, "{done}");
    let access = done["tokens"]["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access)["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims_of(access)["org"]["slug"], "acme");
    // Spent with the enrolment; the next login asks for the factor.
    expect_error(
        app.post_json("/auth/mfa/enroll", &json!({"mfa_token": enrolment}))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;
    mfa_token(&app, "ada@acme.test").await;
}

#[tokio::test]
async fn an_admin_resets_a_members_factors_and_owners_are_protected() {
    let app = spawn_app_with(|_| {}).await;
    let (acme, token) = member(&app, "ada@acme.test").await;
    enrol(&app, &token).await;
    let ada = app.expect("GET", "/auth/me", &token, None, StatusCode::OK).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.user_in(&acme.admin_token, &acme.id, "max@acme.test", &["admin"])
        .await;
    let max = app.token_in("max@acme.test", "acme").await;
    let other = app.create_org("other").await;

    // Another organisation's admin does not see Ada, in its organisation or in hers.
    for org in [&other.id, &acme.id] {
        expect_error(
            app.send(
                "DELETE",
                &format!("/orgs/{org}/members/{ada}/mfa"),
                &other.admin_token,
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // A plain member cannot reset anyone.
    assert_eq!(
        app.send("DELETE", &format!("/orgs/{}/members/{ada}/mfa", acme.id), &token, None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // An admin (not an owner) cannot reset the owner's factors.
    let owner = app
        .expect("GET", "/auth/me", &acme.admin_token, None, StatusCode::OK)
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.send("DELETE", &format!("/orgs/{}/members/{owner}/mfa", acme.id), &max, None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    app.expect(
        "DELETE",
        &format!("/orgs/{}/members/{ada}/mfa", acme.id),
        &max,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    // Ada's sessions ended; her next login is one step again.
    assert_eq!(app.me_status(&token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("ada@acme.test", PASSWORD).await.status(), StatusCode::OK);
    let audit = app
        .expect("GET", "/admin/audit", &acme.admin_token, None, StatusCode::OK)
        .await;
    assert!(audit.to_string().contains("mfa.reset"), "{audit}");
    let events = app
        .expect("GET", "/admin/events", &acme.admin_token, None, StatusCode::OK)
        .await;
    assert!(events.to_string().contains("mfa.reset"), "{events}");
    // Nobody unknown to the organisation.
    let stranger = uuid::Uuid::new_v4();
    expect_error(
        app.send(
            "DELETE",
            &format!("/orgs/{}/members/{stranger}/mfa", acme.id),
            &max,
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

pub(crate) async fn hosted_client(app: &TestApp) -> (Org, String) {
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let registered = register_app(
        app,
        &acme,
        json!({"name": "Board", "kind": "public", "redirect_uris": [CALLBACK], "first_party": true}),
    )
    .await;
    (acme, registered["client_id"].as_str().unwrap().to_owned())
}

pub(crate) fn code_request<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
        ("nonce", "n"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

pub(crate) async fn id_token_of(app: &TestApp, client_id: &str, code: &str, verifier: &str) -> Value {
    let (status, tokens) = exchange(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    claims_of(tokens["id_token"].as_str().unwrap())
}

#[tokio::test]
async fn the_hosted_login_asks_for_the_second_factor_before_any_session() {
    let app = spawn_provider(|_| {}).await;
    let (_, client_id) = hosted_client(&app).await;
    let token = app.token_in("ada@acme.test", "acme").await;
    let (secret, codes) = enrol(&app, &token).await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();

    let login = browser
        .get(&authorize_url(&app, &code_request(&client_id, &challenge)))
        .await;
    let asked = browser.log_in(&login, "ada@acme.test", PASSWORD).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.html);
    assert!(asked.is("authenticator app"), "{}", asked.html);
    let mfa = asked.field("mfa_token");
    let (handle, csrf) = (asked.field("handle"), asked.field("csrf"));
    // No browser session before the factor: a silent request is still not logged in.
    let (_, other_challenge) = pkce();
    let silent = browser
        .get(&authorize_url(
            &app,
            &[code_request(&client_id, &other_challenge), vec![("prompt", "none")]].concat(),
        ))
        .await;
    assert_eq!(silent.param("error").as_deref(), Some("login_required"));

    // The API's flow does not take a hosted page's token, and a hosted page not the API's.
    expect_error(
        verify(&app, json!({"mfa_token": mfa, "code": code(&app, &secret)})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;
    let api_token = mfa_token(&app, "ada@acme.test").await;
    let refused = browser
        .post(
            "/oauth2/mfa",
            &[
                ("handle", &handle),
                ("csrf", &csrf),
                ("mfa_token", &api_token),
                ("code", &codes[0]),
            ],
        )
        .await;
    assert!(refused.is("log in again"), "{}", refused.html);

    // Missing CSRF token: refused.
    let no_csrf = browser
        .post(
            "/oauth2/mfa",
            &[("handle", &handle), ("mfa_token", &mfa), ("code", "123456")],
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);

    // A wrong code shows the form again, with the error beside it.
    let bad = if code(&app, &secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let wrong = browser
        .post(
            "/oauth2/mfa",
            &[("handle", &handle), ("csrf", &csrf), ("mfa_token", &mfa), ("code", bad)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.is("That code is not right"), "{}", wrong.html);
    next_step(&app);
    let done = browser
        .post(
            "/oauth2/mfa",
            &[
                ("handle", &handle),
                ("csrf", &csrf),
                ("mfa_token", &mfa),
                ("code", &code(&app, &secret)),
            ],
        )
        .await;
    let code_param = done.param("code").unwrap_or_else(|| panic!("{}", done.html));
    let id_token = id_token_of(&app, &client_id, &code_param, &verifier).await;
    assert_eq!(id_token["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id_token["acr"], "urn:guildhall:acr:mfa");

    // The browser session now has the factor: the next request needs neither step.
    let (verifier, challenge) = pkce();
    let again = browser
        .get(&authorize_url(&app, &code_request(&client_id, &challenge)))
        .await;
    let code_param = again.param("code").unwrap_or_else(|| panic!("{}", again.html));
    assert_eq!(
        id_token_of(&app, &client_id, &code_param, &verifier).await["acr"],
        "urn:guildhall:acr:mfa"
    );
}

#[tokio::test]
async fn a_hosted_login_to_an_organisation_that_requires_mfa_enrols_on_the_page() {
    let app = spawn_provider(|_| {}).await;
    let (acme, client_id) = hosted_client(&app).await;
    app.expect(
        "PATCH",
        &format!("/orgs/{}", acme.id),
        &acme.admin_token,
        Some(json!({"require_mfa": true})),
        StatusCode::OK,
    )
    .await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();

    let login = browser
        .get(&authorize_url(&app, &code_request(&client_id, &challenge)))
        .await;
    let page = browser.log_in(&login, "ada@acme.test", PASSWORD).await;
    assert!(page.is("Set up an authenticator app"), "{}", page.html);
    assert!(page.is("data:image/svg+xml;base64,"), "{}", page.html);
    let secret = page
        .html
        .split("<code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .unwrap()
        .to_owned();
    let (handle, csrf, mfa) = (page.field("handle"), page.field("csrf"), page.field("mfa_token"));
    // The password's browser session is one factor: prompt=none cannot skip the enrolment.
    let silent = browser
        .get(&authorize_url(
            &app,
            &[code_request(&client_id, &challenge), vec![("prompt", "none")]].concat(),
        ))
        .await;
    assert_eq!(silent.param("error").as_deref(), Some("interaction_required"));

    let wrong = browser
        .post(
            "/oauth2/mfa/enrol",
            &[
                ("handle", &handle),
                ("csrf", &csrf),
                ("mfa_token", &mfa),
                ("code", "12"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    // The same secret is shown again: the app scanned once keeps working.
    assert!(wrong.is(&secret), "{}", wrong.html);
    let codes = browser
        .post(
            "/oauth2/mfa/enrol",
            &[
                ("handle", &handle),
                ("csrf", &csrf),
                ("mfa_token", &mfa),
                ("code", &code(&app, &secret)),
            ],
        )
        .await;
    assert!(codes.is("Save your recovery codes"), "{}", codes.html);
    assert_eq!(codes.html.matches("<li><code>").count(), 10);
    let done = browser
        .post(
            "/oauth2/continue",
            &[("handle", &handle), ("csrf", &codes.field("csrf"))],
        )
        .await;
    let code_param = done.param("code").unwrap_or_else(|| panic!("{}", done.html));
    assert_eq!(
        id_token_of(&app, &client_id, &code_param, &verifier).await["amr"],
        json!(["pwd", "otp", "mfa"])
    );
}

#[tokio::test]
async fn a_one_factor_session_cannot_switch_into_an_organisation_that_requires_mfa() {
    let app = spawn_app_with(|_| {}).await;
    let (acme, _) = member(&app, "ada@acme.test").await;
    let beta = app.create_org("beta").await;
    app.user_in(&beta.admin_token, &beta.id, "ada@acme.test", &["member"])
        .await;
    app.expect(
        "PATCH",
        &format!("/orgs/{}", beta.id),
        &beta.admin_token,
        Some(json!({"require_mfa": true})),
        StatusCode::OK,
    )
    .await;
    let login = body(
        app.post_json(
            "/auth/login",
            &json!({"email": "ada@acme.test", "password": PASSWORD, "organization": acme.slug}),
        )
        .await,
    )
    .await;
    let refresh = login["refresh_token"].as_str().unwrap();
    let switch = app
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": refresh, "organization": "beta"}),
        )
        .await;
    expect_error(switch, StatusCode::FORBIDDEN, "mfa_required_by_organization").await;
    // The refused switch spent nothing: the token still refreshes where it was.
    let same = body(app.refresh(refresh).await).await;
    assert_eq!(
        claims_of(same["access_token"].as_str().unwrap())["org"]["slug"],
        "acme",
        "{same}"
    );
}
