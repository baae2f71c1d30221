//! The JWKS cache: rotation, single flight, refresh limits, and a guildhall that is down,
//! hangs or answers too much.
use super::*;
use futures_util::future::join_all;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sdk_fetches_a_rotated_key_once_and_keeps_verifying_old_tokens() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let old = app.token_in("ada@example.test", "acme").await;
    let guildhall = sdk(&app).build().unwrap();
    guildhall.user(&old).await.unwrap();
    assert_eq!(guildhall.stats().jwks_fetches, 1);

    let new_kid = app.handle.rotate_keys().await.unwrap();
    let new = app.token_in("ada@example.test", "acme").await;
    assert_eq!(kid(&new), new_kid);
    assert_ne!(kid(&new), kid(&old));

    // Within min_refresh_interval (5 s) of the last fetch an unknown kid fetches nothing.
    assert_eq!(outcome(&guildhall.user(&new).await), "unknown_key");
    assert_eq!(guildhall.stats().jwks_fetches, 1);
    app.advance(chrono::Duration::seconds(6));
    assert_eq!(guildhall.user(&new).await.unwrap().email, "ada@example.test");
    assert_eq!(guildhall.stats().jwks_fetches, 2, "one refetch");
    guildhall.user(&new).await.unwrap();
    guildhall.user(&old).await.unwrap();
    assert_eq!(guildhall.stats().jwks_fetches, 2, "both keys are cached now");
    assert_eq!(guildhall.stats().discovery_fetches, 1, "discovery is fetched once");
}

/// A proxy in front of `app` that counts JWKS requests and holds each answer back 100 ms,
/// so concurrent callers certainly arrive while a fetch is under way.
async fn slow_proxy(app: &TestApp) -> (String, Arc<AtomicUsize>) {
    let upstream = app.address.clone();
    let jwks_requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&jwks_requests);
    let client = reqwest::Client::new();
    let proxy = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (upstream, counter, client) = (upstream.clone(), Arc::clone(&counter), client.clone());
        async move {
            if uri.path() == "/.well-known/jwks.json" {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let answer = client.get(format!("{upstream}{uri}")).send().await.unwrap();
            (answer.status(), answer.bytes().await.unwrap())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, proxy).await });
    (address, jwks_requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_concurrent_requests_with_an_unknown_kid_share_one_fetch() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let (proxy, jwks_requests) = slow_proxy(&app).await;
    let guildhall = sdk(&app).base_url(proxy).build().unwrap();
    let verify_all = |token: String| {
        let tasks = (0..50).map(|_| {
            let (guildhall, token) = (guildhall.clone(), token.clone());
            tokio::spawn(async move { guildhall.user(&token).await.map(|u| u.email) })
        });
        join_all(tasks)
    };

    for result in verify_all(token.clone()).await {
        assert_eq!(result.unwrap().unwrap(), "ada@example.test");
    }
    assert_eq!(
        jwks_requests.load(Ordering::SeqCst),
        1,
        "one JWKS request reached guildhall"
    );
    assert_eq!(guildhall.stats().jwks_fetches, 1, "{:?}", guildhall.stats());
    assert_eq!(guildhall.stats().discovery_fetches, 1);

    app.handle.rotate_keys().await.unwrap();
    let rotated = app.token_in("ada@example.test", "acme").await;
    app.advance(chrono::Duration::seconds(6));
    for result in verify_all(rotated).await {
        assert_eq!(result.unwrap().unwrap(), "ada@example.test");
    }
    assert_eq!(jwks_requests.load(Ordering::SeqCst), 2, "one more for the new kid");
    assert_eq!(guildhall.stats().jwks_fetches, 2, "{:?}", guildhall.stats());
}

