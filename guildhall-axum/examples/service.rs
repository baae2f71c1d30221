//! A tiny service behind guildhall: `GET /whoami` answers the caller as JSON, `GET /posts`
//! needs the permission `read:posts`, `GET /fresh` answers the caller as guildhall sees them now.
//!
//! ```sh
//! GUILDHALL_ISSUER=http://localhost:8001 PORT=3000 cargo run -p guildhall-axum --example service
//! curl -s localhost:3000/whoami -H "authorization: Bearer $ACCESS_TOKEN"
//! ```
//!
//! `GUILDHALL_URL` reaches guildhall somewhere other than its issuer; `GUILDHALL_AUDIENCE`
//! overrides the expected `aud` (`guildhall`).
use axum::routing::get;
use axum::{Json, Router};
use guildhall_axum::{Fresh, Guildhall, UserContext, require_permission};
use serde_json::{Value, json};

/// The service's routes, around a configured [`Guildhall`].
pub fn app(guildhall: Guildhall) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/posts", get(posts).route_layer(require_permission("read:posts")))
        .route("/fresh", get(fresh))
        .layer(guildhall.layer())
}

async fn whoami(user: UserContext) -> Json<UserContext> {
    Json(user)
}

async fn posts(user: UserContext) -> Json<Value> {
    Json(json!({
        "org": user.org.slug,
        "posts": [{"id": 1, "title": "Hello from guildhall-axum"}],
    }))
}

async fn fresh(Fresh(user): Fresh<UserContext>) -> Json<UserContext> {
    Json(user)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let issuer = env("GUILDHALL_ISSUER").unwrap_or_else(|| "http://localhost:8001".to_owned());
    let port: u16 = env("PORT").map(|p| p.parse()).transpose()?.unwrap_or(3000);
    let mut builder = Guildhall::builder(issuer);
    if let Some(base) = env("GUILDHALL_URL") {
        builder = builder.base_url(base);
    }
    if let Some(audience) = env("GUILDHALL_AUDIENCE") {
        builder = builder.audience(audience);
    }
    let guildhall = builder.build()?;
    // Not fatal: the keys are fetched again with the first token.
    if let Err(error) = guildhall.discover().await {
        eprintln!("guildhall is not reachable yet: {error}");
    }
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app(guildhall)).await?;
    Ok(())
}
