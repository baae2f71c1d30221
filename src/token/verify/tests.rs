//! The verifier against hand-made tokens: what it keeps, and everything it refuses.
use super::*;
use crate::token::keys::{Key, KeyMaterial};
use crate::token::{Algorithm, install_crypto_provider};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

const NOW: i64 = 1_900_000_000;

fn ring(alg: Algorithm) -> KeyRing {
    install_crypto_provider();
    let key = match alg {
        Algorithm::HS256 => Key::hmac(&[7u8; 32]),
        _ => Key::from_material(&KeyMaterial::generate(alg, Utc.timestamp_opt(NOW, 0).unwrap()).unwrap()).unwrap(),
    };
    KeyRing::new(Arc::new(key), vec![])
}

fn claims() -> Value {
    json!({
        "iss": "https://id.test", "aud": "guildhall", "sub": uuid::Uuid::nil(), "sid": uuid::Uuid::nil(),
        "jti": uuid::Uuid::nil(), "iat": NOW, "nbf": NOW, "exp": NOW + 60, "type": "access",
        "email": "a@b.test", "name": "A", "org": {"id": uuid::Uuid::nil(), "slug": "acme"},
        "roles": [], "permissions": [], "mv": 1
    })
}

fn sign(ring: &KeyRing, header: Header, claims: &Value) -> String {
    jsonwebtoken::encode(&header, claims, &ring.signing().encoding).unwrap()
}

fn verifier() -> Verifier {
    Verifier::new("https://id.test", "guildhall")
}

#[test]
fn accepts_a_well_formed_token_for_every_algorithm() {
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256, Algorithm::HS256] {
        let ring = ring(alg);
        let token = sign(&ring, Verifier::header(&ring), &claims());
        assert!(verifier().verify(&ring, &token, NOW).is_ok(), "{alg}");
    }
}

#[test]
fn keeps_what_authenticating_needs() {
    let ring = ring(Algorithm::ES256);
    let (sub, sid, org) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let mut user = claims();
    user["sub"] = json!(sub);
    user["sid"] = json!(sid);
    user["org"]["id"] = json!(org);
    // Unknown method names are dropped; the known ones are kept as a set.
    user["amr"] = json!(["pwd", "otp", "mfa", "retina"]);
    let token = sign(&ring, Verifier::header(&ring), &user);
    let expected = Verified {
        sub,
        org_id: org,
        sid: Some(sid),
        exp: NOW + 60,
        service: false,
        resource: false,
        methods: crate::model::AuthMethods::from_names(["mfa", "pwd", "otp"]),
    };
    assert_eq!(verifier().verify(&ring, &token, NOW), Ok(expected));

    let mut service = user.clone();
    service.as_object_mut().unwrap().remove("sid");
    service["client_id"] = json!("svc_123");
    let token = sign(&ring, Verifier::header(&ring), &service);
    let verified = verifier().verify(&ring, &token, NOW).unwrap();
    assert!(verified.service && verified.sid.is_none());
}

#[test]
fn refuses_tokens_that_are_not_three_well_formed_segments() {
    let ring = ring(Algorithm::ES256);
    let token = sign(&ring, Verifier::header(&ring), &claims());
    let (message, signature) = token.rsplit_once('.').unwrap();
    let cases = [
        ("four segments", format!("{message}.{signature}.{signature}")),
        ("two segments", message.to_owned()),
        ("no dots", signature.to_owned()),
        ("signature not base64url", format!("{message}.*{}", &signature[1..])),
        ("payload not base64url", token.replacen('.', ".*", 1)),
        ("empty", String::new()),
    ];
    for (name, token) in cases {
        assert!(
            matches!(
                verifier().verify(&ring, &token, NOW),
                Err(VerifyError::Malformed | VerifyError::Signature)
            ),
            "{name}"
        );
    }
    // A payload that is signed but not our claims' shape: `aud` as an array, `sub` not a UUID.
    for change in [
        json!({"aud": ["guildhall"]}),
        json!({"sub": "alice"}),
        json!({"org": "acme"}),
    ] {
        let mut c = claims();
        for (k, v) in change.as_object().unwrap() {
            c[k] = v.clone();
        }
        let token = sign(&ring, Verifier::header(&ring), &c);
        assert_eq!(
            verifier().verify(&ring, &token, NOW),
            Err(VerifyError::Malformed),
            "{change}"
        );
    }
}

