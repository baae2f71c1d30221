//! Access tokens: claims, JWKS and discovery, algorithms, keys across restarts and rotation,
//! and the verifier on every authenticated route.
use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use guildhall::token::Key;
use jsonwebtoken::{DecodingKey, Header, Validation, jwk::JwkSet};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// Verifies `token` the way a service with a stock JWT library would: discovery → JWKS → key.
async fn verify_like_a_service(app: &TestApp, token: &str) -> Value {
    let discovery = body(app.get("/.well-known/openid-configuration").await).await;
    let issuer = discovery["issuer"].as_str().unwrap();
    let jwks_uri = discovery["jwks_uri"].as_str().unwrap().replace(issuer, &app.address);
    let jwks: JwkSet = app.client.get(jwks_uri).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the token's kid is published");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&["guildhall"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn access_token_claims_match_the_design() {
    let app = spawn_app().await;
    let v = app.register("ada@acme.test").await;
    let (access, _) = tokens(&v);
    let header = part(&access, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert!(header["kid"].is_string());
    let claims = part(&access, 1);
    assert_eq!(claims["iss"], "http://guildhall.test");
    assert_eq!(claims["aud"], "guildhall");
    assert_eq!(claims["sub"], v["user"]["id"]);
    assert_eq!(claims["type"], "access");
    assert_eq!(claims["email"], "ada@acme.test");
    assert_eq!(claims["name"], "Test User");
    assert_eq!(claims["org"], json!({"id": v["user"]["org"]["id"], "slug": "default"}));
    assert_eq!(claims["roles"], json!(["member"]));
    assert_eq!(claims["permissions"], json!([]));
    assert_eq!(claims["mv"], 1);
    assert!(claims["sid"].is_string() && claims["jti"].is_string());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 1800);
}

#[tokio::test]
async fn a_stock_jwt_library_verifies_tokens_with_jwks_and_discovery() {
    let app = spawn_app().await;
    let (access, _) = tokens(&app.register("ada@acme.test").await);
    let claims = verify_like_a_service(&app, &access).await;
    assert_eq!(claims["email"], "ada@acme.test");
    let discovery = body(app.get("/.well-known/openid-configuration").await).await;
    assert_eq!(discovery["issuer"], "http://guildhall.test");
    assert_eq!(discovery["token_endpoint"], "http://guildhall.test/oauth2/token");
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"]),
        "RS256 by default, the access tokens' algorithm when a client registers it"
    );
    assert_eq!(discovery["response_types_supported"], json!(["code"]));
}

#[tokio::test]
async fn the_public_key_pem_verifies_tokens() {
    let app = spawn_app().await;
    let (access, _) = tokens(&app.register("ada@acme.test").await);
    let key = body(app.get("/auth/public-key").await).await;
    assert_eq!(key["algorithm"], "ES256");
    let pem = key["public_key"].as_str().unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["guildhall"]);
    jsonwebtoken::decode::<Value>(&access, &DecodingKey::from_ec_pem(pem.as_bytes()).unwrap(), &validation).unwrap();
}

#[tokio::test]
async fn eddsa_and_rs256_are_selectable() {
    for (alg, kty) in [("EdDSA", "OKP"), ("RS256", "RSA")] {
        let app = spawn_app_with(|s| s.jwt_algorithm = alg.into()).await;
        let (access, _) = tokens(&app.register("ada@acme.test").await);
        assert_eq!(part(&access, 0)["alg"], alg);
        let jwks = body(app.get("/.well-known/jwks.json").await).await;
        assert_eq!(jwks["keys"][0]["kty"], kty, "{alg}");
        verify_like_a_service(&app, &access).await;
        assert_eq!(app.me_status(&access).await, StatusCode::OK, "{alg}");
        assert_eq!(body(app.get("/auth/public-key").await).await["algorithm"], alg);
    }
}

#[tokio::test]
async fn hs256_uses_a_shared_secret_and_publishes_only_the_id_token_key() {
    let secret = "0123456789abcdef0123456789abcdef";
    let app = spawn_app_with(|s| {
        s.jwt_algorithm = "HS256".into();
        s.jwt_secret = Some(secret.into());
    })
    .await;
    let (access, _) = tokens(&app.register("ada@acme.test").await);
    assert_eq!(part(&access, 0)["alg"], "HS256");
    // The shared secret is never published; the RS256 key of ID tokens is the only public key.
    let jwks = body(app.get("/.well-known/jwks.json").await).await;
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["RS256"], "{jwks}");
    assert!(jwks["keys"][0].get("k").is_none());
    expect_error(app.get("/auth/public-key").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.me_status(&access).await, StatusCode::OK);
    let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["guildhall"]);
    jsonwebtoken::decode::<Value>(&access, &DecodingKey::from_secret(secret.as_bytes()), &validation).unwrap();
}

#[tokio::test]
async fn keys_persist_so_tokens_outlive_a_restart() {
    let app = spawn_app().await;
    let (access, refresh) = tokens(&app.register("ada@acme.test").await);
    let restarted = spawn_on(&app.database_url, |_| {}).await;
    assert_eq!(restarted.me_status(&access).await, StatusCode::OK);
    assert_eq!(restarted.refresh(&refresh).await.status(), StatusCode::OK);
    assert_eq!(
        body(restarted.get("/.well-known/jwks.json").await).await,
        body(app.get("/.well-known/jwks.json").await).await
    );
}

