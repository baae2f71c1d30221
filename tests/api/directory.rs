//! Teams and domains: CRUD, members, the tree (cycles refused), pagination.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn teams_crud_and_members() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let t = &acme.admin_token;
    let ada = app.user_in(t, &acme.id, "ada@example.test", &["member"]).await;
    let created = app
        .expect(
            "POST",
            "/teams",
            t,
            Some(json!({"slug": "platform", "name": "Platform", "external_ref": "gh:platform"})),
            StatusCode::CREATED,
        )
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["is_active"], true);
    assert_eq!(created["external_ref"], "gh:platform");
    expect_error(
        app.send("POST", "/teams", t, Some(json!({"slug": "platform", "name": "Again"})))
            .await,
        StatusCode::CONFLICT,
        "team_exists",
    )
    .await;
    let patched = app
        .expect(
            "PATCH",
            &format!("/teams/{id}"),
            t,
            Some(json!({"name": "Platform Team", "external_ref": null})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(patched["name"], "Platform Team");
    assert_eq!(patched["external_ref"], serde_json::Value::Null);
    app.expect(
        "PUT",
        &format!("/teams/{id}/members/{ada}"),
        t,
        Some(json!({"role": "owner"})),
        StatusCode::NO_CONTENT,
    )
    .await;
    let members = app
        .expect("GET", &format!("/teams/{id}/members"), t, None, StatusCode::OK)
        .await;
    assert_eq!(
        members,
        json!([{"user_id": ada, "email": "ada@example.test", "name": "ada@example.test", "role": "owner"}])
    );
    expect_error(
        app.send(
            "PUT",
            &format!("/teams/{id}/members/{ada}"),
            t,
            Some(json!({"role": "boss"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let ada_token = app.token_in("ada@example.test", "acme").await;
    app.expect(
        "PATCH",
        &format!("/teams/{id}"),
        t,
        Some(json!({"is_active": false})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.validate(&ada_token).await["user"]["teams"],
        json!([]),
        "inactive teams grant nothing"
    );
    app.expect(
        "DELETE",
        &format!("/teams/{id}/members/{ada}"),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_error(
        app.send("DELETE", &format!("/teams/{id}/members/{ada}"), t, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.expect("DELETE", &format!("/teams/{id}"), t, None, StatusCode::NO_CONTENT)
        .await;
    expect_error(
        app.send("GET", &format!("/teams/{id}"), t, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn the_domain_tree_refuses_cycles_and_lists_flat_or_as_a_tree() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let t = &acme.admin_token;
    let eng = app.create_domain(t, "engineering", None).await;
    let backend = app.create_domain(t, "backend", Some(&eng)).await;
    let db = app.create_domain(t, "db", Some(&backend)).await;
    app.create_domain(t, "sales", None).await;
    for (id, parent) in [(&eng, &db), (&eng, &eng), (&backend, &db)] {
        let response = app
            .send(
                "PATCH",
                &format!("/domains/{id}"),
                t,
                Some(json!({"parent_id": parent})),
            )
            .await;
        expect_error(response, StatusCode::CONFLICT, "domain_cycle").await;
    }
    let flat = app.expect("GET", "/domains/all", t, None, StatusCode::OK).await;
    let paths: Vec<&str> = flat
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["engineering", "engineering/backend", "engineering/backend/db", "sales"]
    );
    let tree = app
        .expect("GET", "/domains/all?format=tree", t, None, StatusCode::OK)
        .await;
    assert_eq!(tree.as_array().unwrap().len(), 2);
    assert_eq!(tree[0]["children"][0]["children"][0]["key"], "db");
    expect_error(
        app.send("GET", "/domains/all?format=xml", t, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let moved = app
        .expect(
            "PATCH",
            &format!("/domains/{db}"),
            t,
            Some(json!({"parent_id": null})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(moved["path"], "db");
    let renamed = app
        .expect(
            "PATCH",
            &format!("/domains/{backend}"),
            t,
            Some(json!({"key": "server"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(renamed["path"], "engineering/server");
    expect_error(
        app.send("POST", "/domains", t, Some(json!({"key": "sales", "name": "x"})))
            .await,
        StatusCode::CONFLICT,
        "domain_exists",
    )
    .await;
    let unknown = app
        .send(
            "POST",
            "/domains",
            t,
            Some(json!({"key": "x", "name": "x", "parent_id": uuid::Uuid::new_v4()})),
        )
        .await;
    let b = expect_error(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(b["errors"][0]["field"], "parent_id");

    let ada = app.user_in(t, &acme.id, "ada@example.test", &["member"]).await;
    app.expect(
        "PUT",
        &format!("/domains/{eng}/users/{ada}"),
        t,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let token = app.token_in("ada@example.test", "acme").await;
    assert_eq!(
        app.validate(&token).await["user"]["domains"].as_array().unwrap().len(),
        2
    );
    app.expect("DELETE", &format!("/domains/{eng}"), t, None, StatusCode::NO_CONTENT)
        .await;
    assert_eq!(
        app.validate(&token).await["user"]["domains"],
        json!([]),
        "the subtree and its assignments are gone"
    );
    let left = app.expect("GET", "/domains/all", t, None, StatusCode::OK).await;
    assert_eq!(left.as_array().unwrap().len(), 2, "db and sales remain");
}

#[tokio::test]
async fn lists_are_paginated_with_a_stable_cursor() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let t = &acme.admin_token;
    for i in 0..7 {
        app.create_team(t, &format!("team-{i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/teams/all?limit=3&cursor={c}"),
            None => "/teams/all?limit=3".into(),
        };
        let page = app.expect("GET", &path, t, None, StatusCode::OK).await;
        if cursor.is_none() {
            assert_eq!(page["total"], 7, "the first page counts");
        } else {
            assert!(page.get("total").is_none(), "later pages do not count again: {page}");
        }
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["slug"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("team-{i}")).collect::<Vec<_>>());
    for bad in ["limit=0", "limit=201", "cursor=nope", "limit=x"] {
        let response = app.send("GET", &format!("/teams/all?{bad}"), t, None).await;
        assert!(response.status().is_client_error(), "{bad}");
    }
    let root = app.superuser_token().await;
    let users = app
        .expect("GET", "/admin/users?limit=1", &root, None, StatusCode::OK)
        .await;
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
    assert!(users["next_cursor"].is_string());
    let members = app
        .expect(
            "GET",
            &format!("/orgs/{}/members?limit=1", acme.id),
            t,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(members["total"], 1);
    assert!(members["next_cursor"].is_null());
}

/// The members page is one statement: each member's account beside its role keys, which the
/// database aggregates (`group_concat` in SQLite, `string_agg` in PostgreSQL).
#[tokio::test]
async fn the_members_page_carries_each_members_roles_sorted_and_a_deleted_organisation_is_not_found() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let t = &acme.admin_token;
    let roles = format!("/orgs/{}/roles", acme.id);
    let auditor = json!({"key": "auditor", "permissions": ["read:audit"]});
    app.expect("POST", &roles, t, Some(auditor), StatusCode::CREATED).await;
    let ada = app
        .user_in(t, &acme.id, "ada@acme.test", &["member", "auditor", "admin"])
        .await;
    let bob = app.user_in(t, &acme.id, "bob@acme.test", &["member"]).await;
    let mut seen = std::collections::HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let path = format!("/orgs/{}/members?limit=1{after}", acme.id);
        let page = app.expect("GET", &path, t, None, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        let item = &items[0];
        assert!(item.get("password_hash").is_none(), "{item}");
        assert!(item["joined_at"].is_string(), "{item}");
        seen.insert(item["user_id"].as_str().unwrap().to_owned(), item.clone());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[&ada]["roles"], json!(["admin", "auditor", "member"]));
    assert_eq!(seen[&ada]["email"], "ada@acme.test");
    assert_eq!(seen[&bob]["roles"], json!(["member"]));
    let owner = seen.values().find(|m| m["email"] == acme.admin_email.as_str()).unwrap();
    assert_eq!(owner["roles"], json!(["owner"]));

    let root = app.superuser_token().await;
    let org = format!("/orgs/{}", acme.id);
    app.expect("DELETE", &org, &root, None, StatusCode::NO_CONTENT).await;
    let gone = app.send("GET", &format!("{org}/members"), &root, None).await;
    expect_error(gone, StatusCode::NOT_FOUND, "not_found").await;
}
