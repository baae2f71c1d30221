//! Local verification: what a token carries becomes a `UserContext`, and every way a token
//! can be wrong is refused with guildhall's code.
use super::*;
use guildhall_axum::{Principal, Source, TokenError};

#[tokio::test]
async fn sdk_verifies_a_login_token_locally_and_matches_auth_me() {
    let app = spawn_at_own_address(|_| {}).await;
    let acme = acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let guildhall = Guildhall::builder(&app.address)
        .clock(app_clock(&app, chrono::Duration::zero()))
        .build()
        .unwrap();

    let user = guildhall.user(&token).await.unwrap();
    let me = body(app.get_with("/auth/me", &token).await).await;

    assert_eq!(user.source, Source::Local);
    assert_eq!(user.user_id.to_string(), me["id"].as_str().unwrap());
    assert_eq!(user.user_id.to_string(), acme.ada);
    assert_eq!(user.session_id.to_string(), claims_of(&token)["sid"].as_str().unwrap());
    assert_eq!(user.email, me["email"].as_str().unwrap());
    assert_eq!(user.name, me["name"].as_str().unwrap());
    assert_eq!(
        json!(user.org),
        json!({"id": me["org"]["id"], "slug": me["org"]["slug"]})
    );
    assert_eq!(json!(user.roles), me["roles"]);
    assert_eq!(json!(user.permissions), me["permissions"]);
    assert_eq!(
        json!(user.teams),
        json!([{"id": acme.team, "slug": "platform", "role": "maintainer"}])
    );
    assert_eq!(user.teams[0].id.to_string(), me["teams"][0]["id"].as_str().unwrap());
    assert_eq!(user.domains, ["engineering"], "the token carries the assigned node");
    let expanded: Vec<&str> = me["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(expanded, ["engineering", "engineering/backend"]);
    assert!(expanded.iter().all(|path| user.has_domain(path)), "{expanded:?}");
    assert_eq!(user.mv, claims_of(&token)["mv"].as_i64().unwrap());
    assert_eq!(guildhall.stats().validate_calls, 0, "verified without asking guildhall");
}

#[tokio::test]
async fn sdk_has_domain_grants_a_domain_and_its_subtree_only() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let user = sdk(&app).build().unwrap().user(&token).await.unwrap();
    for (path, granted) in [
        ("engineering", true),
        ("engineering/backend", true),
        ("engineering/backend/db", true),
        ("engineering-x", false),
        ("engineering-x/backend", false),
        ("engineer", false),
        ("backend", false),
    ] {
        assert_eq!(user.has_domain(path), granted, "{path}");
    }
    assert!(user.in_team("platform") && user.team_role("platform") == Some("maintainer"));
    assert!(user.has_role("member") && !user.has_role("admin"));
}

#[tokio::test]
async fn sdk_refuses_forged_and_malformed_tokens_with_their_codes() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let (_, refresh) = tokens(&app.login_ok("ada@example.test", PASSWORD).await);
    let guildhall = sdk(&app).build().unwrap();
    assert!(guildhall.user(&token).await.is_ok(), "the untouched token verifies");

    let (message, signature) = token.rsplit_once('.').unwrap();
    let flipped = {
        let mut chars: Vec<char> = signature.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let cases = [
        ("signature changed", format!("{message}.{flipped}"), "invalid_signature"),
        (
            "claims changed",
            with_claims(&token, |c| c["roles"] = json!(["owner"])),
            "invalid_signature",
        ),
        (
            "alg RS256 on an ES256 key",
            with_header(&token, |h| h["alg"] = json!("RS256")),
            "algorithm_not_allowed",
        ),
        (
            "alg HS256 without a shared secret",
            with_header(&token, |h| h["alg"] = json!("HS256")),
            "algorithm_not_allowed",
        ),
        (
            "alg none",
            format!("{}.", with_header(message, |h| h["alg"] = json!("none"))),
            "algorithm_not_allowed",
        ),
        (
            "typ JWT (an ID token)",
            with_header(&token, |h| h["typ"] = json!("JWT")),
            "wrong_token_type",
        ),
        ("no kid", with_header(&token, |h| h["kid"] = Value::Null), "unknown_key"),
        ("four segments", format!("{token}.{signature}"), "malformed_token"),
        ("an opaque refresh token", refresh, "malformed_token"),
        ("garbage", "not a token".to_owned(), "malformed_token"),
    ];
    for (name, forged, code) in cases {
        assert_eq!(outcome(&guildhall.user(&forged).await), code, "{name}");
    }
}

