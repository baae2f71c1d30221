//! guildhall's black-box HTTP tests: one binary, a fresh database per test (SQLite, or
//! PostgreSQL when TEST_DATABASE_URL is set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod auth;
mod deploy;
mod errors;
mod health;
mod helpers;
mod openapi;
mod schema;
mod sessions;
mod tokens;
