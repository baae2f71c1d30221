//! Invitations under bad input and abuse: tokens that do not work (one 404), other
//! organisations' invitations, conflicts and refusals that write nothing, pacing per address, two
//! accepts at once, and a failed accept leaving the invitation as it was.
use crate::helpers::*;
use crate::invitations::{
    NEW_PASSWORD, accept, app_with_mail, app_with_mail_and, body_of, invitation_mail, invite, subjects,
};
use crate::mail::{no_mail, token_in};
use guildhall::store::Conn;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn tokens_that_do_not_work_are_one_404() {
    let (app, mut mail) = app_with_mail().await;
    let acme = app.create_org("acme").await;
    let (revoked, revoked_token) = invite(&app, &acme, &mut mail, json!({"email": "r@x.test"})).await;
    let path = format!("/orgs/{}/invitations/{}", acme.id, revoked["id"].as_str().unwrap());
    app.expect("DELETE", &path, &acme.admin_token, None, StatusCode::NO_CONTENT)
        .await;
    app.expect("DELETE", &path, &acme.admin_token, None, StatusCode::CONFLICT)
        .await;
    let (_, used_token) = invite(&app, &acme, &mut mail, json!({"email": "u@x.test"})).await;
    body_of(
        accept(&app, &used_token, None, Some(json!({"password": NEW_PASSWORD}))).await,
        StatusCode::CREATED,
    )
    .await;
    let (_, expiring) = invite(&app, &acme, &mut mail, json!({"email": "e@x.test", "expires_in": 3600})).await;
    app.advance(chrono::Duration::seconds(3601));

    let mut shapes = Vec::new();
    for (what, token) in [
        ("unknown", "A".repeat(43)),
        ("revoked", revoked_token),
        ("used", used_token),
        ("expired", expiring),
    ] {
        let preview = expect_error(
            app.get(&format!("/invitations/{token}")).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        let accepted = accept(&app, &token, None, Some(json!({"password": NEW_PASSWORD}))).await;
        let accepted = expect_error(accepted, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(preview["detail"], accepted["detail"], "{what}");
        shapes.push(preview["detail"].clone());
    }
    assert!(shapes.windows(2).all(|w| w[0] == w[1]), "one shape: {shapes:?}");
    assert_eq!(
        app.login("e@x.test", NEW_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED,
        "no account"
    );
    let admin = app.token_in(&acme.admin_email, "acme").await;
    let listed = app
        .expect(
            "GET",
            &format!("/orgs/{}/invitations?status=expired", acme.id),
            &admin,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["email"], "e@x.test");
}

#[tokio::test]
async fn other_organisations_invitations_are_not_found() {
    let (app, mut mail) = app_with_mail().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let (invitation, _) = invite(&app, &acme, &mut mail, json!({"email": "dana@x.test"})).await;
    let id = invitation["id"].as_str().unwrap();
    let t = &globex.admin_token;
    for org in [&globex.id, &acme.id] {
        let path = format!("/orgs/{org}/invitations/{id}");
        expect_error(
            app.send("GET", &path, t, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_error(
            app.send("DELETE", &path, t, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        let resend = app.send("POST", &format!("{path}/resend"), t, None).await;
        expect_error(resend, StatusCode::NOT_FOUND, "not_found").await;
    }
    let mine = app
        .expect(
            "GET",
            &format!("/orgs/{}/invitations", globex.id),
            t,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(mine["items"], json!([]));
    let member = app
        .user_in(&acme.admin_token, &acme.id, "m@acme.test", &["member"])
        .await;
    let _ = member;
    let member_token = app.token_in("m@acme.test", "acme").await;
    let listed = app
        .send("GET", &format!("/orgs/{}/invitations", acme.id), &member_token, None)
        .await;
    expect_error(listed, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn bad_invitations_are_refused_and_nothing_is_written() {
    let (app, mut mail) = app_with_mail().await;
    let acme = app.create_org("acme").await;
    app.create_team(&acme.admin_token, "platform").await;
    let admin = app
        .user_in(&acme.admin_token, &acme.id, "boss@acme.test", &["admin"])
        .await;
    let _ = admin;
    let admin_token = app.token_in("boss@acme.test", "acme").await;
    let path = format!("/orgs/{}/invitations", acme.id);
    let cases = [
        (json!({"email": "not an email"}), "email"),
        (json!({"email": "x@x.test", "roles": ["ghost"]}), "roles"),
        (json!({"email": "x@x.test", "teams": {"nope": "member"}}), "teams.nope"),
        (
            json!({"email": "x@x.test", "teams": {"platform": "boss"}}),
            "teams.platform",
        ),
        (json!({"email": "x@x.test", "domains": ["zz"]}), "domains"),
        (json!({"email": "x@x.test", "expires_in": 10}), "expires_in"),
        (json!({"email": "x@x.test", "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let refused = app.send("POST", &path, &acme.admin_token, Some(body.clone())).await;
        let refused = expect_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(refused["errors"][0]["field"], field, "{body}");
    }
    let owner = app
        .send(
            "POST",
            &path,
            &admin_token,
            Some(json!({"email": "o@x.test", "roles": ["owner"]})),
        )
        .await;
    expect_error(owner, StatusCode::FORBIDDEN, "forbidden").await;
    let member = app
        .send(
            "POST",
            &path,
            &acme.admin_token,
            Some(json!({"email": "boss@acme.test"})),
        )
        .await;
    expect_error(member, StatusCode::CONFLICT, "already_a_member").await;
    let listed = app.expect("GET", &path, &acme.admin_token, None, StatusCode::OK).await;
    assert_eq!(listed["items"], json!([]), "nothing written");
    no_mail(&mut mail, Duration::from_millis(300)).await;

    let (_, _) = invite(&app, &acme, &mut mail, json!({"email": "o@x.test", "roles": ["owner"]})).await;
    let again = app
        .send("POST", &path, &acme.admin_token, Some(json!({"email": "o@x.test"})))
        .await;
    expect_error(again, StatusCode::CONFLICT, "invitation_pending").await;
    // An invitation that makes an owner is an owner's to revoke.
    let listed = app.expect("GET", &path, &admin_token, None, StatusCode::OK).await;
    let id = listed["items"][0]["id"].as_str().unwrap();
    let revoke = app.send("DELETE", &format!("{path}/{id}"), &admin_token, None).await;
    expect_error(revoke, StatusCode::FORBIDDEN, "forbidden").await;
    let bad_status = app
        .send("GET", &format!("{path}?status=lost"), &acme.admin_token, None)
        .await;
    expect_error(bad_status, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn invite_and_resend_are_paced_per_address() {
    let (app, mut mail) = app_with_mail().await;
    let acme = app.create_org("acme").await;
    let path = format!("/orgs/{}/invitations", acme.id);
    let (first, old_token) = invite(&app, &acme, &mut mail, json!({"email": "p@x.test"})).await;
    let id = first["id"].as_str().unwrap();
    let resend = format!("{path}/{id}/resend");
    let paced = app.send("POST", &resend, &acme.admin_token, None).await;
    assert_eq!(paced.headers()["retry-after"], "60");
    expect_error(paced, StatusCode::TOO_MANY_REQUESTS, "mail_paced").await;
    app.expect(
        "DELETE",
        &format!("{path}/{id}"),
        &acme.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let reinvite = app
        .send("POST", &path, &acme.admin_token, Some(json!({"email": "p@x.test"})))
        .await;
    expect_error(reinvite, StatusCode::TOO_MANY_REQUESTS, "mail_paced").await;
    let listed = app.expect("GET", &path, &acme.admin_token, None, StatusCode::OK).await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "the paced one was not written"
    );
    no_mail(&mut mail, Duration::from_millis(300)).await;
    let other = app
        .send("POST", &path, &acme.admin_token, Some(json!({"email": "q@x.test"})))
        .await;
    assert_eq!(other.status(), StatusCode::CREATED, "per address");
    invitation_mail(&mut mail, "q@x.test").await;

    app.advance(chrono::Duration::seconds(60));
    let (second, second_token) = invite(&app, &acme, &mut mail, json!({"email": "p@x.test", "expires_in": 7200})).await;
    let resend = format!("{path}/{}/resend", second["id"].as_str().unwrap());
    app.advance(chrono::Duration::seconds(3000));
    let admin = app.token_in(&acme.admin_email, "acme").await;
    let renewed = app.expect("POST", &resend, &admin, None, StatusCode::ACCEPTED).await;
    let new_token = token_in(&invitation_mail(&mut mail, "p@x.test").await.data);
    for stale in [&old_token, &second_token] {
        let stale = app.get(&format!("/invitations/{stale}")).await;
        expect_error(stale, StatusCode::NOT_FOUND, "not_found").await;
    }
    body_of(app.get(&format!("/invitations/{new_token}")).await, StatusCode::OK).await;
    let sent = chrono::DateTime::parse_from_rfc3339(renewed["sent_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(renewed["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        (expires - sent).num_seconds(),
        7200,
        "a fresh expiry of the same length"
    );
}

#[tokio::test]
async fn of_two_concurrent_accepts_exactly_one_succeeds() {
    // Both hash the new password before racing for the invitation: on a loaded machine (the whole
    // suite on two cores) they may queue for the hashing thread longer than admission's default.
    let (app, mut mail) = app_with_mail_and(|s| s.limits.hash_max_wait_ms = 60_000).await;
    let acme = app.create_org("acme").await;
    for round in 0..3 {
        let email = format!("twice{round}@x.test");
        let (_, token) = invite(&app, &acme, &mut mail, json!({"email": email})).await;
        let body = json!({"password": NEW_PASSWORD});
        let (a, b) = tokio::join!(
            accept(&app, &token, None, Some(body.clone())),
            accept(&app, &token, None, Some(body.clone()))
        );
        let mut answers = [
            (a.status(), a.text().await.unwrap()),
            (b.status(), b.text().await.unwrap()),
        ];
        answers.sort();
        let statuses = [answers[0].0, answers[1].0];
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::NOT_FOUND],
            "round {round}: {answers:?}"
        );
        assert!(
            answers[1].1.contains("\"not_found\""),
            "the loser's token is gone: {answers:?}"
        );
    }
    let members = app
        .expect(
            "GET",
            &format!("/orgs/{}/members", acme.id),
            &acme.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(members["total"], 4, "the owner and three, once each");
    let accepted = subjects(&app)
        .await
        .iter()
        .filter(|s| s.ends_with(".invitation.accepted"))
        .count();
    assert_eq!(accepted, 3);
}

#[tokio::test]
async fn an_invitation_brings_back_a_removed_member_and_a_failed_accept_writes_nothing() {
    let (app, mut mail) = app_with_mail().await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    let ada = app
        .user_in(&globex.admin_token, &globex.id, "ada@globex.test", &["member"])
        .await;
    app.user_in(&acme.admin_token, &acme.id, "ada@globex.test", &["member"])
        .await;
    let member = format!("/orgs/{}/members/{ada}", acme.id);
    let before = removed(&app).await;
    app.expect("DELETE", &member, &acme.admin_token, None, StatusCode::NO_CONTENT)
        .await;
    assert_eq!(removed(&app).await, before + 1);

    let (invitation, token) = invite(&app, &acme, &mut mail, json!({"email": "ada@globex.test"})).await;
    // Added directly meanwhile: accepting fails, and leaves the invitation as it was.
    app.expect(
        "POST",
        &format!("/orgs/{}/members", acme.id),
        &acme.admin_token,
        Some(json!({"email": "ada@globex.test"})),
        StatusCode::CREATED,
    )
    .await;
    let ada_token = app.token_in("ada@globex.test", "globex").await;
    let conflict = accept(&app, &token, Some(&ada_token), None).await;
    expect_error(conflict, StatusCode::CONFLICT, "already_a_member").await;
    let path = format!("/orgs/{}/invitations/{}", acme.id, invitation["id"].as_str().unwrap());
    let still = app.expect("GET", &path, &acme.admin_token, None, StatusCode::OK).await;
    assert_eq!(still["status"], "pending", "nothing half-written");
    assert!(!subjects(&app).await.iter().any(|s| s.ends_with(".invitation.accepted")));

    app.expect("DELETE", &member, &acme.admin_token, None, StatusCode::NO_CONTENT)
        .await;
    let joined = body_of(accept(&app, &token, Some(&ada_token), None).await, StatusCode::OK).await;
    assert_eq!(joined["organization"]["slug"], "acme");
    assert_eq!(removed(&app).await, before, "the removal is forgotten");
}

/// How many removals an admin made are remembered.
async fn removed(app: &TestApp) -> i64 {
    let db = app.handle.db();
    let sql = "SELECT COUNT(*) AS n FROM removed_members";
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}
