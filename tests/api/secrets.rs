//! Secrets at rest: with a master key the signing keys and the identity providers' client secrets
//! are stored sealed, keep working across restarts with that key, stop start-up with another key
//! or none, move to a new key with `keys rewrap`, and are sealed in place when a key is first set.
use crate::fake_idp::{CLIENT_ID, CLIENT_SECRET, FakeIdp};
use crate::helpers::*;
use crate::oidc_support::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use guildhall::config::{Config, Settings};
use guildhall::crypto::seal::MasterKey;
use guildhall::startup::Application;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

/// Two master keys, one written in hex, the other in base64.
const KEY_A: &str = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";
const KEY_B: &str = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=";

fn id_of(key: &str) -> String {
    MasterKey::parse(key).unwrap().id().to_owned()
}

/// External logins may return to the test frontend; `key` is the master key, if any.
fn with_key(key: Option<&str>) -> impl FnOnce(&mut Settings) + '_ {
    move |s| {
        s.oidc.oidc_redirect_uris = Some(FRONTEND.into());
        s.sealing.master_key = key.map(String::from);
    }
}

/// Starts on `database_url`, answering the error instead of panicking.
async fn start(database_url: &str, key: Option<&str>) -> anyhow::Result<Application> {
    let mut settings = test_settings(database_url);
    with_key(key)(&mut settings);
    Application::build(Config::try_from(settings).unwrap()).await
}

async fn start_error(database_url: &str, key: Option<&str>) -> String {
    match start(database_url, key).await {
        Ok(_) => panic!("started with master key {key:?}"),
        Err(error) => format!("{error:#}"),
    }
}

/// `acme` with the fake provider (`acme-sso`) and its client secret; answers the provider's path.
async fn acme_with_provider(app: &TestApp, idp: &FakeIdp) -> (Org, String) {
    let acme = app.create_org("acme").await;
    // Providers may serve only verified email domains of their organisation.
    app.verified_email_domain(&acme.id, "acme.test", serde_json::Value::Null)
        .await;
    let provider = json!({
        "slug": "acme-sso", "name": "Acme SSO", "issuer": idp.issuer(), "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "email_domains": ["acme.test"], "jit": true, "link_by_email": false,
    });
    let path = format!("/orgs/{}/identity-providers", acme.id);
    let created = app
        .expect("POST", &path, &acme.admin_token, Some(provider), StatusCode::CREATED)
        .await;
    let path = format!("{path}/{}", created["id"].as_str().unwrap());
    (acme, path)
}

/// A whole login through the fake provider, which checks guildhall's client secret.
async fn log_in_through_provider(app: &TestApp) -> Value {
    let browser = Browser::start(app, "acme-sso").await;
    let at_idp = manual().get(&browser.authorize).send().await.unwrap();
    let back = browser.finish(app, &location(&at_idp)).await;
    assert!(
        back.contains_key("code"),
        "the provider took our client secret: {back:?}"
    );
    exchange(app, &back["code"]).await
}

/// What the database holds in its secret columns: the signing keys' private keys, the providers'
/// client secrets.
async fn stored(app: &TestApp) -> (Vec<String>, Vec<Option<String>>) {
    let db = app.handle.db();
    let keys = entity::signing_key::Entity::find().all(db).await.unwrap();
    let providers = entity::identity_provider::Entity::find().all(db).await.unwrap();
    (
        keys.into_iter().map(|k| k.private_key).collect(),
        providers.into_iter().map(|p| p.client_secret).collect(),
    )
}

fn sealed_with(value: &str, key: &str) -> bool {
    value.starts_with(&format!("gh-sealed:v1:{}:", id_of(key)))
}

/// The bytes of the SQLite database with its write-ahead log; `None` on PostgreSQL.
fn database_file_bytes(database_url: &str) -> Option<Vec<u8>> {
    let path = database_url.strip_prefix("sqlite://")?.split('?').next()?;
    let mut bytes = std::fs::read(path).unwrap();
    for suffix in ["-wal", "-journal"] {
        if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
            bytes.extend(more);
        }
    }
    Some(bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn with_a_master_key_secrets_are_stored_sealed_and_work_after_a_restart() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_with(with_key(Some(KEY_A))).await;
    let root = app.superuser_token().await;
    let (acme, provider) = acme_with_provider(&app, &idp).await;
    log_in_through_provider(&app).await;

    let (keys, secrets) = stored(&app).await;
    assert!(!keys.is_empty());
    for key in &keys {
        assert!(sealed_with(key, KEY_A), "signing key stored as {key}");
    }
    assert_eq!(secrets.len(), 1);
    let secret = secrets[0].as_deref().unwrap();
    assert!(
        sealed_with(secret, KEY_A) && !secret.contains(CLIENT_SECRET),
        "{secret}"
    );

    let materials = guildhall::store::keys::list(app.handle.db(), app.handle.sealer())
        .await
        .unwrap();
    match database_file_bytes(&app.database_url) {
        Some(bytes) => {
            for material in &materials {
                let der = STANDARD.decode(&material.private_key).unwrap();
                assert!(
                    !contains(&bytes, material.private_key.as_bytes()),
                    "PKCS#8 base64 in the file"
                );
                assert!(!contains(&bytes, &der), "PKCS#8 DER in the file");
            }
            assert!(!contains(&bytes, CLIENT_SECRET.as_bytes()), "client secret in the file");
        }
        // PostgreSQL: the rows, read above, are what there is to check.
        None => {
            for (material, key) in materials.iter().zip(&keys) {
                assert!(!key.contains(&material.private_key));
            }
        }
    }

    let restarted = spawn_on(&app.database_url, with_key(Some(KEY_A))).await;
    assert_eq!(
        restarted.me_status(&root).await,
        StatusCode::OK,
        "earlier tokens verify"
    );
    let got = restarted
        .expect("GET", &provider, &acme.admin_token, None, StatusCode::OK)
        .await;
    assert_eq!(got["has_client_secret"], true);
    let grant = log_in_through_provider(&restarted).await;
    assert_eq!(grant["user"]["email"], "dana@acme.test");
}

