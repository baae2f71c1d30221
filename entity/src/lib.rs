//! SeaORM entities of guildhall: one module a table. Only `src/store` in the service uses them.

pub mod audit_entry;
pub mod domain;
pub mod domain_user;
pub mod identity_provider;
pub mod login_attempt;
pub mod matrix_account;
pub mod member_permission;
pub mod member_role;
pub mod oidc_code;
pub mod oidc_login;
pub mod org_member;
pub mod organisation;
pub mod outbox_event;
pub mod password_reset;
pub mod refresh_token;
pub mod removed_member;
pub mod role;
pub mod role_permission;
pub mod service_account;
pub mod session;
pub mod signing_key;
pub mod team;
pub mod team_member;
pub mod user;
pub mod user_identity;
pub mod user_number;
