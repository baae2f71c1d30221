//! A small OpenID provider of our own for the cases a certified one will not produce: it signs
//! ID tokens with a wrong issuer, audience or nonce, expired ones, `alg: none` or HMAC ones, and
//! ones signed with a key it does not publish. It still checks what a real one checks: the client's
//! credentials, the redirect URI and the PKCE verifier.
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "guildhall-client";
pub const CLIENT_SECRET: &str = "fake-idp-client-secret-0123456789abcdef";

/// How the next ID token is spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    Nothing,
    Issuer,
    Audience,
    Expired,
    Nonce,
    AlgNone,
    Hmac,
    UnpublishedKey,
    /// Discovery advertises an authorization endpoint on plain http elsewhere than this machine.
    PlainAuthorize,
}

struct Pending {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Inner {
    issuer: String,
    key: EncodingKey,
    other_key: EncodingKey,
    jwk: Value,
    codes: Mutex<HashMap<String, Pending>>,
    tamper: Mutex<Tamper>,
    deny: Mutex<bool>,
    account: Mutex<Value>,
}

#[derive(Clone)]
pub struct FakeIdp(Arc<Inner>);

fn ec_key() -> (EncodingKey, Value) {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "fake-1",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
    (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}

impl FakeIdp {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (key, jwk) = ec_key();
        let (other_key, _) = ec_key();
        let idp = FakeIdp(Arc::new(Inner {
            issuer,
            key,
            other_key,
            jwk,
            codes: Mutex::default(),
            tamper: Mutex::new(Tamper::Nothing),
            deny: Mutex::new(false),
            account: Mutex::new(
                json!({"sub": "fake-user-1", "email": "dana@acme.test", "email_verified": true,
                "name": "Dana Scully", "groups": ["engineers"]}),
            ),
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        idp
    }

    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    pub fn tamper(&self, how: Tamper) {
        *self.0.tamper.lock().unwrap() = how;
    }

    pub fn deny(&self, deny: bool) {
        *self.0.deny.lock().unwrap() = deny;
    }

    /// The claims of the account that "logs in" next.
    pub fn set_account(&self, claims: Value) {
        *self.0.account.lock().unwrap() = claims;
    }

    /// A token with these claims over the defaults (iss, aud, iat, exp, the account's), signed
    /// with the published key.
    pub fn mint(&self, extra: Value) -> String {
        let mut claims = self.0.account.lock().unwrap().clone();
        let now = crate::fake_idp::wall_clock();
        for (k, v) in [
            ("iss", json!(self.0.issuer)),
            ("aud", json!(CLIENT_ID)),
            ("iat", json!(now)),
            ("exp", json!(now + 300)),
        ] {
            claims[k] = v;
        }
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("fake-1".into());
        jsonwebtoken::encode(&header, &claims, &self.0.key).unwrap()
    }

    /// An HS256 token keyed with the client secret (which guildhall must refuse).
    pub fn mint_hmac(&self, extra: Value) -> String {
        let claims = merged(&self.mint(extra));
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("fake-1".into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(CLIENT_SECRET.as_bytes())).unwrap()
    }
}

/// The provider's own clock: the real time, whatever guildhall's test clock says.
pub fn wall_clock() -> i64 {
    use guildhall::clock::Clock;
    guildhall::clock::SystemClock.now().timestamp()
}

/// The payload of a JWT.
pub fn merged(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn discovery(State(idp): State<FakeIdp>) -> Json<Value> {
    let iss = &idp.0.issuer;
    let plain = *idp.0.tamper.lock().unwrap() == Tamper::PlainAuthorize;
    let authorize = if plain {
        "http://idp.example.test/authorize".to_owned()
    } else {
        format!("{iss}/authorize")
    };
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": authorize,
        "token_endpoint": format!("{iss}/token"),
        "jwks_uri": format!("{iss}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        // Malicious: advertises what a relying party must never accept.
        "id_token_signing_alg_values_supported": ["ES256", "HS256", "none"],
    }))
}

async fn jwks(State(idp): State<FakeIdp>) -> Json<Value> {
    Json(json!({"keys": [idp.0.jwk]}))
}

async fn authorize(State(idp): State<FakeIdp>, Query(q): Query<HashMap<String, String>>) -> Response {
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256"),
        "PKCE with S256"
    );
    assert!(q.get("scope").is_some_and(|s| s.split(' ').any(|x| x == "openid")));
    let location = if *idp.0.deny.lock().unwrap() {
        format!("{redirect}?error=access_denied&state={state}")
    } else {
        let code = uuid::Uuid::new_v4().simple().to_string();
        idp.0.codes.lock().unwrap().insert(
            code.clone(),
            Pending {
                nonce: q.get("nonce").cloned().unwrap_or_default(),
                challenge: q.get("code_challenge").cloned().unwrap_or_default(),
                redirect_uri: redirect.clone(),
            },
        );
        format!("{redirect}?code={code}&state={state}")
    };
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn invalid_grant() -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response()
}

async fn token(State(idp): State<FakeIdp>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let basic = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(pending) = idp.0.codes.lock().unwrap().remove(&code) else {
        return invalid_grant();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    if challenge != pending.challenge || form.get("redirect_uri") != Some(&pending.redirect_uri) {
        return invalid_grant();
    }
    let tamper = *idp.0.tamper.lock().unwrap();
    let now = crate::fake_idp::wall_clock();
    let mut extra = json!({"nonce": pending.nonce});
    match tamper {
        Tamper::Issuer => extra["iss"] = json!("https://evil.test"),
        Tamper::Audience => extra["aud"] = json!("someone-else"),
        Tamper::Expired => {
            extra["iat"] = json!(now - 7200);
            extra["exp"] = json!(now - 3600);
        }
        Tamper::Nonce => extra["nonce"] = json!("not-the-nonce"),
        _ => {}
    }
    let id_token = match tamper {
        Tamper::AlgNone => {
            let claims = merged(&idp.mint(extra));
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
        }
        Tamper::Hmac => idp.mint_hmac(extra),
        Tamper::UnpublishedKey => {
            let claims = merged(&idp.mint(extra));
            let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
            header.kid = Some("fake-1".into());
            jsonwebtoken::encode(&header, &claims, &idp.0.other_key).unwrap()
        }
        _ => idp.mint(extra),
    };
    Json(json!({"access_token": "fake-access-token", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
        .into_response()
}
