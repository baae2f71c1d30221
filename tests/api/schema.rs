//! The migrations and the entities describe the same tables: each entity's table is created from
//! the entity in one database and by the migrations in another, and the columns must agree.
use crate::helpers::*;
use guildhall::store::Conn;
use sea_orm::{DatabaseBackend, EntityTrait, Schema, Statement};

async fn columns(db: &guildhall::store::Db, table: &str) -> Vec<(String, String, bool)> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Sqlite => {
            format!("SELECT name, type, \"notnull\" = 1 AS required FROM pragma_table_info('{table}') ORDER BY name")
        }
        _ => format!(
            "SELECT column_name::text AS name, data_type::text AS type, is_nullable = 'NO' AS required \
             FROM information_schema.columns WHERE table_name = '{table}' AND table_schema = current_schema() ORDER BY column_name"
        ),
    };
    let rows = db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get::<String>("", "name").unwrap(),
                r.try_get::<String>("", "type").unwrap().to_lowercase(),
                r.try_get::<bool>("", "required").unwrap(),
            )
        })
        .collect()
}

async fn create_from_entity<E: EntityTrait>(db: &guildhall::store::Db, entity: E) {
    let backend = db.get_database_backend();
    let statement = Schema::new(backend).create_table_from_entity(entity);
    db.execute(&statement).await.unwrap();
}

#[tokio::test]
async fn entities_and_migrations_agree() {
    let migrated_url = fresh_database_url().await;
    let migrated = guildhall::store::connect(&migrated_url).await.unwrap();
    guildhall::store::migrate(&migrated).await.unwrap();
    let derived = guildhall::store::connect(&fresh_database_url().await).await.unwrap();
    derived.execute_unprepared("PRAGMA foreign_keys=OFF").await.ok();
    create_from_entity(&derived, entity::organisation::Entity).await;
    create_from_entity(&derived, entity::user::Entity).await;
    create_from_entity(&derived, entity::role::Entity).await;
    create_from_entity(&derived, entity::role_permission::Entity).await;
    create_from_entity(&derived, entity::org_member::Entity).await;
    create_from_entity(&derived, entity::member_role::Entity).await;
    create_from_entity(&derived, entity::session::Entity).await;
    create_from_entity(&derived, entity::refresh_token::Entity).await;
    create_from_entity(&derived, entity::signing_key::Entity).await;
    create_from_entity(&derived, entity::team::Entity).await;
    create_from_entity(&derived, entity::team_member::Entity).await;
    create_from_entity(&derived, entity::domain::Entity).await;
    create_from_entity(&derived, entity::domain_user::Entity).await;
    create_from_entity(&derived, entity::service_account::Entity).await;
    create_from_entity(&derived, entity::outbox_event::Entity).await;
    create_from_entity(&derived, entity::audit_entry::Entity).await;
    create_from_entity(&derived, entity::identity_provider::Entity).await;
    create_from_entity(&derived, entity::user_number::Entity).await;
    create_from_entity(&derived, entity::member_permission::Entity).await;
    create_from_entity(&derived, entity::matrix_account::Entity).await;
    create_from_entity(&derived, entity::password_reset::Entity).await;
    create_from_entity(&derived, entity::removed_member::Entity).await;
    create_from_entity(&derived, entity::login_attempt::Entity).await;
    create_from_entity(&derived, entity::email_verification::Entity).await;
    create_from_entity(&derived, entity::invitation::Entity).await;
    create_from_entity(&derived, entity::email_domain::Entity).await;
    create_from_entity(&derived, entity::oauth_client::Entity).await;
    create_from_entity(&derived, entity::browser_session::Entity).await;
    create_from_entity(&derived, entity::authorization_request::Entity).await;
    create_from_entity(&derived, entity::authorization_code::Entity).await;
    create_from_entity(&derived, entity::consent::Entity).await;
    create_from_entity(&derived, entity::device_authorization::Entity).await;
    create_from_entity(&derived, entity::client_assertion::Entity).await;
    create_from_entity(&derived, entity::webhook::Entity).await;
    create_from_entity(&derived, entity::webhook_delivery::Entity).await;

    for table in [
        "organisations",
        "users",
        "roles",
        "role_permissions",
        "org_members",
        "member_roles",
        "sessions",
        "refresh_tokens",
        "signing_keys",
        "teams",
        "team_members",
        "domains",
        "domain_users",
        "service_accounts",
        "outbox_events",
        "audit_log",
        "identity_providers",
        "user_numbers",
        "member_permissions",
        "matrix_accounts",
        "password_resets",
        "removed_members",
        "login_attempts",
        "email_verifications",
        "invitations",
        "email_domains",
        "oauth_clients",
        "browser_sessions",
        "authorization_requests",
        "authorization_codes",
        "consents",
        "device_authorizations",
        "client_assertions",
        "webhooks",
        "webhook_deliveries",
    ] {
        let from_migrations = columns(&migrated, table).await;
        assert!(!from_migrations.is_empty(), "{table} exists after migrating");
        assert_eq!(
            from_migrations,
            columns(&derived, table).await,
            "{table}: migration vs entity"
        );
    }
}
