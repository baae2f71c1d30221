//! Verified email domains, against a real DNS server on loopback (`crate::dns`): the TXT
//! challenge, wrong or missing records, one organisation per verified domain, what a verified
//! domain enables (identity providers, discovery, auto_join), seeding, and bad input.
use crate::dns::DnsServer;
use crate::helpers::*;
use crate::mail::{VERIFY_SUBJECT, next_mail_about, smtp_sink, token_in};
use guildhall::store::Conn;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn app_with_dns(dns: &DnsServer) -> TestApp {
    let resolver = dns.addr.to_string();
    spawn_app_with(|s| s.consent.dns_resolver = Some(resolver)).await
}

fn domains(org: &Org) -> String {
    format!("/orgs/{}/email-domains", org.id)
}

/// Claims `domain` for `org`, publishes its challenge and verifies it.
async fn prove(app: &TestApp, dns: &DnsServer, org: &Org, domain: &str, policy: Value) -> Value {
    let mut body = json!({"domain": domain});
    if let Value::Object(more) = policy {
        body.as_object_mut().unwrap().extend(more);
    }
    let claimed = app
        .expect("POST", &domains(org), &org.admin_token, Some(body), StatusCode::CREATED)
        .await;
    let record = &claimed["txt_record"];
    dns.set_txt(record["name"].as_str().unwrap(), &[record["value"].as_str().unwrap()]);
    let verify = format!("{}/{domain}/verify", domains(org));
    app.expect("POST", &verify, &org.admin_token, None, StatusCode::OK)
        .await
}

#[tokio::test]
async fn a_domain_is_verified_by_its_txt_record_and_nothing_else() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    let acme = app.create_org("acme").await;
    let t = &acme.admin_token;
    let claimed = app
        .expect(
            "POST",
            &domains(&acme),
            t,
            Some(json!({"domain": "Acme.Test"})),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(claimed["domain"], "acme.test");
    assert_eq!(claimed["verified"], false);
    assert_eq!(claimed["join_policy"], "invite_only");
    assert_eq!(claimed["txt_record"]["name"], "_guildhall-challenge.acme.test");
    assert_eq!(claimed["txt_record"]["type"], "TXT");
    let value = claimed["txt_record"]["value"].as_str().unwrap();
    assert!(
        value.starts_with("guildhall-domain-verification=") && value.len() > 60,
        "{value}"
    );

    let verify = format!("{}/acme.test/verify", domains(&acme));
    let missing = app.send("POST", &verify, t, None).await;
    expect_error(missing, StatusCode::CONFLICT, "dns_record_not_found").await;
    dns.set_txt(
        "_guildhall-challenge.acme.test",
        &["v=spf1 -all", "guildhall-domain-verification=wrong"],
    );
    let wrong = app.send("POST", &verify, t, None).await;
    expect_error(wrong, StatusCode::CONFLICT, "dns_record_mismatch").await;
    let listed = app.expect("GET", &domains(&acme), t, None, StatusCode::OK).await;
    assert_eq!(listed[0]["verified"], false, "still unverified");
    let before = dns.queries();
    assert!(before >= 2, "the lookups went to the DNS server: {before}");

    dns.set_txt("_guildhall-challenge.acme.test", &["v=spf1 -all", value]);
    let verified = app.expect("POST", &verify, t, None, StatusCode::OK).await;
    assert_eq!(verified["verified"], true);
    assert!(verified["verified_at"].is_string());
    let listed = app.expect("GET", &domains(&acme), t, None, StatusCode::OK).await;
    assert_eq!(listed[0]["verified"], true);
    app.expect("POST", &verify, t, None, StatusCode::OK).await;
    assert_eq!(
        dns.queries(),
        before + 1,
        "verified once; asking again looks nothing up"
    );
}

