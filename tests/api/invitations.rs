//! Invitations: what an admin invites is exactly what the person gets, and each of the four ways
//! to accept (the abuse cases are in `invitations_abuse`). Mail goes over real SMTP to a sink.
use crate::helpers::*;
use crate::mail::{Received, next_mail, smtp_sink, token_in};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

const LINK: &str = "https://app.acme.test/invitations/{token}";
pub(crate) const NEW_PASSWORD: &str = "a brand new passphrase";

pub(crate) type Inbox = UnboundedReceiver<Received>;

pub(crate) async fn app_with_mail() -> (TestApp, Inbox) {
    app_with_mail_and(|_| {}).await
}

/// An app that mails to a sink, with more settings changed.
pub(crate) async fn app_with_mail_and(tweak: impl FnOnce(&mut guildhall::config::Settings)) -> (TestApp, Inbox) {
    let (url, mail) = smtp_sink().await;
    let app = spawn_app_with(|s| {
        s.outbound.smtp_url = Some(url);
        s.consent.invitation_url = Some(LINK.into());
        tweak(s);
    })
    .await;
    (app, mail)
}

/// Invites `email` into `org` as its admin; returns the invitation and the mailed token.
pub(crate) async fn invite(app: &TestApp, org: &Org, mail: &mut Inbox, body: Value) -> (Value, String) {
    let path = format!("/orgs/{}/invitations", org.id);
    let invitation = app
        .expect("POST", &path, &org.admin_token, Some(body), StatusCode::CREATED)
        .await;
    let message = invitation_mail(mail, invitation["email"].as_str().unwrap()).await;
    let token = token_in(&message.data);
    assert!(
        message.data.contains(&LINK.replace("{token}", &token)),
        "{}",
        message.data
    );
    (invitation, token)
}

/// The next invitation mail, skipping verification mail; checks its recipient.
pub(crate) async fn invitation_mail(mail: &mut Inbox, to: &str) -> Received {
    loop {
        let message = next_mail(mail).await;
        if message.data.contains("You are invited") {
            assert_eq!(message.recipients, [to]);
            return message;
        }
    }
}