#[test]
fn refuses_what_rfc_8725_says_to_refuse() {
    let ring = ring(Algorithm::ES256);
    let good = Verifier::header(&ring);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        c
    };
    let cases: Vec<(&str, String, VerifyError)> = vec![
        (
            "expired",
            sign(&ring, good.clone(), &with(&|c| c["exp"] = json!(NOW - 31))),
            VerifyError::Expired,
        ),
        (
            "nbf ahead",
            sign(&ring, good.clone(), &with(&|c| c["nbf"] = json!(NOW + 31))),
            VerifyError::NotYetValid,
        ),
        (
            "iat ahead",
            sign(&ring, good.clone(), &with(&|c| c["iat"] = json!(NOW + 31))),
            VerifyError::NotYetValid,
        ),
        (
            "issuer",
            sign(&ring, good.clone(), &with(&|c| c["iss"] = json!("https://evil.test"))),
            VerifyError::Issuer,
        ),
        (
            "audience",
            sign(&ring, good.clone(), &with(&|c| c["aud"] = json!("other"))),
            VerifyError::Audience,
        ),
        (
            "no aud",
            sign(
                &ring,
                good.clone(),
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("aud");
                }),
            ),
            VerifyError::Malformed,
        ),
        (
            "no exp",
            sign(
                &ring,
                good.clone(),
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
            VerifyError::Malformed,
        ),
        (
            "refresh type",
            sign(&ring, good.clone(), &with(&|c| c["type"] = json!("refresh"))),
            VerifyError::WrongType,
        ),
        (
            "typ JWT",
            sign(
                &ring,
                Header {
                    typ: Some("JWT".into()),
                    ..good.clone()
                },
                &claims(),
            ),
            VerifyError::WrongType,
        ),
        (
            "no kid",
            sign(
                &ring,
                Header {
                    kid: None,
                    ..good.clone()
                },
                &claims(),
            ),
            VerifyError::UnknownKey,
        ),
        (
            "unknown kid",
            sign(
                &ring,
                Header {
                    kid: Some("nope".into()),
                    ..good.clone()
                },
                &claims(),
            ),
            VerifyError::UnknownKey,
        ),
    ];
    for (name, token, expected) in cases {
        assert_eq!(verifier().verify(&ring, &token, NOW), Err(expected), "{name}");
    }
}

#[test]
fn refuses_none_swapped_algorithms_and_forged_signatures() {
    let ring = ring(Algorithm::ES256);
    let kid = ring.signing().kid.clone();
    let body = URL_SAFE_NO_PAD.encode(claims().to_string());
    let none_header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
    let none = format!("{none_header}.{body}.");
    assert!(matches!(
        verifier().verify(&ring, &none, NOW),
        Err(VerifyError::Algorithm | VerifyError::Malformed)
    ));
    // HS256 signed with the public key's bytes, the classic confusion attack.
    let hs = jsonwebtoken::encode(
        &Header {
            alg: jsonwebtoken::Algorithm::HS256,
            typ: Some("at+jwt".into()),
            kid: Some(kid.clone()),
            ..Header::default()
        },
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(ring.signing().pem.as_ref().unwrap().as_bytes()),
    )
    .unwrap();
    assert_eq!(verifier().verify(&ring, &hs, NOW), Err(VerifyError::Algorithm));
    let token = sign(&ring, Verifier::header(&ring), &claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged_body = URL_SAFE_NO_PAD.encode(claims().to_string().replace("acme", "evil"));
    parts[1] = &forged_body;
    assert_eq!(
        verifier().verify(&ring, &parts.join("."), NOW),
        Err(VerifyError::Signature)
    );
    let other = self::ring(Algorithm::ES256);
    let foreign = sign(
        &other,
        Header {
            kid: Some(kid),
            ..Verifier::header(&other)
        },
        &claims(),
    );
    assert_eq!(verifier().verify(&ring, &foreign, NOW), Err(VerifyError::Signature));
}

#[test]
fn another_audience_is_only_an_application_tokens_resource() {
    let ring = ring(Algorithm::ES256);
    let mut app = claims();
    app["sid"] = json!(uuid::Uuid::new_v4());
    app["client_id"] = json!("app_1");
    app["aud"] = json!("https://api.example");
    let token = sign(&ring, Verifier::header(&ring), &app);
    let verified = verifier().verify(&ring, &token, NOW).unwrap();
    assert!(verified.resource && !verified.service);

    // A user token of guildhall's own API (no client) with another audience is refused outright.
    let mut own = app.clone();
    own.as_object_mut().unwrap().remove("client_id");
    let token = sign(&ring, Verifier::header(&ring), &own);
    assert_eq!(verifier().verify(&ring, &token, NOW), Err(VerifyError::Audience));
}
