//! guildhall's black-box HTTP tests: one binary, a fresh database per test (SQLite, or
//! PostgreSQL when TEST_DATABASE_URL is set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod admin_users;
mod auth;
mod clients;
mod compat_cl;
mod compat_cl_errors;
mod compat_daarion;
mod compat_edd;
mod compat_grimoire;
mod compat_postgres;
mod compat_promptstack;
mod deploy;
mod directory;
mod errors;
mod events;
mod fake_idp;
mod fuzzing;
mod health;
mod helpers;
mod isolation;
mod oidc;
mod oidc_external;
mod oidc_node;
mod oidc_real;
mod oidc_support;
mod openapi;
mod providers;
mod schema;
mod sdk;
mod seeding;
mod sessions;
mod tenancy;
mod throttle;
mod tokens;
mod writes;
