//! Seed 000 (DAARION): its smoke-test flow on `/api/auth/*`, its token claims, its environment
//! names, and Matrix provisioning against a fake Synapse that checks the registration MAC.
use crate::helpers::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

const SECRET: &str = "the synapse registration shared secret";

/// HMAC-SHA1 written out from SHA-1 (RFC 2104), independent of the server's HMAC.
fn hmac_sha1_hex(key: &[u8], message: &[u8]) -> String {
    use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY as SHA1, digest};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..20].copy_from_slice(digest(&SHA1, key).as_ref());
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = digest(&SHA1, &[pad(0x36), message.to_vec()].concat());
    let outer = digest(&SHA1, &[pad(0x5c), inner.as_ref().to_vec()].concat());
    outer.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Default)]
struct Synapse {
    nonces: Mutex<HashSet<String>>,
    /// Localparts registered, with the display name and admin flag they were registered with.
    registered: Mutex<Vec<(String, String, bool)>>,
    /// Requests refused for a bad MAC or an unknown nonce.
    refused: Mutex<u32>,
}

/// A fake Synapse admin API on 127.0.0.1 that really checks nonces and MACs.
async fn fake_synapse(taken: &[&str]) -> (String, Arc<Synapse>) {
    let state = Arc::new(Synapse::default());
    for name in taken {
        state
            .registered
            .lock()
            .unwrap()
            .push(((*name).into(), "someone".into(), false));
    }
    async fn nonce(State(s): State<Arc<Synapse>>) -> Json<Value> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        s.nonces.lock().unwrap().insert(nonce.clone());
        Json(json!({"nonce": nonce}))
    }
    async fn register(State(s): State<Arc<Synapse>>, Json(b): Json<Value>) -> (AxumStatus, Json<Value>) {
        let field = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
        let admin = b["admin"].as_bool().unwrap_or(false);
        let message = [
            field("nonce"),
            field("username"),
            field("password"),
            (if admin { "admin" } else { "notadmin" }).into(),
        ]
        .join("\0");
        let nonce_ok = s.nonces.lock().unwrap().remove(&field("nonce"));
        if !nonce_ok || hmac_sha1_hex(SECRET.as_bytes(), message.as_bytes()) != field("mac") {
            *s.refused.lock().unwrap() += 1;
            return (
                AxumStatus::FORBIDDEN,
                Json(json!({"errcode": "M_FORBIDDEN", "error": "HMAC incorrect"})),
            );
        }
        let mut registered = s.registered.lock().unwrap();
        if registered.iter().any(|(name, ..)| *name == field("username")) {
            return (
                AxumStatus::BAD_REQUEST,
                Json(json!({"errcode": "M_USER_IN_USE", "error": "User ID already taken."})),
            );
        }
        registered.push((field("username"), field("displayname"), admin));
        let user_id = format!("@{}:daarion.test", field("username"));
        (
            AxumStatus::OK,
            Json(json!({"user_id": user_id, "access_token": "syt_x", "home_server": "daarion.test", "device_id": "D"})),
        )
    }
    let router = axum::Router::new()
        .route("/_synapse/admin/v1/register", get(nonce).post(register))
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, state)
}

async fn daarion_app(synapse_url: Option<&str>, secret: &str) -> TestApp {
    let url = synapse_url.map(String::from);
    let secret = secret.to_owned();
    spawn_app_with(move |s| {
        s.issuer = Some("daarion-auth".into());
        s.outbound.synapse_admin_url = url.clone();
        s.outbound.synapse_registration_secret = url.map(|_| secret);
    })
    .await
}

const USER: &str = "user@daarion.space";
const USER_PASSWORD: &str = "Password123!";

