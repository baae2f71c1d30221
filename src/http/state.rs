//! The state every handler shares.
use crate::config::Config;
use crate::service::auth::AuthService;
use axum::extract::FromRef;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub auth: Arc<AuthService>,
}
