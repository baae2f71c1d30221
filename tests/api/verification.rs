//! Email verification: registration and an admin's email change mail a single-use token over
//! real SMTP; verifying, resending (paced), tokens that do not work, and
//! `AUTH_REQUIRE_EMAIL_VERIFICATION` refusing unverified password logins after the password.
use crate::helpers::*;
use crate::mail::{Received, VERIFY_SUBJECT, next_mail_about, no_mail, smtp_sink, token_in};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

const LINK: &str = "https://app.acme.test/verify?token={token}";

async fn app_with_mail(require: bool) -> (TestApp, UnboundedReceiver<Received>) {
    let (url, mail) = smtp_sink().await;
    let app = spawn_app_with(|s| {
        s.outbound.smtp_url = Some(url);
        s.consent.email_verify_url = Some(LINK.into());
        s.consent.require_email_verification = require;
    })
    .await;
    (app, mail)
}

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/auth/email/verify", &json!({"token": token})).await
}

async fn me(app: &TestApp, token: &str) -> Value {
    body(app.get_with("/auth/me", token).await).await
}

#[tokio::test]
async fn registration_mails_a_single_use_token_that_verifies_the_address() {
    let (app, mut mail) = app_with_mail(false).await;
    let registered = app.register("ada@acme.test").await;
    assert_eq!(registered["user"]["email_verified"], false);
    let (access, _) = tokens(&registered);
    let message = next_mail_about(&mut mail, VERIFY_SUBJECT).await;
    assert_eq!(message.recipients, ["ada@acme.test"]);
    let token = token_in(&message.data);
    assert!(
        message.data.contains(&LINK.replace("{token}", &token)),
        "{}",
        message.data
    );

    let unknown = expect_error(verify(&app, &"A".repeat(43)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(me(&app, &access).await["email_verified"], false);
    let verified = body(verify(&app, &token).await).await;
    assert_eq!(verified, json!({"email": "ada@acme.test", "email_verified": true}));
    assert_eq!(
        me(&app, &access).await["email_verified"],
        true,
        "the cached context moved too"
    );
    let used = expect_error(verify(&app, &token).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(used["detail"], unknown["detail"], "one shape");
    let resend = app.post_with("/auth/email/verify/resend", &access).await;
    expect_error(resend, StatusCode::CONFLICT, "email_already_verified").await;
}

#[tokio::test]
async fn tokens_expire_and_a_resend_is_paced_and_replaces_the_old_token() {
    let (app, mut mail) = app_with_mail(false).await;
    let (access, _) = tokens(&app.register("bob@acme.test").await);
    let first = token_in(&next_mail_about(&mut mail, VERIFY_SUBJECT).await.data);

    let resend = app.post_with("/auth/email/verify/resend", &access).await;
    assert_eq!(resend.status(), StatusCode::ACCEPTED);
    let second = token_in(&next_mail_about(&mut mail, VERIFY_SUBJECT).await.data);
    assert_ne!(first, second);
    let again = app.post_with("/auth/email/verify/resend", &access).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED, "the same answer when paced");
    no_mail(&mut mail, Duration::from_millis(300)).await;
    expect_error(verify(&app, &first).await, StatusCode::NOT_FOUND, "not_found").await;

    app.advance(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    expect_error(verify(&app, &second).await, StatusCode::NOT_FOUND, "not_found").await;
    // Without a bearer, by address: the same answer for an unknown one.
    for email in ["bob@acme.test", "nobody@acme.test"] {
        let by_email = app
            .post_json("/auth/email/verify/resend", &json!({"email": email}))
            .await;
        assert_eq!(by_email.status(), StatusCode::ACCEPTED, "{email}");
    }
    let third = next_mail_about(&mut mail, VERIFY_SUBJECT).await;
    assert_eq!(third.recipients, ["bob@acme.test"]);
    no_mail(&mut mail, Duration::from_millis(300)).await;
    assert_eq!(verify(&app, &token_in(&third.data)).await.status(), StatusCode::OK);
    let nobody = app.post_json("/auth/email/verify/resend", &json!({})).await;
    expect_error(nobody, StatusCode::UNAUTHORIZED, "not_authenticated").await;
}

#[tokio::test]
async fn with_verification_required_an_unverified_login_is_refused_after_its_password() {
    let (app, mut mail) = app_with_mail(true).await;
    app.register("cy@acme.test").await;
    let token = token_in(&next_mail_about(&mut mail, VERIFY_SUBJECT).await.data);
    let wrong = app.login("cy@acme.test", "not the password").await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let refused = app.login("cy@acme.test", PASSWORD).await;
    expect_error(refused, StatusCode::FORBIDDEN, "email_not_verified").await;
    let grant = app.password_grant("cy@acme.test", PASSWORD).await;
    expect_error(grant, StatusCode::FORBIDDEN, "email_not_verified").await;
    assert_eq!(verify(&app, &token).await.status(), StatusCode::OK);
    app.login_ok("cy@acme.test", PASSWORD).await;
    app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn an_admin_changing_an_address_mails_the_new_one() {
    let (app, mut mail) = app_with_mail(false).await;
    let acme = app.create_org("acme").await;
    let created = app
        .expect(
            "POST",
            "/admin/users",
            &acme.admin_token,
            Some(json!({"email": "dee@acme.test", "password": PASSWORD})),
            StatusCode::CREATED,
        )
        .await;
    let path = format!("/admin/users/{}", created["id"].as_str().unwrap());
    let changed = app
        .expect(
            "PATCH",
            &path,
            &acme.admin_token,
            Some(json!({"email": "dee@new.test"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(changed["email_verified"], false);
    let message = next_mail_about(&mut mail, VERIFY_SUBJECT).await;
    assert_eq!(message.recipients, ["dee@new.test"]);
    let token = token_in(&message.data);
    // Changed again before it was used: the old address's token proves nothing.
    app.expect(
        "PATCH",
        &path,
        &acme.admin_token,
        Some(json!({"email": "dee@other.test"})),
        StatusCode::OK,
    )
    .await;
    let newest = token_in(&next_mail_about(&mut mail, VERIFY_SUBJECT).await.data);
    expect_error(verify(&app, &token).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(verify(&app, &newest).await.status(), StatusCode::OK);
    let seen = app.expect("GET", &path, &acme.admin_token, None, StatusCode::OK).await;
    assert_eq!(seen["email_verified"], true);
    // A superuser's change is proven by the superuser: no mail.
    let root = app.superuser_token().await;
    app.expect(
        "PATCH",
        &path,
        &root,
        Some(json!({"email": "dee@root.test"})),
        StatusCode::OK,
    )
    .await;
    no_mail(&mut mail, Duration::from_millis(300)).await;
}
