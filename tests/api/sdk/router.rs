//! The example service's router (`guildhall-axum/examples/service.rs`, compiled in here)
//! answering real guildhall tokens: 401 without one, 403 without the permission, 200 with it.
use super::*;
use axum::body::Body;
use axum::http::{Request, header};
use tower::ServiceExt;

#[allow(dead_code)]
#[path = "../../../guildhall-axum/examples/service.rs"]
mod example;

/// Status, `WWW-Authenticate` and JSON body of `GET path` on the example router.
async fn get(router: &axum::Router, path: &str, token: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, challenge, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn sdk_example_router_answers_401_403_and_200() {
    let app = spawn_at_own_address(|_| {}).await;
    let acme = acme_with_ada(&app).await;
    let member = app.token_in("ada@example.test", "acme").await;
    let guildhall = Guildhall::builder(&app.address)
        .clock(app_clock(&app, chrono::Duration::zero()))
        .build()
        .unwrap();
    let router = example::app(guildhall);

    let (status, challenge, body) = get(&router, "/posts", None).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Bearer"))
    );
    assert_eq!(body["error"], "missing_token", "{body}");
    assert!(body["detail"].is_string());

    let forged = with_claims(&member, |c| c["permissions"] = json!(["read:posts"]));
    let (status, challenge, body) = get(&router, "/posts", Some(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some(r#"Bearer error="invalid_token""#));
    assert_eq!(body["error"], "invalid_signature", "{body}");

    let (status, challenge, body) = get(&router, "/posts", Some(&member)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "forbidden");
    assert!(body["detail"].as_str().unwrap().contains("read:posts"), "{body}");
    assert_eq!(challenge.as_deref(), Some(r#"Bearer error="insufficient_scope""#));

    let (status, _, whoami) = get(&router, "/whoami", Some(&member)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami["user_id"], acme.ada.as_str());
    assert_eq!(whoami["email"], "ada@example.test");
    assert_eq!(whoami["org"]["slug"], "acme");
    assert_eq!(whoami["source"], "local");

    // A custom role with read:posts, assigned: a new token passes the guard.
    app.expect(
        "POST",
        &format!("/orgs/{}/roles", acme.org.id),
        &acme.org.admin_token,
        Some(json!({"key": "reader", "permissions": ["read:posts"]})),
        StatusCode::CREATED,
    )
    .await;
    set_roles(&app, &acme, &["member", "reader"]).await;
    let reader = app.token_in("ada@example.test", "acme").await;
    let (status, _, posts) = get(&router, "/posts", Some(&reader)).await;
    assert_eq!(status, StatusCode::OK, "{posts}");
    assert_eq!(posts["org"], "acme");

    // The old token still lacks it locally; /fresh shows the current roles.
    assert_eq!(get(&router, "/posts", Some(&member)).await.0, StatusCode::FORBIDDEN);
    let (status, _, fresh) = get(&router, "/fresh", Some(&member)).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(fresh["roles"], json!(["member", "reader"]));
    assert_eq!(fresh["source"], "validated");

    let service = service_token(&app, &acme.org).await;
    let (status, _, body) = get(&router, "/whoami", Some(&service)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_a_user_token"))
    );

    assert_eq!(
        app.post_with("/auth/logout", &member).await.status(),
        StatusCode::NO_CONTENT
    );
    let (status, challenge, body) = get(&router, "/fresh", Some(&member)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "session_revoked");
    assert_eq!(challenge.as_deref(), Some(r#"Bearer error="invalid_token""#));
}

#[tokio::test]
async fn sdk_router_answers_503_when_guildhall_is_unreachable() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let guildhall = sdk(&app).base_url(format!("http://{closed}")).build().unwrap();
    let router = example::app(guildhall);

    let (status, challenge, body) = get(&router, "/whoami", Some(&token)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(challenge, None);
    assert_eq!(body["error"], "guildhall_unavailable");
    assert!(
        !body["detail"].as_str().unwrap().contains("127.0.0.1"),
        "the cause stays in the log: {body}"
    );
}

#[tokio::test]
async fn sdk_extractors_without_the_layer_answer_500() {
    async fn whoami(user: guildhall_axum::UserContext) -> String {
        user.email
    }
    let router = axum::Router::new().route("/whoami", axum::routing::get(whoami));
    let (status, _, body) = get(&router, "/whoami", Some("a.b.c")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], "guildhall_not_configured");
}
