//! SeaORM entities of guildhall: one module a table. Only `src/store` in the service uses them.

pub mod audit_entry;
pub mod domain;
pub mod domain_user;
pub mod identity_provider;
pub mod member_role;
pub mod org_member;
pub mod organisation;
pub mod outbox_event;
pub mod refresh_token;
pub mod role;
pub mod role_permission;
pub mod service_account;
pub mod session;
pub mod signing_key;
pub mod team;
pub mod team_member;
pub mod user;
