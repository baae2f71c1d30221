//! `/orgs/{id}/identity-providers`: CRUD, the secret never returned, validation.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

fn provider() -> serde_json::Value {
    json!({
        "slug": "acme-sso", "name": "Acme SSO", "issuer": "https://sso.acme.test/", "client_id": "guildhall",
        "client_secret": "s3cret", "email_domains": ["acme.test"], "jit": true,
        "mappings": [{"value": "engineers", "roles": ["member"], "teams": {"platform": "member"}}]
    })
}

#[tokio::test]
async fn providers_are_managed_and_their_secret_never_returned() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    // Providers may serve only verified email domains of their organisation.
    app.verified_email_domain(&acme.id, "acme.test", serde_json::Value::Null)
        .await;
    let t = &acme.admin_token;
    app.create_team(t, "platform").await;
    let base = format!("/orgs/{}/identity-providers", acme.id);
    let created = app
        .expect("POST", &base, t, Some(provider()), StatusCode::CREATED)
        .await;
    assert_eq!(
        created["issuer"], "https://sso.acme.test/",
        "kept exactly, as discovery compares it"
    );
    assert_eq!(created["has_client_secret"], true);
    assert_eq!(created["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(created["groups_claim"], "groups");
    assert!(!created.to_string().contains("s3cret"), "the secret is never returned");
    let id = created["id"].as_str().unwrap();
    let listed = app.expect("GET", &base, t, None, StatusCode::OK).await;
    assert!(!listed.to_string().contains("s3cret"));
    let mut changed = provider();
    changed["name"] = json!("Acme Login");
    changed.as_object_mut().unwrap().remove("client_secret");
    let updated = app
        .expect("PUT", &format!("{base}/{id}"), t, Some(changed), StatusCode::OK)
        .await;
    assert_eq!(updated["name"], "Acme Login");
    assert_eq!(updated["has_client_secret"], true, "omitting the secret keeps it");
    let mut public = provider();
    public["client_secret"] = json!(null);
    let public = app
        .expect("PUT", &format!("{base}/{id}"), t, Some(public), StatusCode::OK)
        .await;
    assert_eq!(public["has_client_secret"], false, "null removes it");
    expect_error(
        app.send("POST", &base, t, Some(provider())).await,
        StatusCode::CONFLICT,
        "provider_exists",
    )
    .await;
    app.expect("DELETE", &format!("{base}/{id}"), t, None, StatusCode::NO_CONTENT)
        .await;
    expect_error(
        app.send("GET", &format!("{base}/{id}"), t, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let audit = app
        .expect("GET", "/admin/audit?limit=200", t, None, StatusCode::OK)
        .await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "identity_provider.create")
    );
}

#[tokio::test]
async fn bad_providers_are_refused_with_their_fields() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    // Providers may serve only verified email domains of their organisation.
    app.verified_email_domain(&acme.id, "acme.test", serde_json::Value::Null)
        .await;
    let t = &acme.admin_token;
    let base = format!("/orgs/{}/identity-providers", acme.id);
    let cases = [
        ("issuer", json!("http://sso.acme.test")),
        ("issuer", json!("not a url")),
        ("scopes", json!(["email"])),
        ("email_domains", json!(["nodot"])),
        ("email_domains", json!(["unverified.test"])),
        ("mappings", json!([{"value": "x", "teams": {"ghosts": "member"}}])),
        ("mappings", json!([{"value": "x", "roles": ["ghost"]}])),
        ("slug", json!("Not A Slug")),
        ("client_id", json!("")),
    ];
    for (field, value) in cases {
        let mut body = provider();
        body["mappings"] = json!([]);
        body[field] = value.clone();
        let b = expect_error(
            app.send("POST", &base, t, Some(body)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(
            b["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"].as_str().unwrap().starts_with(field)),
            "{field}={value}: {b}"
        );
    }
    let mut unknown = provider();
    unknown["mappings"] = json!([]);
    unknown["colour"] = json!("red");
    expect_error(
        app.send("POST", &base, t, Some(unknown)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        app.expect("GET", &base, t, None, StatusCode::OK).await,
        json!([]),
        "nothing written"
    );
    let member = app.user_in(t, &acme.id, "ada@acme.test", &["member"]).await;
    let _ = member;
    let member_token = app.token_in("ada@acme.test", "acme").await;
    expect_error(
        app.send("GET", &base, &member_token, None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}