pub(crate) async fn accept(app: &TestApp, token: &str, bearer: Option<&str>, body: Option<Value>) -> reqwest::Response {
    let mut request = app.client.post(app.url(&format!("/invitations/{token}/accept")));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub(crate) async fn subjects(app: &TestApp) -> Vec<String> {
    let root = app.superuser_token().await;
    let events = app
        .expect("GET", "/admin/events?limit=200", &root, None, StatusCode::OK)
        .await;
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_person_accepts_and_gets_exactly_what_the_invitation_says() {
    let (app, mut mail) = app_with_mail().await;
    let acme = app.create_org("acme").await;
    app.create_team(&acme.admin_token, "platform").await;
    app.create_domain(&acme.admin_token, "eng", None).await;
    let body =
        json!({"email": "Dana@Acme.test", "roles": ["admin"], "teams": {"platform": "maintainer"}, "domains": ["eng"]});
    let (invitation, token) = invite(&app, &acme, &mut mail, body).await;
    assert_eq!(invitation["email"], "dana@acme.test");
    assert_eq!(invitation["status"], "pending");
    assert!(
        !invitation.to_string().contains(&token),
        "the token is only in the mail"
    );

    // The preview: organisation, inviter, expiry; nothing about accounts.
    let preview = body_of(app.get(&format!("/invitations/{token}")).await, StatusCode::OK).await;
    assert_eq!(preview["organization"]["slug"], "acme");
    assert_eq!(preview["inviter_name"], acme.admin_email.as_str());
    assert_eq!(preview["email"], "dana@acme.test");
    let keys: Vec<&String> = preview.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["email", "expires_at", "inviter_name", "organization"]);

    let no_password = accept(&app, &token, None, None).await;
    let refused = expect_error(no_password, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(refused["errors"][0]["field"], "password");
    let weak = accept(&app, &token, None, Some(json!({"password": "short"}))).await;
    expect_error(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let created = accept(
        &app,
        &token,
        None,
        Some(json!({"name": "Dana", "password": NEW_PASSWORD})),
    )
    .await;
    let grant = body_of(created, StatusCode::CREATED).await;
    let user = &grant["user"];
    assert_eq!(user["email"], "dana@acme.test");
    assert_eq!(user["email_verified"], true, "accepting proved the address");
    assert_eq!(user["name"], "Dana");
    assert_eq!(user["org"]["slug"], "acme");
    assert_eq!(user["roles"], json!(["admin"]));
    assert_eq!(user["teams"][0]["slug"], "platform");
    assert_eq!(user["teams"][0]["role"], "maintainer");
    assert_eq!(user["domains"][0]["key"], "eng");
    let access = grant["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access)["roles"], json!(["admin"]));
    app.login_ok("dana@acme.test", NEW_PASSWORD).await;

    let spent = accept(&app, &token, None, Some(json!({"password": NEW_PASSWORD}))).await;
    expect_error(spent, StatusCode::NOT_FOUND, "not_found").await;
    let path = format!("/orgs/{}/invitations/{}", acme.id, invitation["id"].as_str().unwrap());
    let after = app.expect("GET", &path, &acme.admin_token, None, StatusCode::OK).await;
    assert_eq!(after["status"], "accepted");
    assert_eq!(after["accepted_by"], user["id"]);

    let subjects = subjects(&app).await;
    for action in ["invitation.created", "invitation.accepted", "membership.changed"] {
        let subject = format!("auth.org.{}.{action}", acme.id);
        assert!(subjects.contains(&subject), "{subject} in {subjects:?}");
    }
    let root = app.superuser_token().await;
    let audit = app
        .expect("GET", "/admin/audit?limit=200", &root, None, StatusCode::OK)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"invitation.create") && actions.contains(&"invitation.accept"),
        "{actions:?}"
    );
}

pub(crate) async fn body_of(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let value = body(response).await;
    assert_eq!(got, status, "{value}");
    value
}

#[tokio::test]
async fn a_verified_account_logs_in_first_and_accepts_with_its_bearer() {
    let (app, mut mail) = app_with_mail().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    app.user_in(&globex.admin_token, &globex.id, "ada@globex.test", &["member"])
        .await;
    app.user_in(&globex.admin_token, &globex.id, "bob@globex.test", &["member"])
        .await;
    let (_, token) = invite(&app, &acme, &mut mail, json!({"email": "ada@globex.test"})).await;

    let anonymous = accept(&app, &token, None, Some(json!({"password": NEW_PASSWORD}))).await;
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "login_required").await;
    app.login_ok("ada@globex.test", PASSWORD).await;

    let bob = app.token_in("bob@globex.test", "globex").await;
    let other = accept(&app, &token, Some(&bob), None).await;
    expect_error(other, StatusCode::FORBIDDEN, "invitation_email_mismatch").await;

    let ada = app.token_in("ada@globex.test", "globex").await;
    let joined = body_of(accept(&app, &token, Some(&ada), None).await, StatusCode::OK).await;
    assert_eq!(joined["organization"]["slug"], "acme");
    assert_eq!(joined["roles"], json!(["member"]));
    let in_acme = app.token_in("ada@globex.test", "acme").await;
    assert_eq!(claims_of(&in_acme)["org"]["slug"], "acme");
    assert_eq!(app.me_status(&ada).await, StatusCode::OK, "her session goes on");
}

#[tokio::test]
async fn accepting_takes_over_an_unverified_account_and_ends_its_sessions() {
    let (app, mut mail) = app_with_mail().await;
    let acme = app.create_org("acme").await;
    // Someone registered Dana's address before she was invited.
    let squatter = app.register("dana@acme.test").await;
    let (squatter_access, squatter_refresh) = tokens(&squatter);
    let (_, token) = invite(
        &app,
        &acme,
        &mut mail,
        json!({"email": "dana@acme.test", "roles": ["member"]}),
    )
    .await;

    let no_password = accept(&app, &token, None, Some(json!({"name": "Dana"}))).await;
    let refused = expect_error(no_password, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(refused["errors"][0]["field"], "password");
    assert_eq!(
        app.me_status(&squatter_access).await,
        StatusCode::OK,
        "nothing changed yet"
    );

    let taken = accept(
        &app,
        &token,
        None,
        Some(json!({"name": "Dana", "password": NEW_PASSWORD})),
    )
    .await;
    let grant = body_of(taken, StatusCode::OK).await;
    assert_eq!(grant["user"]["id"], squatter["user"]["id"], "the same account");
    assert_eq!(grant["user"]["email_verified"], true);
    assert_eq!(grant["user"]["name"], "Dana");
    assert_eq!(grant["user"]["org"]["slug"], "acme");
    assert_eq!(
        app.me_status(&squatter_access).await,
        StatusCode::UNAUTHORIZED,
        "earlier sessions end"
    );
    assert_eq!(app.refresh(&squatter_refresh).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login("dana@acme.test", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login_ok("dana@acme.test", NEW_PASSWORD).await;
    let (access, _) = tokens(&grant);
    assert_eq!(app.me_status(&access).await, StatusCode::OK, "the new session lives");
}