#[tokio::test]
async fn rotation_signs_with_a_new_key_and_keeps_the_old_one_until_its_tokens_expire() {
    let app = spawn_app().await;
    let (old_token, _) = tokens(&app.register("ada@acme.test").await);
    let old_kid = part(&old_token, 0)["kid"].as_str().unwrap().to_owned();
    let new_kid = app.handle.rotate_keys().await.unwrap();
    assert_ne!(new_kid, old_kid);
    let (new_token, _) = tokens(&app.login_ok("ada@acme.test", PASSWORD).await);
    assert_eq!(part(&new_token, 0)["kid"], new_kid.as_str());
    assert_eq!(
        app.me_status(&old_token).await,
        StatusCode::OK,
        "old tokens still verify"
    );
    // The access-token keys (the ID-token RS256 keys rotate beside them).
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == "ES256")
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let published = kids(body(app.get("/.well-known/jwks.json").await).await);
    assert!(
        published.contains(&old_kid) && published.contains(&new_kid),
        "{published:?}"
    );
    app.advance(Duration::seconds(1800 + 31));
    app.handle.reload_keys().await.unwrap();
    let published = kids(body(app.get("/.well-known/jwks.json").await).await);
    assert_eq!(
        published,
        vec![new_kid],
        "the retired key is gone once its tokens have expired"
    );
}

#[tokio::test]
async fn switching_algorithm_keeps_earlier_tokens_valid() {
    let app = spawn_app().await;
    let (es256_token, _) = tokens(&app.register("ada@acme.test").await);
    let switched = spawn_on(&app.database_url, |s| s.jwt_algorithm = "EdDSA".into()).await;
    assert_eq!(switched.me_status(&es256_token).await, StatusCode::OK);
    let (ed_token, _) = tokens(&switched.login_ok("ada@acme.test", PASSWORD).await);
    assert_eq!(part(&ed_token, 0)["alg"], "EdDSA");
}

#[tokio::test]
async fn every_authenticated_route_refuses_forged_and_foreign_tokens() {
    let app = spawn_app().await;
    let (access, _) = tokens(&app.register("ada@acme.test").await);
    let materials = guildhall::store::keys::list(app.handle.db(), app.handle.sealer())
        .await
        .unwrap();
    let material = materials.iter().find(|m| m.algorithm.as_str() == "ES256").unwrap();
    let key = Key::from_material(material).unwrap();
    let good_header = part(&access, 0);
    let claims = part(&access, 1);
    let header = |f: &dyn Fn(&mut Header)| {
        let mut h: Header = serde_json::from_value(good_header.clone()).unwrap();
        f(&mut h);
        h
    };
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        f(&mut c);
        c
    };
    let sign = |h: Header, c: Value| jsonwebtoken::encode(&h, &c, &key.encoding).unwrap();
    let now = claims["iat"].as_i64().unwrap();
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": key.kid}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let hmac_with_public_key = jsonwebtoken::encode(
        &header(&|h| h.alg = jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key.pem.as_ref().unwrap().as_bytes()),
    )
    .unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("alg none", none),
        ("HS256 with the public key", hmac_with_public_key),
        (
            "wrong issuer",
            sign(header(&|_| {}), with(&|c| c["iss"] = json!("http://evil.test"))),
        ),
        (
            "wrong audience",
            sign(header(&|_| {}), with(&|c| c["aud"] = json!("other-service"))),
        ),
        ("expired", sign(header(&|_| {}), with(&|c| c["exp"] = json!(now - 60)))),
        (
            "nbf in the future",
            sign(header(&|_| {}), with(&|c| c["nbf"] = json!(now + 600))),
        ),
        (
            "iat in the future",
            sign(header(&|_| {}), with(&|c| c["iat"] = json!(now + 600))),
        ),
        (
            "refresh type",
            sign(header(&|_| {}), with(&|c| c["type"] = json!("refresh"))),
        ),
        (
            "ID token typ",
            sign(header(&|h| h.typ = Some("JWT".into())), claims.clone()),
        ),
        (
            "unknown kid",
            sign(header(&|h| h.kid = Some("someone-else".into())), claims.clone()),
        ),
        ("tampered", format!("{}x", sign(header(&|_| {}), claims.clone()))),
        // A signed token naming a session that never existed needs our private key; liveness is
        // "not revoked", and every path that ends or deletes a session revokes it first.
    ];

    assert_eq!(
        app.me_status(&sign(header(&|_| {}), claims.clone())).await,
        StatusCode::OK,
        "the re-signed original is fine"
    );
    for (name, token) in cases {
        for (method, path) in [
            ("GET", "/auth/me"),
            ("GET", "/auth/sessions"),
            ("POST", "/auth/logout-all"),
            ("POST", "/auth/logout"),
        ] {
            let request = if method == "GET" {
                app.client.get(app.url(path))
            } else {
                app.client.post(app.url(path))
            };
            let response = request.bearer_auth(&token).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name} on {method} {path}");
        }
    }
    assert_eq!(
        app.me_status(&access).await,
        StatusCode::OK,
        "none of the forgeries logged the user out"
    );
}
