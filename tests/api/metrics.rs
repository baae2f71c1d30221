//! `GET /metrics`: scraped and parsed as Prometheus reads its text format, its values move with
//! the requests made, and with `AUTH_METRICS_ADDR` it is served on that listener alone.
use crate::helpers::*;
use guildhall::config::Config;
use guildhall::startup::Application;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One sample line: `name{label="value",...} number`.
pub struct Sample {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape: the samples, and the names that have `# HELP` and `# TYPE` lines.
pub struct Scrape {
    pub samples: Vec<Sample>,
    pub documented: BTreeSet<String>,
    pub typed: BTreeMap<String, String>,
}

/// The Prometheus text format (0.0.4): quoted label values with `\\`, `\"` and `\n` escapes;
/// anything else is a failure naming the line.
fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape {
        samples: Vec::new(),
        documented: BTreeSet::new(),
        typed: BTreeMap::new(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            scrape.documented.insert(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE: {line}"));
            scrape.typed.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line}"));
        let metric = line[..name_end].to_owned();
        assert!(
            metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name: {line}"
        );
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices();
            let mut key = String::new();
            let end = loop {
                let (i, c) = chars.next().unwrap_or_else(|| panic!("unclosed labels: {line}"));
                match c {
                    '}' => break i,
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "unquoted value: {line}");
                        let mut value = String::new();
                        loop {
                            match chars.next().unwrap_or_else(|| panic!("unclosed value: {line}")).1 {
                                '"' => break,
                                '\\' => match chars.next().unwrap().1 {
                                    'n' => value.push('\n'),
                                    other => value.push(other),
                                },
                                other => value.push(other),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            };
            rest = &inner[end + 1..];
        }
        let value = rest.trim().split(' ').next().unwrap();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        scrape.samples.push(Sample { metric, labels, value });
    }
    scrape
}

async fn scrape_at(client: &reqwest::Client, url: &str) -> Scrape {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    parse(&response.text().await.unwrap())
}

pub async fn scrape(app: &TestApp) -> Scrape {
    scrape_at(&app.client, &app.url("/metrics")).await
}

/// The sum of the samples named `name` having every label of `labels` (0 when there are none).
pub fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| {
            s.metric == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .fold(0.0, |a, b| a + b)
}

fn has(scrape: &Scrape, name: &str) -> bool {
    scrape.samples.iter().any(|s| s.metric == name)
}

#[tokio::test]
async fn requests_logins_validations_and_caches_are_counted() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    let validate = [("route", "/auth/validate"), ("method", "POST"), ("status", "2xx")];
    assert_eq!(value(&before, "guildhall_http_requests_total", &validate), 0.0);

    let token = tokens(&app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await).0;
    assert_eq!(
        app.login(ADMIN_EMAIL, "not the password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..3 {
        assert_eq!(app.validate(&token).await["valid"], true);
    }
    assert_eq!(app.validate("not.a.token").await["error"], "malformed_token");
    let team = uuid::Uuid::new_v4();
    assert_eq!(
        app.get_with(&format!("/teams/{team}"), &token).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/no/such/route").await.status(), StatusCode::NOT_FOUND);

    let after = scrape(&app).await;
    assert_eq!(value(&after, "guildhall_http_requests_total", &validate), 4.0);
    assert_eq!(
        value(&after, "guildhall_http_request_duration_seconds_count", &validate),
        4.0,
        "the histogram counts the same requests"
    );
    let inf = [validate.as_slice(), &[("le", "+Inf")]].concat();
    assert_eq!(
        value(&after, "guildhall_http_request_duration_seconds_bucket", &inf),
        4.0
    );
    assert_eq!(
        after
            .typed
            .get("guildhall_http_request_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    assert!(value(&after, "guildhall_http_request_duration_seconds_sum", &validate) > 0.0);
    let by_template = [("route", "/teams/{id}"), ("method", "GET"), ("status", "4xx")];
    assert_eq!(
        value(&after, "guildhall_http_requests_total", &by_template),
        1.0,
        "labelled by the route template, never the path"
    );
    let path = format!("/teams/{team}");
    assert!(!after.samples.iter().any(|s| s.labels.get("route") == Some(&path)));
    assert_eq!(
        value(
            &after,
            "guildhall_http_requests_total",
            &[("route", "unmatched"), ("status", "4xx")]
        ),
        1.0
    );
    assert_eq!(value(&after, "guildhall_logins_total", &[("outcome", "success")]), 1.0);
    assert_eq!(
        value(&after, "guildhall_logins_total", &[("outcome", "invalid_credentials")]),
        1.0
    );
    assert_eq!(
        value(&after, "guildhall_validations_total", &[("outcome", "valid")]),
        3.0
    );
    assert_eq!(
        value(&after, "guildhall_validations_total", &[("outcome", "malformed_token")]),
        1.0
    );
    let hits = [("cache", "verified_token"), ("result", "hit")];
    assert!(
        value(&after, "guildhall_cache_requests_total", &hits) >= 2.0,
        "the second and third validations found the verified token"
    );
    assert!(
        value(
            &after,
            "guildhall_cache_requests_total",
            &[("cache", "context"), ("result", "hit")]
        ) >= 1.0
    );
    assert!(
        value(&after, "guildhall_hash_wait_seconds_count", &[]) >= 2.0,
        "two logins hashed"
    );
    assert!(has(&after, "guildhall_hash_queue_depth"));
    assert!(
        value(&after, "guildhall_outbox_unpublished", &[]) >= 1.0,
        "no NATS: events wait"
    );
    assert!(has(&after, "guildhall_outbox_oldest_unpublished_age_seconds"));
    assert!(value(&after, "guildhall_db_pool_max_connections", &[]) >= 1.0);
    assert!(has(&after, "guildhall_db_pool_connections"));
    for name in [
        "guildhall_relay_errors_total",
        "guildhall_notify_errors_total",
        "guildhall_webhooks_disabled_total",
        "guildhall_webhook_deliveries_pending",
    ] {
        assert!(after.documented.contains(name) && has(&after, name), "{name}");
    }
    // A third scrape sees the second.
    let again = scrape(&app).await;
    let scrapes = [("route", "/metrics"), ("method", "GET"), ("status", "2xx")];
    assert!(value(&again, "guildhall_http_requests_total", &scrapes) >= 2.0);
}

#[tokio::test]
async fn a_metrics_address_serves_them_there_alone() {
    let database_url = fresh_database_url().await;
    let mut settings = test_settings(&database_url);
    settings.operators.metrics_addr = Some("127.0.0.1:0".into());
    let config = Config::try_from(settings).unwrap();
    let app = Application::build_with_clock(config, Arc::new(guildhall::clock::ManualClock::default()))
        .await
        .unwrap();
    let (port, metrics_port) = (app.port(), app.metrics_port().expect("a metrics listener"));
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let api = format!("http://127.0.0.1:{port}");
    let on_api = client.get(format!("{api}/metrics")).send().await.unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND, "not on the public port");
    let response = client
        .post(format!("{api}/auth/validate"))
        .json(&json!({"token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let scraped = scrape_at(&client, &format!("http://127.0.0.1:{metrics_port}/metrics")).await;
    assert_eq!(
        value(
            &scraped,
            "guildhall_validations_total",
            &[("outcome", "malformed_token")]
        ),
        1.0
    );
    let missing = client
        .get(format!("http://127.0.0.1:{metrics_port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND, "only /metrics there");
}