#[tokio::test]
async fn a_sealed_database_does_not_start_with_another_master_key_or_none() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_with(with_key(Some(KEY_A))).await;
    acme_with_provider(&app, &idp).await;

    let other = start_error(&app.database_url, Some(KEY_B)).await;
    assert!(other.contains("cannot open the stored secrets"), "{other}");
    assert!(
        other.contains(&format!(
            "sealed with master key {}, but the configured master key is {}",
            id_of(KEY_A),
            id_of(KEY_B)
        )),
        "{other}"
    );
    let none = start_error(&app.database_url, None).await;
    assert!(
        none.contains(&format!(
            "sealed with master key {}, but no master key is configured",
            id_of(KEY_A)
        )),
        "{none}"
    );
    assert!(none.contains("AUTH_MASTER_KEY"), "says how to fix it: {none}");
    assert!(!other.contains('\n') && !none.contains('\n'), "one line each");
}

#[tokio::test]
async fn rewrap_moves_every_secret_to_the_new_master_key() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_with(with_key(Some(KEY_A))).await;
    let root = app.superuser_token().await;
    acme_with_provider(&app, &idp).await;
    let (keys_before, _) = stored(&app).await;

    let config = Config::try_from({
        let mut s = test_settings(&app.database_url);
        with_key(Some(KEY_A))(&mut s);
        s
    })
    .unwrap();
    let rewrapped = guildhall::startup::rewrap_secrets(config, MasterKey::parse(KEY_B).unwrap())
        .await
        .unwrap();
    assert_eq!(
        rewrapped,
        keys_before.len() as u64 + 1,
        "every signing key and the client secret"
    );

    let (keys, secrets) = stored(&app).await;
    for value in keys.iter().chain(secrets.iter().flatten()) {
        assert!(sealed_with(value, KEY_B), "{value}");
    }
    let old = start_error(&app.database_url, Some(KEY_A)).await;
    assert!(
        old.contains(&format!("the configured master key is {}", id_of(KEY_A))),
        "{old}"
    );
    let moved = spawn_on(&app.database_url, with_key(Some(KEY_B))).await;
    assert_eq!(moved.me_status(&root).await, StatusCode::OK, "the same signing key");
    log_in_through_provider(&moved).await;
}

#[tokio::test]
async fn secrets_stored_before_a_master_key_is_set_are_sealed_in_place() {
    let idp = FakeIdp::start().await;
    let app = spawn_app_with(with_key(None)).await;
    let root = app.superuser_token().await;
    acme_with_provider(&app, &idp).await;
    let (plain_keys, plain_secrets) = stored(&app).await;
    assert!(
        plain_keys.iter().all(|k| !k.starts_with("gh-sealed:")),
        "no key: stored as they are"
    );
    assert_eq!(plain_secrets, [Some(CLIENT_SECRET.to_owned())]);
    if let Some(bytes) = database_file_bytes(&app.database_url) {
        assert!(
            contains(&bytes, CLIENT_SECRET.as_bytes()),
            "what the sealed test looks for can be seen"
        );
    }
    let materials = guildhall::store::keys::list(app.handle.db(), app.handle.sealer())
        .await
        .unwrap();

    // Two replicas start with the new key at once; each secret is sealed once.
    let (one, two) = tokio::join!(
        spawn_on(&app.database_url, with_key(Some(KEY_A))),
        spawn_on(&app.database_url, with_key(Some(KEY_A)))
    );
    let (keys, secrets) = stored(&one).await;
    assert_eq!(keys.len(), plain_keys.len());
    for value in keys.iter().chain(secrets.iter().flatten()) {
        assert!(sealed_with(value, KEY_A), "{value}");
    }
    let opened = guildhall::store::keys::list(one.handle.db(), one.handle.sealer())
        .await
        .unwrap();
    let pairs = |m: &[guildhall::token::KeyMaterial]| {
        let mut p: Vec<(String, String)> = m.iter().map(|k| (k.kid.clone(), k.private_key.clone())).collect();
        p.sort();
        p
    };
    assert_eq!(pairs(&opened), pairs(&materials), "the same keys, sealed");
    assert_eq!(one.me_status(&root).await, StatusCode::OK);
    log_in_through_provider(&two).await;

    let again = spawn_on(&app.database_url, with_key(Some(KEY_A))).await;
    assert_eq!(
        stored(&again).await,
        (keys, secrets),
        "sealed values are left as they are"
    );
}

#[tokio::test]
async fn seeding_compares_a_sealed_client_secret_by_what_it_opens_to() {
    let app = spawn_app_with(with_key(Some(KEY_A))).await;
    let root = app.superuser_token().await;
    let demo = include_str!("../../seed/demo.yaml");
    let apply = || async {
        let response = app
            .client
            .post(app.url("/admin/seed"))
            .bearer_auth(&root)
            .header("content-type", "application/yaml")
            .body(demo)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        body(response).await
    };
    apply().await;
    let (_, secrets) = stored(&app).await;
    assert!(sealed_with(secrets[0].as_deref().unwrap(), KEY_A));
    let again = apply().await;
    let provider = again["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["object"] == "identity provider demo/demo-sso")
        .unwrap();
    assert_eq!(provider["action"], "unchanged", "{again}");
    assert_eq!(stored(&app).await.1, secrets, "nothing rewritten");
}
