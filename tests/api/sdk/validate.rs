//! The `/auth/validate` fallback: tokens past the claim budget, and fresh validation that sees
//! what a token issued earlier cannot.
use super::*;
use guildhall_axum::{Source, TokenError};

#[tokio::test]
async fn sdk_asks_validate_for_a_token_past_the_claim_budget() {
    let app = spawn_app_with(|s| s.claim_budget = 64).await;
    let acme = acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let claims = claims_of(&token);
    assert_eq!(claims["ctx"], "validate", "{claims}");
    assert!(claims.get("teams").is_none() && claims.get("domains").is_none());
    let guildhall = sdk(&app).build().unwrap();

    let user = guildhall.user(&token).await.unwrap();

    assert_eq!(user.source, Source::Validated);
    assert_eq!(user.user_id.to_string(), acme.ada);
    assert_eq!(user.session_id.to_string(), claims["sid"].as_str().unwrap());
    assert_eq!(user.mv, claims["mv"].as_i64().unwrap());
    assert_eq!(user.teams.len(), 1);
    assert_eq!(user.team_role("platform"), Some("maintainer"));
    assert_eq!(
        user.domains,
        ["engineering", "engineering/backend"],
        "expanded, as paths"
    );
    assert!(user.has_domain("engineering/backend") && !user.has_domain("engineering-x"));
    let stats = guildhall.stats();
    assert_eq!(stats.validate_calls, 1);
    assert_eq!(stats.jwks_fetches, 1, "the signature was checked locally first");

    let forged = with_claims(&token, |c| c["sub"] = json!(uuid::Uuid::new_v4()));
    assert_eq!(outcome(&guildhall.user(&forged).await), "invalid_signature");
    assert_eq!(
        guildhall.stats().validate_calls,
        1,
        "a forged token never reaches guildhall"
    );
}

#[tokio::test]
async fn sdk_fresh_validation_sees_role_changes_and_logout() {
    let app = spawn_app().await;
    let acme = acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let guildhall = sdk(&app).build().unwrap();
    assert_eq!(guildhall.user(&token).await.unwrap().roles, ["member"]);

    set_roles(&app, &acme, &["admin"]).await;

    let local = guildhall.user(&token).await.unwrap();
    assert_eq!(local.roles, ["member"], "the token still says what it said");
    let fresh = guildhall.user_fresh(&token).await.unwrap();
    assert_eq!(fresh.source, Source::Validated);
    assert_eq!(fresh.roles, ["admin"]);
    assert!(
        fresh.has_permission("anything"),
        "admin holds *: {:?}",
        fresh.permissions
    );
    assert_eq!(fresh.domains, ["engineering", "engineering/backend"]);
    let always = sdk(&app).always_validate().build().unwrap();
    assert_eq!(always.user(&token).await.unwrap().roles, ["admin"]);

    assert_eq!(
        app.post_with("/auth/logout", &token).await.status(),
        StatusCode::NO_CONTENT
    );

    assert!(
        guildhall.user(&token).await.is_ok(),
        "local verification cannot see the logout"
    );
    let refused = guildhall.user_fresh(&token).await.unwrap_err();
    assert_eq!(refused.token_error(), Some(&TokenError::SessionRevoked));
    assert_eq!(refused.code(), "session_revoked");
    assert_eq!(outcome(&always.user(&token).await), "session_revoked");
}

#[tokio::test]
async fn sdk_fresh_validation_checks_audience_and_expiry_before_asking() {
    let app = spawn_app().await;
    acme_with_ada(&app).await;
    let token = app.token_in("ada@example.test", "acme").await;
    let billing = sdk(&app).audience("billing").build().unwrap();
    assert_eq!(outcome(&billing.user_fresh(&token).await), "invalid_audience");
    let guildhall = sdk(&app).build().unwrap();
    app.advance(chrono::Duration::hours(1));
    assert_eq!(outcome(&guildhall.user_fresh(&token).await), "token_expired");
    assert_eq!(guildhall.stats().validate_calls + billing.stats().validate_calls, 0);
}
