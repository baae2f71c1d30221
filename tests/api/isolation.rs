//! Tenant isolation: every id-taking route, called with a token of another organisation, answers
//! 404 exactly as for a missing id, and changes nothing.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Tenant {
    provider: String,
    app: String,
    org: Org,
    team: String,
    domain: String,
    role: String,
    account: String,
    user: String,
}

async fn tenant(app: &TestApp, slug: &str) -> Tenant {
    let org = app.create_org(slug).await;
    let t = &org.admin_token;
    let user = app.user_in(t, &org.id, &format!("user@{slug}.test"), &["member"]).await;
    let team = app.create_team(t, "team").await;
    app.expect(
        "PUT",
        &format!("/teams/{team}/members/{user}"),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let domain = app.create_domain(t, "domain", None).await;
    app.expect(
        "PUT",
        &format!("/domains/{domain}/users/{user}"),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let role = app
        .expect(
            "POST",
            &format!("/orgs/{}/roles", org.id),
            t,
            Some(json!({"key": "custom"})),
            StatusCode::CREATED,
        )
        .await;
    let account = app
        .expect(
            "POST",
            &format!("/orgs/{}/service-accounts", org.id),
            t,
            Some(json!({"name": "svc"})),
            StatusCode::CREATED,
        )
        .await;
    let provider =
        json!({"slug": format!("{slug}-sso"), "name": "SSO", "issuer": "https://sso.example.test", "client_id": "x"});
    let provider = app
        .expect(
            "POST",
            &format!("/orgs/{}/identity-providers", org.id),
            t,
            Some(provider),
            StatusCode::CREATED,
        )
        .await;
    let registered = app
        .expect(
            "POST",
            &format!("/orgs/{}/clients", org.id),
            t,
            Some(json!({"name": "Wiki", "kind": "confidential", "redirect_uris": ["https://wiki.example/cb"]})),
            StatusCode::CREATED,
        )
        .await;
    Tenant {
        provider: provider["id"].as_str().unwrap().into(),
        app: registered["id"].as_str().unwrap().into(),
        team,
        domain,
        role: role["id"].as_str().unwrap().into(),
        account: account["id"].as_str().unwrap().into(),
        user,
        org,
    }
}

#[tokio::test]
async fn every_id_taking_route_hides_other_organisations() {
    let app = spawn_app().await;
    let a = tenant(&app, "acme").await;
    let b = tenant(&app, "globex").await;
    let (o, t, d, r, s, u, p) = (&b.org.id, &b.team, &b.domain, &b.role, &b.account, &b.user, &b.provider);
    let c = &b.app;
    let app_body = json!({"name": "Owned", "kind": "public", "redirect_uris": ["https://evil.example/cb"]});
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/teams/{t}"), None),
        ("PATCH", format!("/teams/{t}"), Some(json!({"name": "owned"}))),
        ("DELETE", format!("/teams/{t}"), None),
        ("GET", format!("/teams/{t}/members"), None),
        ("PUT", format!("/teams/{t}/members/{u}"), None),
        ("DELETE", format!("/teams/{t}/members/{u}"), None),
        ("PUT", format!("/teams/{}/members/{u}", a.team), None),
        ("GET", format!("/domains/{d}"), None),
        ("PATCH", format!("/domains/{d}"), Some(json!({"name": "owned"}))),
        ("DELETE", format!("/domains/{d}"), None),
        ("PUT", format!("/domains/{d}/users/{u}"), None),
        ("DELETE", format!("/domains/{d}/users/{u}"), None),
        ("PUT", format!("/domains/{}/users/{u}", a.domain), None),
        ("GET", format!("/orgs/{o}"), None),
        ("PATCH", format!("/orgs/{o}"), Some(json!({"name": "owned"}))),
        ("GET", format!("/orgs/{o}/members"), None),
        (
            "POST",
            format!("/orgs/{o}/members"),
            Some(json!({"email": a.org.admin_email})),
        ),
        (
            "PUT",
            format!("/orgs/{o}/members/{u}"),
            Some(json!({"roles": ["admin"]})),
        ),
        ("DELETE", format!("/orgs/{o}/members/{u}"), None),
        (
            "PUT",
            format!("/orgs/{}/members/{u}", a.org.id),
            Some(json!({"roles": ["admin"]})),
        ),
        ("DELETE", format!("/orgs/{}/members/{u}", a.org.id), None),
        ("DELETE", format!("/orgs/{o}/members/{u}/mfa"), None),
        ("DELETE", format!("/orgs/{}/members/{u}/mfa", a.org.id), None),
        ("GET", format!("/orgs/{o}/roles"), None),
        ("POST", format!("/orgs/{o}/roles"), Some(json!({"key": "sneaky"}))),
        (
            "PATCH",
            format!("/orgs/{o}/roles/{r}"),
            Some(json!({"permissions": ["*"]})),
        ),
        ("DELETE", format!("/orgs/{o}/roles/{r}"), None),
        (
            "PATCH",
            format!("/orgs/{}/roles/{r}", a.org.id),
            Some(json!({"permissions": ["*"]})),
        ),
        ("GET", format!("/orgs/{o}/service-accounts"), None),
        (
            "POST",
            format!("/orgs/{o}/service-accounts"),
            Some(json!({"name": "sneaky"})),
        ),
        ("DELETE", format!("/orgs/{o}/service-accounts/{s}"), None),
        ("DELETE", format!("/orgs/{}/service-accounts/{s}", a.org.id), None),
        ("GET", format!("/orgs/{o}/identity-providers"), None),
        (
            "POST",
            format!("/orgs/{o}/identity-providers"),
            Some(json!({"slug": "sneaky", "name": "x", "issuer": "https://x.test", "client_id": "x"})),
        ),
        ("GET", format!("/orgs/{o}/identity-providers/{p}"), None),
        (
            "PUT",
            format!("/orgs/{o}/identity-providers/{p}"),
            Some(json!({"slug": "sneaky", "name": "x", "issuer": "https://x.test", "client_id": "x"})),
        ),
        ("DELETE", format!("/orgs/{o}/identity-providers/{p}"), None),
        ("GET", format!("/orgs/{}/identity-providers/{p}", a.org.id), None),
        ("DELETE", format!("/orgs/{}/identity-providers/{p}", a.org.id), None),
        ("GET", format!("/orgs/{o}/clients"), None),
        ("POST", format!("/orgs/{o}/clients"), Some(app_body.clone())),
        ("GET", format!("/orgs/{o}/clients/{c}"), None),
        ("PUT", format!("/orgs/{o}/clients/{c}"), Some(app_body.clone())),
        ("POST", format!("/orgs/{o}/clients/{c}/secret"), None),
        ("DELETE", format!("/orgs/{o}/clients/{c}"), None),
        ("GET", format!("/orgs/{}/clients/{c}", a.org.id), None),
        ("PUT", format!("/orgs/{}/clients/{c}", a.org.id), Some(app_body.clone())),
        ("POST", format!("/orgs/{}/clients/{c}/secret", a.org.id), None),
        ("DELETE", format!("/orgs/{}/clients/{c}", a.org.id), None),
        ("GET", format!("/admin/users/{u}"), None),
        ("PATCH", format!("/admin/users/{u}"), Some(json!({"name": "owned"}))),
        ("DELETE", format!("/admin/users/{u}"), None),
    ];
    for (method, path, body) in &routes {
        let foreign = app.send(method, path, &a.org.admin_token, body.clone()).await;
        let missing_path = path
            .replace(t.as_str(), &uuid::Uuid::new_v4().to_string())
            .replace(d.as_str(), &uuid::Uuid::new_v4().to_string())
            .replace(o.as_str(), &uuid::Uuid::new_v4().to_string())
            .replace(r.as_str(), &uuid::Uuid::new_v4().to_string())
            .replace(s.as_str(), &uuid::Uuid::new_v4().to_string())
            .replace(u.as_str(), &uuid::Uuid::new_v4().to_string())
            .replace(p.as_str(), &uuid::Uuid::new_v4().to_string())
            .replace(c.as_str(), &uuid::Uuid::new_v4().to_string());
        let missing = app.send(method, &missing_path, &a.org.admin_token, body.clone()).await;
        assert_eq!(
            foreign.status(),
            StatusCode::NOT_FOUND,
            "{method} {path} with another organisation's token"
        );
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{method} {missing_path}");
        let mut fb = body_of(foreign).await;
        let mut mb = body_of(missing).await;
        fb.as_object_mut().unwrap().remove("request_id");
        mb.as_object_mut().unwrap().remove("request_id");
        assert_eq!(fb, mb, "{method} {path}: foreign and missing look the same");
    }
    // Nothing changed in globex.
    let bt = &b.org.admin_token;
    assert_eq!(
        app.expect("GET", &format!("/teams/{t}"), bt, None, StatusCode::OK)
            .await["name"],
        "team"
    );
    assert_eq!(
        app.expect("GET", &format!("/domains/{d}"), bt, None, StatusCode::OK)
            .await["name"],
        "domain"
    );
    assert_eq!(
        app.expect("GET", &format!("/orgs/{o}"), bt, None, StatusCode::OK).await["name"],
        "GLOBEX"
    );
    assert_eq!(
        app.expect("GET", &format!("/teams/{t}/members"), bt, None, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let roles = app
        .expect("GET", &format!("/orgs/{o}/roles"), bt, None, StatusCode::OK)
        .await;
    assert_eq!(roles.as_array().unwrap().len(), 4);
    assert_eq!(
        app.expect("GET", &format!("/orgs/{o}/service-accounts"), bt, None, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let wiki = app
        .expect("GET", &format!("/orgs/{o}/clients/{c}"), bt, None, StatusCode::OK)
        .await;
    assert_eq!(
        (wiki["name"].as_str(), wiki["kind"].as_str()),
        (Some("Wiki"), Some("confidential"))
    );
    let user_token = app.token_in(&format!("user@{}.test", b.org.slug), "globex").await;
    let v = app.validate(&user_token).await;
    assert_eq!(v["user"]["roles"], json!(["member"]));
    assert_eq!(v["user"]["teams"].as_array().unwrap().len(), 1);
    assert_eq!(v["user"]["domains"].as_array().unwrap().len(), 1);
}

async fn body_of(response: reqwest::Response) -> Value {
    body(response).await
}

#[tokio::test]
async fn an_organisation_id_in_a_body_or_header_never_overrides_the_token() {
    let app = spawn_app().await;
    let a = app.create_org("acme").await;
    let b = app.create_org("globex").await;
    let response = app
        .client
        .post(app.url("/teams"))
        .bearer_auth(&a.admin_token)
        .header("x-organization-id", &b.id)
        .json(&json!({"slug": "t", "name": "T", "org_id": b.id}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let response = app
        .client
        .post(app.url("/teams"))
        .bearer_auth(&a.admin_token)
        .header("x-organization-id", &b.id)
        .json(&json!({"slug": "t", "name": "T"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        app.expect("GET", "/teams/all", &b.admin_token, None, StatusCode::OK)
            .await["total"],
        0
    );
    assert_eq!(
        app.expect("GET", "/teams/all", &a.admin_token, None, StatusCode::OK)
            .await["total"],
        1
    );
}

/// The owner boundary: ids that belong to a user (a login session, a passkey), named by another
/// user of the same organisation, answer 404 exactly as a missing id, and change nothing.
#[tokio::test]
async fn every_user_owned_id_hides_other_users() {
    use crate::passkeys::{authenticator, register, spawn};
    let app = spawn().await;
    let acme = app.create_org("acme").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    app.user_in(&acme.admin_token, &acme.id, "bob@acme.test", &["member"])
        .await;
    let ada = app.token_in("ada@acme.test", "acme").await;
    let bob = app.token_in("bob@acme.test", "acme").await;
    let passkey = register(&app, &ada, &mut authenticator(), "Laptop").await["passkey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions = app.expect("GET", "/auth/sessions", &ada, None, StatusCode::OK).await;
    let session = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();
    let routes: Vec<(&str, &str, Option<Value>)> = vec![
        ("DELETE", "/auth/sessions/{id}", None),
        ("PATCH", "/auth/mfa/webauthn/{id}", Some(json!({"name": "mine"}))),
        ("DELETE", "/auth/mfa/webauthn/{id}", Some(json!({"code": "123456"}))),
    ];
    for (method, template, body) in &routes {
        let id = if template.contains("sessions") {
            &session
        } else {
            &passkey
        };
        let path = template.replace("{id}", id);
        let foreign = app.send(method, &path, &bob, body.clone()).await;
        let missing_path = template.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let missing = app.send(method, &missing_path, &bob, body.clone()).await;
        assert_eq!(
            foreign.status(),
            StatusCode::NOT_FOUND,
            "{method} {path} with another user's token"
        );
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{method} {missing_path}");
        let mut fb = body_of(foreign).await;
        let mut mb = body_of(missing).await;
        fb.as_object_mut().unwrap().remove("request_id");
        mb.as_object_mut().unwrap().remove("request_id");
        assert_eq!(fb, mb, "{method} {path}: foreign and missing look the same");
    }
    // Ada's session and passkey are as they were.
    assert_eq!(app.me_status(&ada).await, StatusCode::OK);
    let listed = app
        .expect("GET", "/auth/mfa/webauthn", &ada, None, StatusCode::OK)
        .await;
    assert_eq!(listed["passkeys"][0]["name"], "Laptop");
}

/// A linked identity provider is the user's own: another user's id answers as a missing one.
#[tokio::test]
async fn a_linked_identity_hides_from_other_users() {
    use crate::fake_idp::FakeIdp;
    use crate::oidc::{acme_with, log_in};
    use crate::oidc_support::{exchange, spawn_oidc_app};
    let app = spawn_oidc_app().await;
    let idp = FakeIdp::start().await;
    let acme = acme_with(&app, &idp, |_| {}).await;
    idp.set_account(json!({"sub": "ada-1", "email": "ada@acme.test", "email_verified": true}));
    let ada = exchange(&app, &log_in(&app).await["code"]).await;
    let ada = ada["access_token"].as_str().unwrap().to_owned();
    app.user_in(&acme.admin_token, &acme.id, "bob@acme.test", &["member"])
        .await;
    let bob = app.token_in("bob@acme.test", "acme").await;
    let link = app
        .expect("GET", "/auth/me/identities", &ada, None, StatusCode::OK)
        .await["identities"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = app
        .send("DELETE", &format!("/auth/me/identities/{link}"), &bob, None)
        .await;
    let missing_path = format!("/auth/me/identities/{}", uuid::Uuid::new_v4());
    let missing = app.send("DELETE", &missing_path, &bob, None).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let mut fb = body_of(foreign).await;
    let mut mb = body_of(missing).await;
    fb.as_object_mut().unwrap().remove("request_id");
    mb.as_object_mut().unwrap().remove("request_id");
    assert_eq!(fb, mb, "foreign and missing look the same");
    let listed = app
        .expect("GET", "/auth/me/identities", &ada, None, StatusCode::OK)
        .await;
    assert_eq!(listed["identities"][0]["id"], link.as_str(), "Ada's link is as it was");
}