#[tokio::test]
async fn the_smoke_test_flow_works_and_provisions_matrix() {
    let (url, synapse) = fake_synapse(&[]).await;
    let app = daarion_app(Some(&url), SECRET).await;
    assert_eq!(body(app.get("/healthz").await).await, json!({"status": "ok"}));

    // 1. Register.
    let registered = app
        .post_json(
            "/api/auth/register",
            &json!({"email": USER, "password": USER_PASSWORD, "display_name": "User"}),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registered = body(registered).await;
    assert_eq!(registered["matrix_user_id"], "@user:daarion.test");
    assert_eq!(registered["user"]["matrix_user_id"], "@user:daarion.test");
    assert_eq!(registered["user"]["display_name"], "User");
    assert_eq!(registered["user"]["email"], USER);
    assert_eq!(
        *synapse.registered.lock().unwrap(),
        [("user".to_owned(), "User".to_owned(), false)]
    );

    // 2. Login: tokens, the user payload and roles.
    let login = app
        .post_json("/api/auth/login", &json!({"email": USER, "password": USER_PASSWORD}))
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let login = body(login).await;
    let (access, refresh) = tokens(&login);
    assert_eq!(
        login["user"]["roles"],
        json!(["user", "member"]),
        "seed 000's `user` first"
    );
    assert_eq!(login["user"]["is_admin"], false);
    assert_eq!(login["matrix_user_id"], "@user:daarion.test");
    let claims = claims_of(&access);
    assert_eq!(claims["sub"], login["user"]["id"]);
    assert_eq!(claims["email"], USER);
    assert_eq!(claims["name"], "User");
    assert_eq!(
        claims["roles"],
        json!(["user", "member"]),
        "its gateway's RBAC reads `user`"
    );
    assert_eq!(claims["type"], "access");
    assert_eq!(claims["iss"], "daarion-auth");
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());

    // 3. Authorised requests.
    let me = body(app.get_with("/api/auth/me", &access).await).await;
    assert_eq!(
        (me["email"].as_str(), me["display_name"].as_str()),
        (Some(USER), Some("User"))
    );
    assert_eq!(me["matrix_user_id"], "@user:daarion.test");

    // Introspection for internal services: any access token, no client credentials.
    let active = body(app.post_json("/api/auth/introspect", &json!({"token": access})).await).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], claims["sub"]);
    assert_eq!(
        (active["type"].as_str(), active["iss"].as_str()),
        (Some("access"), Some("daarion-auth"))
    );
    assert_eq!(active["roles"], json!(["user", "member"]));
    let garbage = body(
        app.post_json("/api/auth/introspect", &json!({"token": "not.a.token"}))
            .await,
    )
    .await;
    assert_eq!(garbage, json!({"active": false}));

    // Refresh rotates: the old refresh token is spent.
    let rotated = app
        .post_json("/api/auth/refresh", &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let (access2, refresh2) = tokens(&body(rotated).await);
    assert_eq!(
        claims_of(&access2)["roles"],
        json!(["user", "member"]),
        "refreshed tokens too"
    );
    // guildhall's own routes mint guildhall's roles alone.
    let native = tokens(&app.login_ok(USER, USER_PASSWORD).await).0;
    assert_eq!(claims_of(&native)["roles"], json!(["member"]));
    expect_error(
        app.post_json("/api/auth/refresh", &json!({"refresh_token": refresh}))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    // Reuse revoked the session (RFC 9700): the rotated tokens are dead too.
    assert_eq!(app.me_status(&access2).await, StatusCode::UNAUTHORIZED);
    let again = body(app.post_json("/api/auth/introspect", &json!({"token": access2})).await).await;
    assert_eq!(again, json!({"active": false}));
    assert_eq!(
        app.post_json("/api/auth/refresh", &json!({"refresh_token": refresh2}))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Logout revokes the session of a fresh login.
    let (access3, refresh3) = tokens(&app.login_ok(USER, USER_PASSWORD).await);
    let out = app
        .post_json("/api/auth/logout", &json!({"refresh_token": refresh3}))
        .await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get_with("/api/auth/me", &access3).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn a_taken_matrix_name_gets_a_suffix_and_a_synapse_failure_never_fails_registration() {
    let (url, synapse) = fake_synapse(&["taken"]).await;
    let app = daarion_app(Some(&url), SECRET).await;
    let v = body(
        app.post_json(
            "/api/auth/register",
            &json!({"email": "taken@daarion.space", "password": USER_PASSWORD}),
        )
        .await,
    )
    .await;
    let id = v["matrix_user_id"].as_str().unwrap();
    assert!(id.starts_with("@taken.") && id.ends_with(":daarion.test"), "{id}");

    // A wrong shared secret: Synapse refuses the MAC; the account still exists.
    let (url, refusing) = fake_synapse(&[]).await;
    let wrong = daarion_app(Some(&url), "not the shared secret").await;
    let v = wrong
        .post_json("/api/auth/register", &json!({"email": USER, "password": USER_PASSWORD}))
        .await;
    assert_eq!(v.status(), StatusCode::CREATED);
    assert_eq!(body(v).await["matrix_user_id"], Value::Null);
    assert_eq!(*refusing.refused.lock().unwrap(), 1);
    assert!(refusing.registered.lock().unwrap().is_empty());
    wrong.login_ok(USER, USER_PASSWORD).await;

    // Synapse unreachable.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = daarion_app(Some(&dead), SECRET).await;
    let v = down
        .post_json("/api/auth/register", &json!({"email": USER, "password": USER_PASSWORD}))
        .await;
    assert_eq!(v.status(), StatusCode::CREATED);
    assert_eq!(body(v).await["matrix_user_id"], Value::Null);
    let me = body(
        down.get_with("/api/auth/me", &tokens(&down.login_ok(USER, USER_PASSWORD).await).0)
            .await,
    )
    .await;
    assert_eq!(me["matrix_user_id"], Value::Null);
    assert_eq!(
        synapse.registered.lock().unwrap().len(),
        2,
        "only the first app reached this Synapse"
    );
}

#[tokio::test]
async fn without_synapse_matrix_user_id_is_null_and_bad_input_writes_nothing() {
    let app = daarion_app(None, SECRET).await;
    let cases = [
        (json!({"email": USER, "display_name": "User"}), "password"),
        (json!({"email": "not-an-email", "password": USER_PASSWORD}), "email"),
        (json!({"email": USER, "password": "short"}), "password"),
        (
            json!({"email": USER, "password": USER_PASSWORD, "roles": ["admin"]}),
            "roles",
        ),
    ];
    for (input, field) in cases {
        let e = expect_error(
            app.post_json("/api/auth/register", &input).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(e["errors"][0]["field"], field, "{input}");
    }
    assert_eq!(
        app.login(USER, USER_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED,
        "nothing was written"
    );
    let v = app
        .post_json(
            "/api/auth/register",
            &json!({"email": USER, "password": USER_PASSWORD, "display_name": "User"}),
        )
        .await;
    assert_eq!(v.status(), StatusCode::CREATED);
    assert_eq!(body(v).await["matrix_user_id"], Value::Null);
    let again = app
        .post_json("/api/auth/register", &json!({"email": USER, "password": USER_PASSWORD}))
        .await;
    expect_error(again, StatusCode::CONFLICT, "user_exists").await;
    let malformed = app
        .client
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    expect_error(malformed, StatusCode::BAD_REQUEST, "malformed_json").await;
    expect_error(
        app.post_json("/api/auth/login", &json!({"email": USER, "password": "wrong password"}))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    expect_error(
        app.post_json("/api/auth/introspect", &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.get("/api/auth/me").await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
    )
    .await;
}

#[tokio::test]
async fn its_environment_names_configure_the_service() {
    use clap::{CommandFactory, FromArgMatches};
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        settings: guildhall::config::Settings,
    }
    let database_url = fresh_database_url().await;
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("JWT_SECRET", "a shared secret of at least thirty-two bytes"),
        ("JWT_ALGO", "HS256"),
        ("ACCESS_TOKEN_TTL", "600"),
        ("REFRESH_TOKEN_TTL", "3600"),
        ("PORT", "0"),
        ("DEBUG", "true"),
        ("BCRYPT_ROUNDS", "12"),
    ];
    let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
    let command = guildhall::config::with_aliases(Only::command().mut_args(|a| a.env(None)), lookup);
    let parsed = Only::from_arg_matches(&command.get_matches_from(["guildhall"]))
        .unwrap()
        .settings;
    let config = guildhall::config::Config::try_from(parsed.clone()).unwrap();
    assert_eq!(config.refresh_token_ttl, chrono::Duration::seconds(3600));
    assert!(config.debug && config.bcrypt_rounds == Some(12));
    let app = spawn_on(&database_url, |s| {
        s.database_url = parsed.database_url.clone();
        s.jwt_secret = parsed.jwt_secret.clone();
        s.jwt_algorithm = parsed.jwt_algorithm.clone();
        s.access_token_ttl = parsed.access_token_ttl;
        s.refresh_token_ttl = parsed.refresh_token_ttl;
    })
    .await;
    let v = body(
        app.post_json("/api/auth/register", &json!({"email": USER, "password": USER_PASSWORD}))
            .await,
    )
    .await;
    let access = v["access_token"].as_str().unwrap();
    let header: Value = {
        use base64::Engine;
        let part = access.split('.').next().unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    assert_eq!(header["alg"], "HS256");
    let claims = claims_of(access);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
    assert_eq!(v["expires_in"], 600);
}
