//! Use cases: authorisation decisions, transactions, and the rules of each operation. Services
//! take the caller's context first and reach the database only through `crate::store`.
pub mod access;
pub mod activity;
pub mod auth;
pub mod authz;
pub mod bootstrap;
pub mod cache;
pub mod clients;
pub mod compat;
pub mod core;
pub mod domains;
pub mod journal;
pub mod keys;
pub mod notify;
pub mod oidc;
pub mod orgs;
pub mod passwords;
pub mod providers;
pub mod relay;
pub mod roles;
pub mod seeding;
pub mod sessions;
pub mod teams;
pub mod throttle;
pub mod tree;
pub mod users;
pub mod validate;

use crate::crypto::password::HashError;
use crate::store::StoreError;
use crate::token::VerifyError;

/// `uri` with query parameters appended (URL-encoded), after any it already has.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", serde_urlencoded::to_string(params).unwrap_or_default())
}

/// One field's problem, reported on 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The login name is locked after repeated failures; the seconds to wait.
    #[error("too many failed logins")]
    TooManyAttempts(i64),
    #[error("invalid token: {0}")]
    InvalidToken(VerifyError),
    #[error("invalid client")]
    InvalidClient,
    #[error("invalid grant: {0}")]
    InvalidGrant(&'static str),
    #[error("forbidden: {1}")]
    Forbidden(&'static str, &'static str),
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("conflict: {1}")]
    Conflict(&'static str, &'static str),
    #[error("unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::Conflict("conflict", "the change conflicts with existing data"),
            StoreError::Db(e) => Self::Internal(e.into()),
        }
    }
}

impl From<HashError> for ServiceError {
    fn from(e: HashError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<VerifyError> for ServiceError {
    fn from(e: VerifyError) -> Self {
        Self::InvalidToken(e)
    }
}

pub type Result<T> = std::result::Result<T, ServiceError>;
