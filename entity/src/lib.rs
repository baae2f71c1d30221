//! SeaORM entities of guildhall: one module a table. Only `src/store` in the service uses them.

pub mod member_role;
pub mod org_member;
pub mod organisation;
pub mod refresh_token;
pub mod role;
pub mod role_permission;
pub mod session;
pub mod signing_key;
pub mod user;