#[tokio::test]
async fn one_organisation_per_verified_domain() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    // Both claim; each has its own challenge, so acme's record proves nothing for globex.
    let theirs = app
        .expect(
            "POST",
            &domains(&globex),
            &globex.admin_token,
            Some(json!({"domain": "acme.test"})),
            StatusCode::CREATED,
        )
        .await;
    let ours = prove(&app, &dns, &acme, "acme.test", Value::Null).await;
    assert_ne!(ours["txt_record"]["value"], theirs["txt_record"]["value"]);
    let verify = format!("{}/acme.test/verify", domains(&globex));
    let mismatch = app.send("POST", &verify, &globex.admin_token, None).await;
    expect_error(mismatch, StatusCode::CONFLICT, "dns_record_mismatch").await;
    // Even with its own record published too, the domain is taken.
    let name = "_guildhall-challenge.acme.test";
    dns.set_txt(
        name,
        &[
            ours["txt_record"]["value"].as_str().unwrap(),
            theirs["txt_record"]["value"].as_str().unwrap(),
        ],
    );
    let taken = app.send("POST", &verify, &globex.admin_token, None).await;
    expect_error(taken, StatusCode::CONFLICT, "domain_claimed").await;
    app.expect(
        "DELETE",
        &format!("{}/acme.test", domains(&globex)),
        &globex.admin_token,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let claim = app
        .send(
            "POST",
            &domains(&globex),
            &globex.admin_token,
            Some(json!({"domain": "acme.test"})),
        )
        .await;
    expect_error(claim, StatusCode::CONFLICT, "domain_claimed").await;
    // Another organisation's domains are not found.
    let path = format!("{}/acme.test", domains(&acme));
    for (method, path) in [
        ("POST", format!("{path}/verify")),
        ("PATCH", path.clone()),
        ("DELETE", path),
    ] {
        let body = (method == "PATCH").then(|| json!({"join_policy": "invite_only"}));
        let refused = app.send(method, &path, &globex.admin_token, body).await;
        expect_error(refused, StatusCode::NOT_FOUND, "not_found").await;
    }
    let listed = app.send("GET", &domains(&acme), &globex.admin_token, None).await;
    expect_error(listed, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn bad_input_and_an_unreachable_resolver() {
    // A port nothing listens on: the lookup fails, which is not the same as no record.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = spawn_app_with(|s| s.consent.dns_resolver = Some(closed.to_string())).await;
    let acme = app.create_org("acme").await;
    let t = &acme.admin_token;
    let cases = [
        (json!({"domain": "nodot"}), "domain"),
        (json!({"domain": "acme.test", "join_policy": "everyone"}), "join_policy"),
        (
            json!({"domain": "acme.test", "join_policy": "auto_join", "roles": ["owner"]}),
            "roles",
        ),
        (
            json!({"domain": "acme.test", "join_policy": "auto_join", "roles": ["ghost"]}),
            "roles",
        ),
        (json!({"domain": "acme.test", "roles": ["member"]}), "roles"),
    ];
    for (body, field) in cases {
        let refused = app.send("POST", &domains(&acme), t, Some(body.clone())).await;
        let refused = expect_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(refused["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(
        app.expect("GET", &domains(&acme), t, None, StatusCode::OK).await,
        json!([]),
        "nothing written"
    );
    app.expect(
        "POST",
        &domains(&acme),
        t,
        Some(json!({"domain": "acme.test"})),
        StatusCode::CREATED,
    )
    .await;
    let twice = app
        .send("POST", &domains(&acme), t, Some(json!({"domain": "acme.test"})))
        .await;
    expect_error(twice, StatusCode::CONFLICT, "email_domain_exists").await;
    let down = app
        .send("POST", &format!("{}/acme.test/verify", domains(&acme)), t, None)
        .await;
    expect_error(down, StatusCode::BAD_GATEWAY, "dns_unavailable").await;
    let unknown = app
        .send("POST", &format!("{}/globex.test/verify", domains(&acme)), t, None)
        .await;
    expect_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let member = app.user_in(t, &acme.id, "m@acme.test", &["member"]).await;
    let _ = member;
    let member_token = app.token_in("m@acme.test", "acme").await;
    let forbidden = app
        .send(
            "POST",
            &domains(&acme),
            &member_token,
            Some(json!({"domain": "b.test"})),
        )
        .await;
    expect_error(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn providers_serve_only_verified_domains_and_discovery_lists_only_those() {
    let dns = DnsServer::start().await;
    let app = app_with_dns(&dns).await;
    let acme = app.create_org("acme").await;
    let t = &acme.admin_token;
    let providers = format!("/orgs/{}/identity-providers", acme.id);
    let provider = json!({"slug": "acme-sso", "name": "Acme SSO", "issuer": "https://sso.acme.test",
        "client_id": "guildhall", "email_domains": ["acme.test"]});
    let refused = app.send("POST", &providers, t, Some(provider.clone())).await;
    let refused = expect_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(refused["errors"][0]["field"], "email_domains[0]");
    // Claimed is not enough.
    app.expect(
        "POST",
        &domains(&acme),
        t,
        Some(json!({"domain": "acme.test"})),
        StatusCode::CREATED,
    )
    .await;
    let refused = app.send("POST", &providers, t, Some(provider.clone())).await;
    expect_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let verify = format!("{}/acme.test/verify", domains(&acme));
    let listed = app.expect("GET", &domains(&acme), t, None, StatusCode::OK).await;
    dns.set_txt(
        "_guildhall-challenge.acme.test",
        &[listed[0]["txt_record"]["value"].as_str().unwrap()],
    );
    app.expect("POST", &verify, t, None, StatusCode::OK).await;
    app.expect("POST", &providers, t, Some(provider), StatusCode::CREATED)
        .await;

    let found = body(
        app.post_json("/auth/oidc/discover", &json!({"email": "dana@acme.test"}))
            .await,
    )
    .await;
    assert_eq!(found["providers"][0]["slug"], "acme-sso");
    let in_use = app
        .send("DELETE", &format!("{}/acme.test", domains(&acme)), t, None)
        .await;
    expect_error(in_use, StatusCode::CONFLICT, "domain_in_use").await;

    // A provider stored before domains were verified (an upgrade) is not discovered.
    let db = app.handle.db();
    let unverify = "UPDATE email_domains SET verified_at = NULL, verified_domain = NULL";
    db.execute_unprepared(unverify).await.unwrap();
    let found = body(
        app.post_json("/auth/oidc/discover", &json!({"email": "dana@acme.test"}))
            .await,
    )
    .await;
    assert_eq!(found["providers"], json!([]));
}

#[tokio::test]
async fn a_verified_address_in_an_auto_join_domain_joins_on_its_own() {
    let dns = DnsServer::start().await;
    let (url, mut mail) = smtp_sink().await;
    let resolver = dns.addr.to_string();
    let app = spawn_app_with(|s| {
        s.consent.dns_resolver = Some(resolver);
        s.outbound.smtp_url = Some(url);
    })
    .await;
    let acme = app.create_org("acme").await;
    let globex = app.create_org("globex").await;
    app.expect(
        "POST",
        &format!("/orgs/{}/roles", acme.id),
        &acme.admin_token,
        Some(json!({"key": "staff", "permissions": ["read:wiki"]})),
        StatusCode::CREATED,
    )
    .await;
    prove(
        &app,
        &dns,
        &acme,
        "acme.test",
        json!({"join_policy": "auto_join", "roles": ["staff"]}),
    )
    .await;
    prove(&app, &dns, &globex, "globex.test", Value::Null).await;

    let (ada, _) = tokens(&app.register("ada@acme.test").await);
    let verification = token_in(&next_mail_about(&mut mail, VERIFY_SUBJECT).await.data);
    let joinable = app
        .expect("GET", "/auth/organizations/joinable", &ada, None, StatusCode::OK)
        .await;
    assert_eq!(
        joinable["organizations"],
        json!([]),
        "an unverified address joins nothing"
    );
    let refused = app.send("POST", "/auth/organizations/acme/join", &ada, None).await;
    expect_error(refused, StatusCode::FORBIDDEN, "email_not_verified").await;

    app.post_json("/auth/email/verify", &json!({"token": verification}))
        .await;
    let joinable = app
        .expect("GET", "/auth/organizations/joinable", &ada, None, StatusCode::OK)
        .await;
    assert_eq!(joinable["organizations"][0]["organization"]["slug"], "acme");
    assert_eq!(joinable["organizations"][0]["roles"], json!(["staff"]));
    let other = app.send("POST", "/auth/organizations/globex/join", &ada, None).await;
    expect_error(other, StatusCode::NOT_FOUND, "not_found").await;
    let joined = app
        .expect("POST", "/auth/organizations/acme/join", &ada, None, StatusCode::CREATED)
        .await;
    assert_eq!(joined["roles"], json!(["staff"]));
    let in_acme = app.token_in("ada@acme.test", "acme").await;
    assert_eq!(claims_of(&in_acme)["permissions"], json!(["read:wiki"]));
    let again = app.send("POST", "/auth/organizations/acme/join", &ada, None).await;
    expect_error(again, StatusCode::CONFLICT, "already_a_member").await;

    // Removed by an admin: no longer joinable on one's own.
    let me = body(app.get_with("/auth/me", &ada).await).await;
    let member = format!("/orgs/{}/members/{}", acme.id, me["id"].as_str().unwrap());
    app.expect("DELETE", &member, &acme.admin_token, None, StatusCode::NO_CONTENT)
        .await;
    let joinable = app
        .expect("GET", "/auth/organizations/joinable", &ada, None, StatusCode::OK)
        .await;
    assert_eq!(joinable["organizations"], json!([]));
    let back = app.send("POST", "/auth/organizations/acme/join", &ada, None).await;
    expect_error(back, StatusCode::NOT_FOUND, "not_found").await;

    // invite_only (the default, and after a change back) lists nothing.
    let path = format!("{}/acme.test", domains(&acme));
    let changed = app
        .expect(
            "PATCH",
            &path,
            &acme.admin_token,
            Some(json!({"join_policy": "invite_only"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(changed["join_policy"], "invite_only");
    app.register("bo@globex.test").await;
    let bo_token = token_in(&next_mail_about(&mut mail, VERIFY_SUBJECT).await.data);
    app.post_json("/auth/email/verify", &json!({"token": bo_token})).await;
    let bo = app.token_in("bo@globex.test", "default").await;
    let joinable = app
        .expect("GET", "/auth/organizations/joinable", &bo, None, StatusCode::OK)
        .await;
    assert_eq!(joinable["organizations"], json!([]));
}

#[tokio::test]
async fn seed_documents_declare_verified_domains() {
    let app = spawn_app().await;
    let root = app.superuser_token().await;
    let doc = json!({"orgs": [{"slug": "initech", "name": "Initech",
        "email_domains": [{"domain": "initech.test", "join_policy": "auto_join"}],
        "identity_providers": [{"slug": "initech-sso", "name": "Initech SSO", "issuer": "https://sso.initech.test",
            "client_id": "guildhall", "email_domains": ["initech.test"]}]}]});
    let applied = app
        .expect("POST", "/admin/seed", &root, Some(doc.clone()), StatusCode::OK)
        .await;
    assert!(
        applied.to_string().contains("email domain initech/initech.test"),
        "{applied}"
    );
    let again = app
        .expect("POST", "/admin/seed", &root, Some(doc), StatusCode::OK)
        .await;
    assert_eq!(again["summary"]["create"], 0);
    assert_eq!(again["summary"]["update"], 0);
    let orgs = app.expect("GET", "/orgs", &root, None, StatusCode::OK).await;
    let initech = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["slug"] == "initech")
        .unwrap();
    let listed = app
        .expect(
            "GET",
            &format!("/orgs/{}/email-domains", initech["id"].as_str().unwrap()),
            &root,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(listed[0]["verified"], true);
    assert_eq!(listed[0]["join_policy"], "auto_join");
    assert_eq!(listed[0]["roles"], json!(["member"]));

    let undeclared = json!({"orgs": [{"slug": "hooli", "name": "Hooli",
        "identity_providers": [{"slug": "hooli-sso", "name": "Hooli SSO", "issuer": "https://sso.hooli.test",
            "client_id": "guildhall", "email_domains": ["hooli.test"]}]}]});
    let refused = app.send("POST", "/admin/seed", &root, Some(undeclared)).await;
    let refused = expect_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(refused.to_string().contains("not a verified email domain"), "{refused}");
    let stolen = json!({"orgs": [{"slug": "hooli", "name": "Hooli", "email_domains": [{"domain": "initech.test"}]}]});
    let refused = app.send("POST", "/admin/seed", &root, Some(stolen)).await;
    let refused = expect_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(
        refused.to_string().contains("verified by another organisation"),
        "{refused}"
    );
    let orgs = app.expect("GET", "/orgs", &root, None, StatusCode::OK).await;
    assert!(!orgs.to_string().contains("hooli"), "nothing half-written");
}
