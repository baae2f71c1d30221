use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn liveness_routes_answer_ok() {
    let app = spawn_app().await;
    for path in ["/health", "/healthz", "/readyz"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(body(response).await, json!({"status": "ok"}), "{path}");
    }
    assert_eq!(
        body(app.get("/").await).await,
        json!({"message": "authentication service is running"})
    );
}

#[tokio::test]
async fn readiness_fails_with_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.handle.close_database().await.unwrap();
    expect_error(app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::OK,
        "liveness does not depend on the database"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_error_shape() {
    let app = spawn_app().await;
    expect_error(app.get("/nope").await, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.client.delete(app.url("/auth/login")).send().await.unwrap();
    expect_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn a_client_request_id_is_kept() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    assert_eq!(body(response).await["request_id"], "abc-123");
}
