//! Use cases: authorisation decisions, transactions, and the rules of each operation. Services
//! take the caller's context first and reach the database only through `crate::store`.
pub mod activity;
pub mod apps;
pub mod auth;
pub mod authn;
pub mod authz;
pub mod bootstrap;
pub mod cache;
pub mod change;
pub mod clients;
pub mod compat;
pub mod consent;
pub mod domains;
pub mod housekeeping;
pub mod keys;
pub mod mfa;
pub mod oidc;
pub mod openid;
pub mod orgs;
pub mod providers;
pub mod relay;
pub mod secrets;
pub mod seeding;
pub mod teams;
pub mod tree;
pub mod users;
pub mod webhooks;

use crate::crypto::password::HashError;
pub use crate::model::input::FieldError;
use crate::model::input::Invalid;
use crate::store::StoreError;
use crate::token::VerifyError;

/// `uri` with query parameters appended (URL-encoded), after any it already has.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", serde_urlencoded::to_string(params).unwrap_or_default())
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// No credentials at all where a caller is needed.
    #[error("not authenticated")]
    Unauthenticated,
    /// 401 with this code: the request needs a login first (`login_required`).
    #[error("unauthorized: {1}")]
    Unauthorized(&'static str, &'static str),
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The login name is locked after repeated failures; the seconds to wait.
    #[error("too many failed logins")]
    TooManyAttempts(i64),
    #[error("invalid token: {0}")]
    InvalidToken(VerifyError),
    /// The global provider's token, refused for this stable reason.
    #[error("invalid external token: {0}")]
    ExternalTokenRefused(&'static str),
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
    /// Too much work queued (password hashing): try again shortly.
    #[error("overloaded")]
    Overloaded,
    /// A message went to this address moments ago; the seconds to wait.
    #[error("mail paced")]
    Paced(i64),
    /// Something guildhall asks (a DNS server) did not answer usefully.
    #[error("upstream: {1}")]
    Upstream(&'static str, &'static str),
    /// The password was right; a second factor is needed (`service::mfa`).
    #[error("second factor needed")]
    SecondFactor(SecondFactor),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// What a login still needs after a correct password, with the single-use token to go on with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    /// 401 `mfa_required`: prove a second factor (`POST /auth/mfa/verify`).
    Required { token: String, methods: Vec<String> },
    /// 403 `mfa_enrollment_required`: the organisation requires one and the account has none;
    /// the token can only enrol one (`POST /auth/mfa/totp`).
    EnrollmentRequired { token: String },
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::Conflict("conflict", "the change conflicts with existing data"),
            e if e.is_unavailable() => Self::Unavailable(e.into()),
            StoreError::Db(e) => Self::Internal(e.into()),
            e @ StoreError::Sealed { .. } => Self::Internal(e.into()),
        }
    }
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        Self::Validation(e.0)
    }
}

impl From<jsonwebtoken::errors::Error> for ServiceError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        Self::Internal(anyhow::anyhow!("cannot sign a token: {e}"))
    }
}

/// Maps a unique constraint's refusal to a 409 with this code and message.
pub fn conflict(code: &'static str, detail: &'static str) -> impl Fn(StoreError) -> ServiceError {
    move |e| match e {
        StoreError::Conflict(_) => ServiceError::Conflict(code, detail),
        e => e.into(),
    }
}

/// No randomness from the operating system: nothing can be issued.
pub fn no_randomness(_: aws_lc_rs::error::Unspecified) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!("no randomness"))
}

impl From<HashError> for ServiceError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => Self::Overloaded,
            e => Self::Internal(e.into()),
        }
    }
}

impl From<VerifyError> for ServiceError {
    fn from(e: VerifyError) -> Self {
        Self::InvalidToken(e)
    }
}

pub type Result<T> = std::result::Result<T, ServiceError>;
