//! Verify guildhall access tokens in an axum service and get a typed caller in one line.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use guildhall_axum::{Guildhall, UserContext, require_permission};
//!
//! # fn app() -> Result<Router, guildhall_axum::BuildError> {
//! let guildhall = Guildhall::builder("http://localhost:8001").audience("guildhall").build()?;
//! Ok(Router::new()
//!     .route("/posts", get(|| async { "posts" }))
//!     .route_layer(require_permission("read:posts"))
//!     .route("/whoami", get(|user: UserContext| async move { Json(user) }))
//!     .layer(guildhall.layer()))
//! # }
//! ```
//!
//! What happens to a token:
//! - **Locally** (the default): the header must say `typ: at+jwt`; the `kid` picks a key from the
//!   JWKS found through `{issuer}/.well-known/openid-configuration`, and that key fixes the
//!   algorithm (ES256, EdDSA or RS256; `none` and HMAC are refused unless
//!   [`Builder::hs256_secret`] was set). `iss` and `aud` are pinned, `exp`/`nbf`/`iat` are
//!   checked with a leeway (30 s), and `type` must be `access`. An unknown `kid` re-fetches the
//!   JWKS in a single flight, at most once per [`Builder::min_refresh_interval`]; after a failure
//!   not again for [`Builder::failure_backoff`]. Answers are capped at 1 MiB and requests time out.
//! - **Through `POST /auth/validate`** when the token says `"ctx": "validate"` (its teams and
//!   domains did not fit), for [`Fresh<UserContext>`], [`RequirePermission::fresh`], or every
//!   user token with [`Builder::always_validate`]. guildhall then answers the user's current
//!   memberships, or refuses with a code ([`TokenError::from_code`]).
//!
//! Local verification cannot see what happened after the token was issued: a logged-out or
//! revoked session, a removed membership or a changed role count only once the token expires.
//! Use fresh validation for sensitive operations.
//!
//! Service accounts' tokens (they carry `client_id` and no `sid`) are refused where a user is
//! required (403 `not_a_user_token`, as guildhall does); [`Principal`] accepts both kinds.
//!
//! Refusals are axum responses `{"error": code, "detail": message}`: 401 with
//! `WWW-Authenticate: Bearer` (`missing_token`) or `Bearer error="invalid_token"` (the token
//! codes of [`TokenError`]), 403 `forbidden` or `not_a_user_token`, 503 `guildhall_unavailable`.
mod clock;
mod config;
mod context;
mod error;
mod extract;
mod fetch;
mod guildhall;
mod jwks;
mod keys;
mod layer;
mod remote;
mod stats;
mod token;

pub use clock::{Clock, SystemClock};
pub use config::Builder;
pub use context::{Org, Principal, ServiceContext, Source, Team, UserContext};
pub use error::{BuildError, Error, TokenError};
pub use extract::{Fresh, bearer_token};
pub use fetch::MAX_BODY;
pub use guildhall::Guildhall;
pub use layer::{GuildhallLayer, RequirePermission, RequirePermissionService, WithGuildhall, require_permission};
pub use stats::Stats;
