//! Seed 002 (CL Server): every documented example, status code and `detail`, with integer ids,
//! form bodies and per-user permissions, plus tenant isolation.
use crate::helpers::*;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub async fn form(app: &TestApp, method: &str, path: &str, token: &str, fields: &[(&str, &str)]) -> Response {
    app.client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token)
        .form(fields)
        .send()
        .await
        .unwrap()
}

pub async fn status_and_body(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

/// Asserts a FastAPI error body (seed 002's routes): the status, and `detail` as its only key;
/// returns the body.
pub async fn fastapi(response: Response, status: StatusCode) -> Value {
    let (got, body) = status_and_body(response).await;
    assert_eq!(got, status, "{body}");
    let keys: Vec<&String> = body.as_object().expect("a JSON object").keys().collect();
    assert_eq!(keys, ["detail"], "FastAPI's body has `detail` alone: {body}");
    body
}

/// `POST /auth/token` with seed 002's form; the access token.
pub async fn token(app: &TestApp, username: &str, password: &str) -> String {
    let response = app
        .post_form("/auth/token", &[("username", username), ("password", password)])
        .await;
    assert_eq!(response.status(), StatusCode::OK, "login {username}");
    let v = body(response).await;
    assert_eq!(v["token_type"], "bearer");
    v["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_documented_flow_answers_as_documented() {
    let app = spawn_app().await;
    assert_eq!(
        body(app.get("/").await).await,
        json!({"message": "authentication service is running"})
    );

    // Login as the admin by username; the token verifies with the published ES256 PEM.
    let admin = token(&app, "admin", ADMIN_PASSWORD).await;
    let key = body(app.get("/auth/public-key").await).await;
    assert_eq!(key["algorithm"], "ES256");
    let pem = key["public_key"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["guildhall"]);
    let decoding = jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    let verified = jsonwebtoken::decode::<Value>(&admin, &decoding, &validation).unwrap();
    assert_eq!(verified.claims["preferred_username"], "admin");

    let me = body(app.get_with("/users/me", &admin).await).await;
    assert_eq!(me["id"], 1);
    assert_eq!(
        (
            me["username"].as_str(),
            me["is_admin"].as_bool(),
            me["is_active"].as_bool()
        ),
        (Some("admin"), Some(true), Some(true))
    );
    assert_eq!(me["permissions"], json!(["*"]));
    let created_at = me["created_at"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(created_at, "%Y-%m-%dT%H:%M:%S").is_ok(),
        "{created_at}"
    );
    assert_eq!(me.as_object().unwrap().len(), 6, "exactly the documented fields: {me}");

    // Create (form data, permissions as "[a, b]") → 201.
    let (status, new) = status_and_body(
        form(
            &app,
            "POST",
            "/users/",
            &admin,
            &[
                ("username", "newuser"),
                ("password", "securepassword"),
                ("permissions", "[read:posts, write:posts]"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    assert_eq!(new["id"], 2);
    assert_eq!(
        (
            new["username"].as_str(),
            new["is_admin"].as_bool(),
            new["is_active"].as_bool()
        ),
        (Some("newuser"), Some(false), Some(true))
    );
    assert_eq!(new["permissions"], json!(["read:posts", "write:posts"]));

    // The new user logs in by username; the permissions are in their token and /users/me.
    let user = token(&app, "newuser", "securepassword").await;
    assert_eq!(claims_of(&user)["permissions"], json!(["read:posts", "write:posts"]));
    assert_eq!(body(app.get_with("/users/me", &user).await).await, new);

    // List, get, update with "a,b", delete.
    let list = body(app.get_with("/users/?skip=0&limit=50", &admin).await).await;
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(list[1], new);
    assert_eq!(
        body(app.get_with("/users/?skip=1&limit=1", &admin).await).await,
        json!([new])
    );
    assert_eq!(body(app.get_with("/users/2", &admin).await).await, new);
    let (status, updated) = status_and_body(
        form(
            &app,
            "PUT",
            "/users/2",
            &admin,
            &[("permissions", "read:posts,write:posts,admin:users")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        updated["permissions"],
        json!(["admin:users", "read:posts", "write:posts"])
    );
    let validated = app.validate(&user).await;
    assert_eq!(
        validated["user"]["permissions"],
        json!(["admin:users", "read:posts", "write:posts"]),
        "current, not the token's"
    );
    let (status, _) = status_and_body(form(&app, "DELETE", "/users/2", &admin, &[]).await).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.me_status(&user).await, StatusCode::UNAUTHORIZED);
    let gone = fastapi(app.get_with("/users/2", &admin).await, StatusCode::NOT_FOUND).await;
    assert_eq!(gone, json!({"detail": "User not found"}));
    assert_eq!(
        app.post_form(
            "/auth/token",
            &[("username", "newuser"), ("password", "securepassword")]
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    // Numbers are never reused.
    let (status, next) = status_and_body(
        form(
            &app,
            "POST",
            "/users/",
            &admin,
            &[("username", "newuser"), ("password", "securepassword")],
        )
        .await,
    )
    .await;
    assert_eq!((status, next["id"].clone()), (StatusCode::CREATED, json!(3)));
}

#[tokio::test]
async fn accounts_that_existed_before_numbers_are_numbered_in_creation_order() {
    use migration::MigratorTrait;
    use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};
    let url = fresh_database_url().await;
    let db = guildhall::store::connect(&url).await.unwrap();
    migration::Migrator::up(&db, Some(4)).await.unwrap();
    let start = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    for (i, email) in ["late@x.test", "early@x.test"].iter().enumerate() {
        // Inserted late first, but created early first.
        let at = start - chrono::Duration::minutes(i64::try_from(i).unwrap());
        let row = entity::user::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            email: Set((*email).into()),
            username: Set(None),
            display_name: Set((*email).into()),
            password_hash: Set(None),
            active: Set(true),
            superuser: Set(false),
            default_org_id: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
            last_login_at: Set(None),
            // Columns of later migrations are left out: this table is still migration 4's.
            ..Default::default()
        };
        entity::user::Entity::insert(row)
            .exec_without_returning(&db)
            .await
            .unwrap();
    }
    migration::Migrator::up(&db, None).await.unwrap();
    let mut numbered = Vec::new();
    for n in entity::user_number::Entity::find()
        .order_by_asc(entity::user_number::Column::Number)
        .all(&db)
        .await
        .unwrap()
    {
        let user = entity::user::Entity::find_by_id(n.user_id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        numbered.push((n.number, user.email));
    }
    assert_eq!(
        numbered,
        [(1, "early@x.test".to_owned()), (2, "late@x.test".to_owned())]
    );
}

#[tokio::test]
async fn token_refresh_issues_a_new_access_token_for_a_live_session() {
    let app = spawn_app().await;
    let admin = token(&app, "admin", ADMIN_PASSWORD).await;
    let refreshed = app.post_with("/auth/token/refresh", &admin).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = body(refreshed).await;
    assert_eq!(refreshed["token_type"], "bearer");
    let new = refreshed["access_token"].as_str().unwrap();
    assert_ne!(new, admin);
    assert_eq!(claims_of(new)["sid"], claims_of(&admin)["sid"], "the same session");
    assert_eq!(app.me_status(new).await, StatusCode::OK);
    let missing = app.client.post(app.url("/auth/token/refresh")).send().await.unwrap();
    assert_eq!(
        missing.headers().get("www-authenticate").map(|v| v.to_str().unwrap()),
        Some("Bearer")
    );
    assert_eq!(
        fastapi(missing, StatusCode::UNAUTHORIZED).await,
        json!({"detail": "Not authenticated"})
    );
    assert_eq!(
        fastapi(
            app.post_with("/auth/token/refresh", "nonsense").await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        json!({"detail": "Not authenticated"})
    );
    app.post_with("/auth/logout", new).await;
    fastapi(
        app.post_with("/auth/token/refresh", &admin).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn numbers_are_per_account_and_other_organisations_users_are_not_found() {
    let app = spawn_app().await;
    let acme = app.create_org("acme").await;
    let other = app.create_org("other").await;
    app.user_in(&acme.admin_token, &acme.id, "ada@acme.test", &["member"])
        .await;
    let acme_list = body(app.get_with("/users/", &acme.admin_token).await).await;
    let names: Vec<&str> = acme_list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["admin@acme.test", "ada@acme.test"],
        "only acme's members, by number"
    );
    let ada = acme_list[1]["id"].as_i64().unwrap();

    // Other's admin: every id-taking route answers 404 for acme's user, and changes nothing.
    for method in ["GET", "PUT", "DELETE"] {
        let e = fastapi(
            form(
                &app,
                method,
                &format!("/users/{ada}"),
                &other.admin_token,
                &[("is_admin", "true")],
            )
            .await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(e, json!({"detail": "User not found"}), "{method}");
    }
    let other_names: Vec<Value> = body(app.get_with("/users/", &other.admin_token).await)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(other_names, [json!("admin@other.test")]);
    let still = body(app.get_with(&format!("/users/{ada}"), &acme.admin_token).await).await;
    assert_eq!(still["is_admin"], false);
    app.login_ok("ada@acme.test", PASSWORD).await;

    // A user of several organisations: acme's admin sets acme permissions but not the password.
    app.user_in(&other.admin_token, &other.id, "ada@acme.test", &["member"])
        .await;
    let perms = body(
        form(
            &app,
            "PUT",
            &format!("/users/{ada}"),
            &acme.admin_token,
            &[("permissions", "acme:read")],
        )
        .await,
    )
    .await;
    assert_eq!(perms["permissions"], json!(["acme:read"]));
    let in_other = body(app.get_with("/users/", &other.admin_token).await).await;
    assert_eq!(
        in_other[1]["permissions"],
        json!([]),
        "permissions are per organisation"
    );
    let refused = fastapi(
        form(
            &app,
            "PUT",
            &format!("/users/{ada}"),
            &acme.admin_token,
            &[("password", "a new password!")],
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("other organisations"),
        "{refused}"
    );
}
