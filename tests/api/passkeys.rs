//! Passkeys with real WebAuthn ceremonies: a software authenticator (webauthn-authenticator-rs's
//! `SoftPasskey`, P-256 keys made in the test) answers the server's options over HTTP, and
//! webauthn-rs on the server verifies the signatures; nothing is mocked. Registration (first
//! factor gets recovery codes), list, rename, a passkey as the second step of a login (`amr`
//! `pwd hwk mfa`), single-use challenges, another user's assertion, a removed credential,
//! removal with a fresh factor, an admin's reset, and bad input. The hosted pages' passkey
//! buttons (discoverable login) run in Chromium with its virtual authenticator (tests/rp).
use crate::helpers::{Org, PASSWORD, TestApp, body, claims_of, expect_error, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

/// The public URL of these tests' server, the relying party: https, as browsers (and the soft
/// authenticator) accept no other origin but `localhost`.
const PUBLIC_URL: &str = "https://guildhall.test";

fn origin() -> Url {
    Url::parse(PUBLIC_URL).unwrap()
}

pub async fn spawn() -> TestApp {
    spawn_app_with(|s| s.issuer = Some(PUBLIC_URL.into())).await
}

/// A software passkey (it claims user verification, as a platform authenticator would after a
/// PIN or a fingerprint).
pub fn authenticator() -> SoftPasskey {
    SoftPasskey::new(true)
}

/// Registers a passkey of `authenticator` for `token`'s user: the answer of `register/finish`.
pub async fn register(app: &TestApp, token: &str, authenticator: &mut SoftPasskey, name: &str) -> Value {
    let started = app
        .expect("POST", "/auth/mfa/webauthn/register/start", token, None, StatusCode::OK)
        .await;
    let options: CreationChallengeResponse = serde_json::from_value(started["options"].clone()).unwrap();
    assert_eq!(options.public_key.rp.id, "guildhall.test");
    let credential = authenticator.do_registration(origin(), options).unwrap();
    app.expect(
        "POST",
        "/auth/mfa/webauthn/register/finish",
        token,
        Some(json!({"ceremony_id": started["ceremony_id"], "name": name, "credential": credential})),
        StatusCode::CREATED,
    )
    .await
}

/// `authenticator`'s answer to a ceremony handed out as `started`: an `assertion` body.
fn answer(authenticator: &mut SoftPasskey, started: &Value) -> Value {
    let options: RequestChallengeResponse = serde_json::from_value(started["options"].clone()).unwrap();
    let credential = authenticator.do_authentication(origin(), options).unwrap();
    json!({"ceremony_id": started["ceremony_id"], "credential": credential})
}

/// A password login that must answer `mfa_required`: its token.
async fn mfa_token(app: &TestApp, email: &str) -> String {
    let answer = expect_error(
        app.login(email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "mfa_required",
    )
    .await;
    assert!(
        answer["methods"].as_array().unwrap().contains(&json!("webauthn")),
        "{answer}"
    );
    answer["mfa_token"].as_str().unwrap().to_owned()
}

async fn login_challenge(app: &TestApp, mfa_token: &str) -> Value {
    body(
        app.post_json("/auth/mfa/webauthn/challenge", &json!({"mfa_token": mfa_token}))
            .await,
    )
    .await
}

/// The organisation `acme` with these members: it and their tokens.
async fn members<const N: usize>(app: &TestApp, emails: [&str; N]) -> (Org, [String; N]) {
    let acme = app.create_org("acme").await;
    let mut tokens = Vec::with_capacity(N);
    for email in emails {
        app.user_in(&acme.admin_token, &acme.id, email, &["member"]).await;
        tokens.push(app.token_in(email, "acme").await);
    }
    (acme, tokens.try_into().unwrap())
}

#[tokio::test]
async fn a_passkey_registers_and_answers_the_second_step_of_a_login_once() {
    let app = spawn().await;
    let (acme, [token]) = members(&app, ["ada@acme.test"]).await;
    let mut key = authenticator();

    // The first factor of the account: recovery codes come with it.
    let registered = register(&app, &token, &mut key, "Laptop").await;
    assert_eq!(registered["passkey"]["name"], "Laptop");
    assert_eq!(registered["recovery_codes"].as_array().unwrap().len(), 10);
    let id = registered["passkey"]["id"].as_str().unwrap().to_owned();
    let status = app.expect("GET", "/auth/mfa", &token, None, StatusCode::OK).await;
    assert_eq!(
        status,
        json!({"totp": false, "passkeys": 1, "recovery_codes_left": 10, "methods": ["webauthn", "recovery_code"]})
    );
    let listed = app
        .expect("GET", "/auth/mfa/webauthn", &token, None, StatusCode::OK)
        .await;
    assert_eq!(listed["passkeys"][0]["id"], id.as_str());
    assert!(listed["passkeys"][0]["last_used_at"].is_null());
    let renamed = app
        .expect(
            "PATCH",
            &format!("/auth/mfa/webauthn/{id}"),
            &token,
            Some(json!({"name": "Work laptop"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(renamed["name"], "Work laptop");

    // Every password login now takes a second step; the passkey answers it.
    let first = mfa_token(&app, "ada@acme.test").await;
    let started = login_challenge(&app, &first).await;
    let assertion = answer(&mut key, &started);
    let tokens = body(
        app.post_json("/auth/mfa/verify", &json!({"mfa_token": first, "assertion": assertion}))
            .await,
    )
    .await;
    let access = tokens["access_token"].as_str().expect("tokens after the passkey");
    assert_eq!(claims_of(access)["amr"], json!(["pwd", "hwk", "mfa"]));
    assert_eq!(claims_of(access)["acr"], "urn:guildhall:acr:mfa");
    assert_eq!(app.validate(access).await["amr"], json!(["pwd", "hwk", "mfa"]));
    let listed = app
        .expect("GET", "/auth/mfa/webauthn", &token, None, StatusCode::OK)
        .await;
    assert!(listed["passkeys"][0]["last_used_at"].is_string(), "{listed}");

    // The same answer cannot serve another login: its challenge was spent.
    let second = mfa_token(&app, "ada@acme.test").await;
    expect_error(
        app.post_json(
            "/auth/mfa/verify",
            &json!({"mfa_token": second, "assertion": assertion}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
    )
    .await;
    // Nor can a challenge outlive its five minutes.
    let late = login_challenge(&app, &second).await;
    let late_answer = answer(&mut key, &late);
    app.advance(chrono::Duration::minutes(6));
    let third = mfa_token(&app, "ada@acme.test").await;
    expect_error(
        app.post_json(
            "/auth/mfa/verify",
            &json!({"mfa_token": third, "assertion": late_answer}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
    )
    .await;
    // A fresh challenge works.
    let fresh = login_challenge(&app, &third).await;
    let fresh_answer = answer(&mut key, &fresh);
    assert_eq!(
        app.post_json(
            "/auth/mfa/verify",
            &json!({"mfa_token": third, "assertion": fresh_answer}),
        )
        .await
        .status(),
        StatusCode::OK
    );
    // The enrolment is audited, and an event says what was enrolled.
    let root = app.superuser_token().await;
    let audit = app.expect("GET", "/admin/audit", &root, None, StatusCode::OK).await;
    assert!(audit.to_string().contains("webauthn"), "{audit}");
    let events = app
        .expect("GET", "/admin/events", &acme.admin_token, None, StatusCode::OK)
        .await;
    assert!(events.to_string().contains("mfa.enrolled"), "{events}");
}

#[tokio::test]
async fn another_users_passkey_and_a_removed_passkey_do_not_count() {
    let app = spawn().await;
    let (_, [ada, bob]) = members(&app, ["ada@acme.test", "bob@acme.test"]).await;
    let (mut ada_key, mut ada_spare, mut bob_key) = (authenticator(), authenticator(), authenticator());
    let first = register(&app, &ada, &mut ada_key, "Phone").await;
    let spare = register(&app, &ada, &mut ada_spare, "Spare key").await;
    assert!(
        spare.get("recovery_codes").is_none(),
        "a second factor keeps the codes: {spare}"
    );
    register(&app, &bob, &mut bob_key, "Bob's").await;

    // Bob's passkey, answering Bob's own challenge, is not a factor of Ada's login.
    let token = mfa_token(&app, "ada@acme.test").await;
    let bobs = app
        .expect(
            "POST",
            "/auth/mfa/webauthn/authenticate/start",
            &bob,
            None,
            StatusCode::OK,
        )
        .await;
    let bobs_answer = answer(&mut bob_key, &bobs);
    expect_error(
        app.post_json(
            "/auth/mfa/verify",
            &json!({"mfa_token": token, "assertion": bobs_answer}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
    )
    .await;
    // Nor is Bob's signature over Ada's challenge.
    let adas = login_challenge(&app, &token).await;
    let mut forged = answer(&mut bob_key, &bobs_for(&adas, &bobs));
    forged["ceremony_id"] = adas["ceremony_id"].clone();
    expect_error(
        app.post_json("/auth/mfa/verify", &json!({"mfa_token": token, "assertion": forged}))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
    )
    .await;

    // A challenge handed out before a passkey is removed is not answered by that passkey after.
    let before = app
        .expect(
            "POST",
            "/auth/mfa/webauthn/authenticate/start",
            &ada,
            None,
            StatusCode::OK,
        )
        .await;
    let removal_factor = app
        .expect(
            "POST",
            "/auth/mfa/webauthn/authenticate/start",
            &ada,
            None,
            StatusCode::OK,
        )
        .await;
    let id = first["passkey"]["id"].as_str().unwrap();
    // Removal needs a fresh factor: none is 422, a wrong one 401.
    expect_error(
        app.send("DELETE", &format!("/auth/mfa/webauthn/{id}"), &ada, Some(json!({})))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.send(
            "DELETE",
            &format!("/auth/mfa/webauthn/{id}"),
            &ada,
            Some(json!({"code": "123456"})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    let spare_answer = answer(&mut ada_spare, &removal_factor);
    app.expect(
        "DELETE",
        &format!("/auth/mfa/webauthn/{id}"),
        &ada,
        Some(json!({"assertion": spare_answer})),
        StatusCode::NO_CONTENT,
    )
    .await;
    let removed_answer = answer(&mut ada_key, &before);
    let token = mfa_token(&app, "ada@acme.test").await;
    expect_error(
        app.post_json(
            "/auth/mfa/verify",
            &json!({"mfa_token": token, "assertion": removed_answer}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
    )
    .await;
    let listed = app
        .expect("GET", "/auth/mfa/webauthn", &ada, None, StatusCode::OK)
        .await;
    assert_eq!(listed["passkeys"].as_array().unwrap().len(), 1);
    assert_eq!(listed["passkeys"][0]["name"], "Spare key");
}

/// Bob's authenticator only answers for credentials it holds: Ada's challenge, with Bob's
/// credentials allowed, so that Bob's key signs Ada's challenge bytes.
fn bobs_for(adas: &Value, bobs: &Value) -> Value {
    let mut mixed = adas.clone();
    mixed["options"]["publicKey"]["allowCredentials"] = bobs["options"]["publicKey"]["allowCredentials"].clone();
    mixed
}

#[tokio::test]
async fn nobody_else_sees_renames_or_removes_a_passkey_and_an_admin_reset_removes_them() {
    let app = spawn().await;
    let (acme, [ada, bob]) = members(&app, ["ada@acme.test", "bob@acme.test"]).await;
    let mut key = authenticator();
    let id = register(&app, &ada, &mut key, "Laptop").await["passkey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bobs_list = app
        .expect("GET", "/auth/mfa/webauthn", &bob, None, StatusCode::OK)
        .await;
    assert_eq!(bobs_list, json!({"passkeys": []}));
    expect_error(
        app.send(
            "PATCH",
            &format!("/auth/mfa/webauthn/{id}"),
            &bob,
            Some(json!({"name": "mine"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let bobs_factor = app
        .send(
            "DELETE",
            &format!("/auth/mfa/webauthn/{id}"),
            &bob,
            Some(json!({"code": "123456"})),
        )
        .await;
    assert_eq!(bobs_factor.status(), StatusCode::NOT_FOUND);

    // Ada's registration ceremony is hers: Bob cannot finish it with his own authenticator.
    let started = app
        .expect("POST", "/auth/mfa/webauthn/register/start", &ada, None, StatusCode::OK)
        .await;
    let options: CreationChallengeResponse = serde_json::from_value(started["options"].clone()).unwrap();
    let credential = authenticator().do_registration(origin(), options).unwrap();
    expect_error(
        app.send(
            "POST",
            "/auth/mfa/webauthn/register/finish",
            &bob,
            Some(json!({"ceremony_id": started["ceremony_id"], "credential": credential})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
    )
    .await;

    // The organisation's admin resets Ada's factors: the passkey and the recovery codes go.
    let ada_id = app.expect("GET", "/auth/me", &ada, None, StatusCode::OK).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.expect(
        "DELETE",
        &format!("/orgs/{}/members/{ada_id}/mfa", acme.id),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.login("ada@acme.test", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_passkey_input_is_refused_and_nothing_is_written() {
    let app = spawn().await;
    let (_, [ada]) = members(&app, ["ada@acme.test"]).await;
    let started = app
        .expect("POST", "/auth/mfa/webauthn/register/start", &ada, None, StatusCode::OK)
        .await;
    // Not a credential at all, a name too long, an unknown ceremony, a tampered credential.
    let refused = expect_error(
        app.send(
            "POST",
            "/auth/mfa/webauthn/register/finish",
            &ada,
            Some(json!({"ceremony_id": started["ceremony_id"], "name": "x".repeat(65), "credential": {"id": 1}})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields = refused.to_string();
    assert!(fields.contains("credential") && fields.contains("name"), "{refused}");
    let options: CreationChallengeResponse = serde_json::from_value(started["options"].clone()).unwrap();
    let credential = authenticator().do_registration(origin(), options).unwrap();
    expect_error(
        app.send(
            "POST",
            "/auth/mfa/webauthn/register/finish",
            &ada,
            Some(json!({"ceremony_id": uuid::Uuid::new_v4(), "credential": credential})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
    )
    .await;
    let mut tampered = serde_json::to_value(&credential).unwrap();
    tampered["response"]["clientDataJSON"] = json!("e30");
    expect_error(
        app.send(
            "POST",
            "/auth/mfa/webauthn/register/finish",
            &ada,
            Some(json!({"ceremony_id": started["ceremony_id"], "credential": tampered})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
    )
    .await;
    // The refused answers wrote nothing: no passkey, no recovery codes, logins one step, and
    // no challenge for passkeys to hand out.
    let status = app.expect("GET", "/auth/mfa", &ada, None, StatusCode::OK).await;
    assert_eq!(status["passkeys"], 0);
    assert_eq!(status["recovery_codes_left"], 0);
    assert_eq!(app.login("ada@acme.test", PASSWORD).await.status(), StatusCode::OK);
    expect_error(
        app.send("POST", "/auth/mfa/webauthn/authenticate/start", &ada, None)
            .await,
        StatusCode::CONFLICT,
        "no_passkeys",
    )
    .await;
    // The genuine answer still finishes its ceremony, once.
    let finish = json!({"ceremony_id": started["ceremony_id"], "credential": credential});
    app.expect(
        "POST",
        "/auth/mfa/webauthn/register/finish",
        &ada,
        Some(finish.clone()),
        StatusCode::CREATED,
    )
    .await;
    expect_error(
        app.send("POST", "/auth/mfa/webauthn/register/finish", &ada, Some(finish))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_passkey",
    )
    .await;
    // A blank name on rename is refused.
    expect_error(
        app.send(
            "PATCH",
            &format!("/auth/mfa/webauthn/{}", uuid::Uuid::new_v4()),
            &ada,
            Some(json!({"name": "  "})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.post_json("/auth/mfa/webauthn/challenge", &json!({"mfa_token": "nope"}))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;
}

#[tokio::test]
async fn passkeys_are_off_when_the_public_url_is_an_ip_address() {
    let app = spawn_app_with(|s| s.issuer = Some("http://127.0.0.1:9".into())).await;
    let (_, [ada]) = members(&app, ["ada@acme.test"]).await;
    expect_error(
        app.send("POST", "/auth/mfa/webauthn/register/start", &ada, None).await,
        StatusCode::CONFLICT,
        "passkeys_unavailable",
    )
    .await;
}

/// A provider whose public URL is `http://localhost:<port>` (a secure origin with a domain, so
/// passkeys work) while the test's browser reaches it at 127.0.0.1.
async fn spawn_local_provider() -> (TestApp, Url) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public = format!("http://localhost:{port}");
    let app = spawn_app_with(|s| {
        s.port = port;
        s.issuer = Some(public.clone());
        s.oidc.public_url = Some(public.clone());
    })
    .await;
    (app, Url::parse(&format!("http://localhost:{port}")).unwrap())
}

#[tokio::test]
async fn the_hosted_second_factor_page_takes_a_passkey_and_refuses_bad_answers() {
    use crate::mfa::{code_request, hosted_client, id_token_of};
    use crate::op_support::{Browser, authorize_url, pkce};
    let (app, local) = spawn_local_provider().await;
    let (_, client_id) = hosted_client(&app).await;
    let token = app.token_in("ada@acme.test", "acme").await;
    // Registered through the API, with the origin browsers use.
    let mut key = authenticator();
    let started = app
        .expect(
            "POST",
            "/auth/mfa/webauthn/register/start",
            &token,
            None,
            StatusCode::OK,
        )
        .await;
    let options: CreationChallengeResponse = serde_json::from_value(started["options"].clone()).unwrap();
    assert_eq!(options.public_key.rp.id, "localhost");
    let credential = key.do_registration(local.clone(), options).unwrap();
    app.expect(
        "POST",
        "/auth/mfa/webauthn/register/finish",
        &token,
        Some(json!({"ceremony_id": started["ceremony_id"], "credential": credential})),
        StatusCode::CREATED,
    )
    .await;

    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let login = browser
        .get(&authorize_url(&app, &code_request(&client_id, &challenge)))
        .await;
    // The login page offers a passwordless passkey login, and allows its own script for it.
    assert!(login.is("Log in with a passkey"), "{}", login.html);
    let csp = login.csp.clone().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let asked = browser.log_in(&login, "ada@acme.test", PASSWORD).await;
    assert!(asked.is("Use a passkey"), "{}", asked.html);
    let (handle, csrf, mfa) = (asked.field("handle"), asked.field("csrf"), asked.field("mfa_token"));

    // The page's script asks for a challenge: never without the page's CSRF token, never for a
    // login request that does not exist.
    let no_csrf = browser
        .client
        .post(format!("{}/oauth2/passkey/options", app.address))
        .form(&[("handle", handle.as_str()), ("mfa_token", mfa.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(no_csrf, StatusCode::FORBIDDEN, "csrf_token_invalid").await;
    let unknown = browser
        .client
        .post(format!("{}/oauth2/passkey/options", app.address))
        .form(&[("handle", "no-such-request"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    expect_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let options = |extra: Vec<(&'static str, String)>| {
        let mut form = vec![("handle", handle.clone()), ("csrf", csrf.clone())];
        form.extend(extra);
        let client = browser.client.clone();
        let url = format!("{}/oauth2/passkey/options", app.address);
        async move { body(client.post(url).form(&form).send().await.unwrap()).await }
    };
    let started = options(vec![("mfa_token", mfa.clone())]).await;
    let answer_of = |key: &mut SoftPasskey, started: &Value| {
        let options: RequestChallengeResponse = serde_json::from_value(started["options"].clone()).unwrap();
        let credential = key.do_authentication(local.clone(), options).unwrap();
        (
            started["ceremony_id"].as_str().unwrap().to_owned(),
            serde_json::to_string(&credential).unwrap(),
        )
    };
    let (ceremony, assertion) = answer_of(&mut key, &started);

    // A malformed answer is a clear page; an answer to the page's challenge, posted to the
    // passwordless login (another kind of ceremony), is not accepted there.
    let malformed = browser
        .post(
            "/oauth2/mfa/passkey",
            &[
                ("handle", &handle),
                ("csrf", &csrf),
                ("mfa_token", &mfa),
                ("ceremony_id", &ceremony),
                ("credential", "{"),
            ],
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(malformed.is("passkey"), "{}", malformed.html);
    let elsewhere = browser
        .post(
            "/oauth2/passkey",
            &[
                ("handle", &handle),
                ("csrf", &csrf),
                ("ceremony_id", &ceremony),
                ("credential", &assertion),
            ],
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    assert!(elsewhere.is("That passkey was not accepted here"), "{}", elsewhere.html);

    // The answer on the second-factor page: the browser session starts and the code comes back.
    let done = browser
        .post(
            "/oauth2/mfa/passkey",
            &[
                ("handle", &handle),
                ("csrf", &csrf),
                ("mfa_token", &mfa),
                ("ceremony_id", &ceremony),
                ("credential", &assertion),
            ],
        )
        .await;
    let code = done
        .param("code")
        .unwrap_or_else(|| panic!("{:?} {}", done.location, done.html));
    let id = id_token_of(&app, &client_id, &code, &verifier).await;
    assert_eq!(id["amr"], json!(["pwd", "hwk", "mfa"]));
    assert_eq!(id["acr"], "urn:guildhall:acr:mfa");
    // The spent page's challenge is gone: its token asks for nothing more.
    let spent = browser
        .client
        .post(format!("{}/oauth2/passkey/options", app.address))
        .form(&[
            ("handle", handle.as_str()),
            ("csrf", csrf.as_str()),
            ("mfa_token", mfa.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(spent.status(), StatusCode::NOT_FOUND);
}
