//! Refresh rotation, reuse detection, logout and session management.
use crate::helpers::*;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn refresh_rotates_and_the_old_token_is_spent() {
    let app = spawn_app().await;
    let (access, refresh) = tokens(&app.register("ada@acme.test").await);
    let response = app.refresh(&refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (new_access, new_refresh) = tokens(&body(response).await);
    assert_ne!(new_refresh, refresh);
    assert_ne!(new_access, access);
    assert_eq!(app.me_status(&new_access).await, StatusCode::OK);
    let rotated = app.refresh(&new_refresh).await;
    assert_eq!(rotated.status(), StatusCode::OK, "the new refresh token works once");
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    let (_, first) = tokens(&app.register("ada@acme.test").await);
    let (access, second) = tokens(&body(app.refresh(&first).await).await);
    expect_error(app.refresh(&first).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    expect_error(app.refresh(&second).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    let me = app.get_with("/auth/me", &access).await;
    assert!(me.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    expect_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn of_twenty_concurrent_refreshes_exactly_one_succeeds() {
    let app = spawn_app().await;
    let (_, refresh) = tokens(&app.register("ada@acme.test").await);
    let attempts = (0..20).map(|_| {
        let client = app.client.clone();
        let url = app.url("/auth/refresh");
        let body = json!({"refresh_token": refresh});
        tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status() })
    });
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
}

/// Sends every body to `/auth/refresh` at once; the answers in the same order.
async fn refresh_all(app: &TestApp, bodies: Vec<serde_json::Value>) -> Vec<(StatusCode, serde_json::Value)> {
    let attempts: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let client = app.client.clone();
            let url = app.url("/auth/refresh");
            tokio::spawn(async move {
                let response = client.post(url).json(&body).send().await.unwrap();
                (response.status(), response.json().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.unwrap());
    }
    answers
}

#[tokio::test]
async fn refreshes_at_once_are_each_answered_on_their_own() {
    // Many refreshes at the same moment (on SQLite one transaction commits them together): a
    // reused token revokes its own session only, a refused switch spends nothing, a good
    // token rotates, whatever else was committed beside them.
    let app = spawn_app().await;
    let mut bodies = Vec::new();
    let mut cases = Vec::new();
    for i in 0..4 {
        let (_, first) = tokens(&app.register(&format!("reuse{i}@acme.test")).await);
        let (_, second) = tokens(&body(app.refresh(&first).await).await);
        bodies.push(json!({"refresh_token": first}));
        cases.push(("reuse", second));
        let (_, good) = tokens(&app.register(&format!("good{i}@acme.test")).await);
        bodies.push(json!({"refresh_token": good}));
        cases.push(("good", good.clone()));
        let (_, refused) = tokens(&app.register(&format!("switch{i}@acme.test")).await);
        bodies.push(json!({"refresh_token": refused, "organization": "nowhere"}));
        cases.push(("switch", refused));
        let (_, ended) = tokens(&app.register(&format!("ended{i}@acme.test")).await);
        let logout = app.post_json("/auth/logout", &json!({"refresh_token": ended})).await;
        assert!(logout.status().is_success(), "{}", logout.status());
        bodies.push(json!({"refresh_token": ended}));
        cases.push(("ended", ended));
        // The same token twice in the same moment: one rotates, the other is reuse.
        let (_, twice) = tokens(&app.register(&format!("twice{i}@acme.test")).await);
        bodies.push(json!({"refresh_token": twice}));
        bodies.push(json!({"refresh_token": twice}));
        cases.push(("twice", twice.clone()));
        cases.push(("twice", twice));
    }
    let answers = refresh_all(&app, bodies).await;
    let mut twice = Vec::new();
    for ((case, token), (status, answer)) in cases.into_iter().zip(answers) {
        match case {
            "twice" => twice.push((status, answer)),
            "ended" => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {answer}");
                assert_eq!(answer["error"], "invalid_grant", "{case}");
            }
            "reuse" => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {answer}");
                assert_eq!(answer["error"], "invalid_grant", "{case}");
                let next = app.refresh(&token).await;
                assert_eq!(
                    next.status(),
                    StatusCode::UNAUTHORIZED,
                    "{case}: the session is revoked"
                );
            }
            "good" => {
                assert_eq!(status, StatusCode::OK, "{case}: {answer}");
                let (access, rotated) = tokens(&answer);
                assert_eq!(app.me_status(&access).await, StatusCode::OK, "{case}");
                assert_eq!(
                    app.refresh(&rotated).await.status(),
                    StatusCode::OK,
                    "{case}: the new token works"
                );
                let again = app.refresh(&token).await;
                expect_error(again, StatusCode::UNAUTHORIZED, "invalid_grant").await;
            }
            _ => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{case}: {answer}");
                assert_eq!(answer["error"], "not_a_member", "{case}");
                let next = app.refresh(&token).await;
                assert_eq!(
                    next.status(),
                    StatusCode::OK,
                    "{case}: the refused switch spent nothing"
                );
            }
        }
    }
    for pair in twice.chunks(2) {
        let ok: Vec<_> = pair.iter().filter(|(status, _)| *status == StatusCode::OK).collect();
        assert_eq!(ok.len(), 1, "one of a token's two presentations rotates: {pair:?}");
        let other = pair.iter().find(|(status, _)| *status != StatusCode::OK);
        assert_eq!(
            other.map(|(status, _)| *status),
            Some(StatusCode::UNAUTHORIZED),
            "{pair:?}"
        );
        let (_, rotated) = tokens(&ok[0].1);
        assert_eq!(
            app.refresh(&rotated).await.status(),
            StatusCode::UNAUTHORIZED,
            "the second presentation was reuse: the session is revoked"
        );
    }
}

#[tokio::test]
async fn unknown_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    expect_error(
        app.refresh("not-a-token").await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn access_tokens_expire_and_sessions_have_an_absolute_lifetime() {
    let app = spawn_app_with(|s| {
        s.access_token_ttl = 300;
        s.refresh_token_ttl = 7200;
        s.session_max_lifetime = 3600;
    })
    .await;
    let (access, refresh) = tokens(&app.register("ada@acme.test").await);
    app.advance(Duration::seconds(300 + 31));
    expect_error(
        app.get_with("/auth/me", &access).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let (_, refresh) = tokens(&body(app.refresh(&refresh).await).await);
    app.advance(Duration::seconds(3600));
    expect_error(app.refresh(&refresh).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn refresh_tokens_expire() {
    let app = spawn_app_with(|s| s.refresh_token_ttl = 600).await;
    let (_, refresh) = tokens(&app.register("ada@acme.test").await);
    app.advance(Duration::seconds(601));
    expect_error(app.refresh(&refresh).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn logout_ends_the_session_by_bearer_or_refresh_token() {
    let app = spawn_app().await;
    let (access, refresh) = tokens(&app.register("ada@acme.test").await);
    assert_eq!(
        app.post_with("/auth/logout", &access).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.me_status(&access).await, StatusCode::UNAUTHORIZED);
    expect_error(app.refresh(&refresh).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;

    let (access, refresh) = tokens(&app.login_ok("ada@acme.test", PASSWORD).await);
    let response = app.post_json("/auth/logout", &json!({"refresh_token": refresh})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me_status(&access).await, StatusCode::UNAUTHORIZED);
    expect_error(
        app.post_json("/auth/logout", &json!({})).await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
    )
    .await;
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_only() {
    let app = spawn_app().await;
    let (first, _) = tokens(&app.register("ada@acme.test").await);
    let (second, second_refresh) = tokens(&app.login_ok("ada@acme.test", PASSWORD).await);
    let (other, _) = tokens(&app.register("bob@acme.test").await);
    let response = app.post_with("/auth/logout-all", &first).await;
    assert_eq!(body(response).await, json!({"revoked": 2}));
    assert_eq!(app.me_status(&first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(&second_refresh).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&other).await, StatusCode::OK);
}

#[tokio::test]
async fn users_list_and_revoke_their_own_sessions_only() {
    let app = spawn_app().await;
    let (first, _) = tokens(&app.register("ada@acme.test").await);
    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("user-agent", "phone/1.0")
        .json(&json!({"email": "ada@acme.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let (second, _) = tokens(&body(response).await);
    let list = body(app.get_with("/auth/sessions", &first).await).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let phone = sessions
        .iter()
        .find(|s| s["user_agent"] == "phone/1.0")
        .expect("the phone session");
    assert_eq!(phone["current"], false);
    assert_eq!(phone["ip"], "127.0.0.1");
    let phone_id = phone["id"].as_str().unwrap();

    let (bob, _) = tokens(&app.register("bob@acme.test").await);
    let response = app
        .client
        .delete(app.url(&format!("/auth/sessions/{phone_id}")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        app.me_status(&second).await,
        StatusCode::OK,
        "another user cannot revoke it"
    );
    let response = app
        .client
        .delete(app.url("/auth/sessions/not-a-uuid"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let response = app
        .client
        .delete(app.url(&format!("/auth/sessions/{phone_id}")))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me_status(&second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&first).await, StatusCode::OK);
    let list = body(app.get_with("/auth/sessions", &first).await).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn protected_routes_need_a_bearer_token() {
    let app = spawn_app().await;
    for path in ["/auth/me", "/auth/sessions"] {
        let response = app.get(path).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let b = expect_error(response, StatusCode::UNAUTHORIZED, "not_authenticated").await;
        assert_eq!(b["detail"], "Not authenticated");
    }
    let response = app.client.post(app.url("/auth/logout-all")).send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "not_authenticated").await;
    expect_error(
        app.get_with("/auth/me", "garbage").await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}
