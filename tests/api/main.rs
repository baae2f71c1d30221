//! guildhall's black-box HTTP tests: one binary, a fresh database per test (SQLite, or
//! PostgreSQL when TEST_DATABASE_URL is set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod admin_users;
mod auth;
mod clients;
mod deploy;
mod directory;
mod errors;
mod events;
mod health;
mod helpers;
mod isolation;
mod openapi;
mod providers;
mod schema;
mod seeding;
mod sessions;
mod tenancy;
mod tokens;
mod writes;