#[tokio::test]
async fn sdk_unknown_kids_refetch_at_most_once_per_interval() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let guildhall = sdk(&app).build().unwrap();
    guildhall.user(&token).await.unwrap();

    let junk: Vec<String> = (0..20)
        .map(|i| with_header(&token, |h| h["kid"] = json!(format!("junk-{i}"))))
        .collect();
    for forged in &junk {
        assert_eq!(outcome(&guildhall.user(forged).await), "unknown_key");
    }
    assert_eq!(
        guildhall.stats().jwks_fetches,
        1,
        "inside the interval nothing is fetched"
    );
    app.advance(chrono::Duration::seconds(6));
    let results = join_all(junk.iter().map(|forged| guildhall.user(forged))).await;
    assert!(results.iter().all(|r| outcome(r) == "unknown_key"));
    assert_eq!(guildhall.stats().jwks_fetches, 2, "one fetch for all of them");

    // Even with no interval at all, callers that waited for a fetch share its outcome.
    let (proxy, jwks_requests) = slow_proxy(&app).await;
    let eager = sdk(&app)
        .base_url(proxy)
        .min_refresh_interval(Duration::ZERO)
        .build()
        .unwrap();
    let results = join_all(junk.iter().map(|forged| eager.user(forged))).await;
    assert!(results.iter().all(|r| outcome(r) == "unknown_key"));
    assert_eq!(jwks_requests.load(Ordering::SeqCst), 1);
    assert_eq!(outcome(&eager.user(&junk[0]).await), "unknown_key");
    assert_eq!(jwks_requests.load(Ordering::SeqCst), 2, "a later caller fetches again");
}

/// An address nothing listens on.
fn closed_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[tokio::test]
async fn sdk_fails_fast_and_backs_off_when_guildhall_is_down() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let guildhall = sdk(&app).base_url(closed_address()).build().unwrap();

    let started = Instant::now();
    let refused = guildhall.user(&token).await.unwrap_err();
    assert!(matches!(refused, guildhall_axum::Error::Unavailable(_)), "{refused:?}");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    for _ in 0..20 {
        assert_eq!(outcome(&guildhall.user(&token).await), "guildhall_unavailable");
    }
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(guildhall.stats().discovery_fetches, 1, "the failure is remembered");

    app.advance(chrono::Duration::seconds(3));
    assert_eq!(outcome(&guildhall.user(&token).await), "guildhall_unavailable");
    assert_eq!(guildhall.stats().discovery_fetches, 2, "tried again after the backoff");
}

#[tokio::test]
async fn sdk_gives_up_on_a_guildhall_that_hangs() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let guildhall = sdk(&app)
        .base_url(address)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();

    let started = Instant::now();
    let results = join_all((0..10).map(|_| guildhall.user(&token))).await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(|r| outcome(r) == "guildhall_unavailable"));
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "one timeout, shared: {elapsed:?}");
    assert_eq!(guildhall.stats().discovery_fetches, 1);
    let fresh = guildhall.user_fresh(&token).await;
    assert_eq!(outcome(&fresh), "guildhall_unavailable", "validate times out too");
}

#[tokio::test]
async fn sdk_refuses_answers_over_one_mebibyte() {
    let app = spawn_app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let jwks_uri = format!("{ISSUER}/.well-known/jwks.json");
    let padding = "x".repeat(guildhall_axum::MAX_BODY);
    let fake = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(json!({"issuer": ISSUER, "jwks_uri": jwks_uri})) }),
        )
        .route(
            "/.well-known/jwks.json",
            axum::routing::get(move || async move { axum::Json(json!({"keys": [], "padding": padding})) }),
        );
    tokio::spawn(async move { axum::serve(listener, fake).await });
    let guildhall = sdk(&app).base_url(address).build().unwrap();

    let refused = guildhall.discover().await.unwrap_err();
    assert_eq!(refused.code(), "guildhall_unavailable");
    assert!(refused.to_string().contains("more than"), "{refused}");
    assert_eq!(
        guildhall.stats().jwks_fetches,
        1,
        "discovery was fine, the JWKS too big"
    );
}

#[tokio::test]
async fn sdk_refreshes_old_keys_in_the_background() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let guildhall = sdk(&app).max_key_age(Duration::from_secs(60)).build().unwrap();
    guildhall.user(&token).await.unwrap();
    app.advance(chrono::Duration::seconds(30));
    guildhall.user(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(guildhall.stats().jwks_fetches, 1, "young keys are not refetched");

    app.advance(chrono::Duration::seconds(31));
    guildhall.user(&token).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while guildhall.stats().jwks_fetches < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(guildhall.stats().jwks_fetches, 2, "old keys were refetched");
}