#[tokio::test]
async fn sdk_pins_audience_and_issuer() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    assert!(
        sdk(&app)
            .audience("guildhall")
            .build()
            .unwrap()
            .user(&token)
            .await
            .is_ok()
    );

    let billing = sdk(&app).audience("billing").build().unwrap();
    assert_eq!(outcome(&billing.user(&token).await), "invalid_audience");

    // An SDK told another issuer finds guildhall's discovery naming its own and fetches no keys.
    let wrong = Guildhall::builder("http://evil.test")
        .base_url(&app.address)
        .build()
        .unwrap();
    let refused = wrong.discover().await.unwrap_err();
    assert_eq!(refused.code(), "guildhall_unavailable");
    assert!(refused.to_string().contains("http://guildhall.test"), "{refused}");
    assert_eq!(wrong.stats().jwks_fetches, 0);
    assert_eq!(outcome(&wrong.user(&token).await), "guildhall_unavailable");
}

#[tokio::test]
async fn sdk_checks_expiry_and_not_before_on_its_clock_with_leeway() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let guildhall = sdk(&app).build().unwrap();
    let ttl = chrono::Duration::seconds(1800);
    assert!(guildhall.user(&token).await.is_ok());

    app.advance(ttl + chrono::Duration::seconds(20));
    assert!(
        guildhall.user(&token).await.is_ok(),
        "20 s past exp is within the 30 s leeway"
    );
    app.advance(chrono::Duration::seconds(15));
    assert_eq!(outcome(&guildhall.user(&token).await), "token_expired");
    let strict = sdk(&app).leeway(std::time::Duration::ZERO).build().unwrap();
    app.advance(-chrono::Duration::seconds(30));
    assert_eq!(
        outcome(&strict.user(&token).await),
        "token_expired",
        "5 s past exp, no leeway"
    );

    // A service whose clock runs ten minutes behind sees the token as not valid yet.
    let behind = sdk(&app)
        .clock(app_clock(&app, -(ttl + chrono::Duration::minutes(10))))
        .build()
        .unwrap();
    assert_eq!(outcome(&behind.user(&token).await), "token_not_yet_valid");
}

#[tokio::test]
async fn sdk_refuses_service_accounts_where_a_user_is_required() {
    let app = spawn_app().await;
    let acme = acme_with_ada(&app).await;
    let token = service_token(&app, &acme.org).await;
    let guildhall = sdk(&app).build().unwrap();

    let refused = guildhall.user(&token).await.unwrap_err();
    assert_eq!(refused.token_error(), Some(&TokenError::NotAUserToken));
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(outcome(&guildhall.user_fresh(&token).await), "not_a_user_token");
    match guildhall.verify(&token).await.unwrap() {
        Principal::Service(service) => {
            assert_eq!(service.client_id, claims_of(&token)["client_id"].as_str().unwrap());
            assert_eq!(service.org.slug, "acme");
            assert!(service.has_permission("read:posts") && !service.has_permission("write:posts"));
        }
        other => panic!("a service account's token is a service principal: {other:?}"),
    }
}

#[tokio::test]
async fn sdk_verifies_hs256_only_with_the_shared_secret_or_through_validate() {
    let secret = "a shared secret of at least 32 bytes!";
    let app = spawn_app_with(|s| {
        s.jwt_algorithm = "HS256".into();
        s.jwt_secret = Some(secret.into());
    })
    .await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;

    let with_secret = sdk(&app).hs256_secret(secret).build().unwrap();
    assert_eq!(with_secret.user(&token).await.unwrap().source, Source::Local);
    let other_secret = sdk(&app)
        .hs256_secret("another secret of at least 32 bytes")
        .build()
        .unwrap();
    assert_eq!(outcome(&other_secret.user(&token).await), "invalid_signature");
    let without = sdk(&app).build().unwrap();
    assert_eq!(outcome(&without.user(&token).await), "algorithm_not_allowed");
    let validating = sdk(&app).always_validate().build().unwrap();
    assert_eq!(validating.user(&token).await.unwrap().source, Source::Validated);
    assert_eq!(without.stats().jwks_fetches, 0, "HMAC tokens never look for keys");
}
