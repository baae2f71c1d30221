//! The state every handler shares: the services, each an `Arc`.
use crate::config::Config;
use crate::service::compat::{cl::ClService, daarion::DaarionService};
use crate::service::oidc::OidcService;
use crate::service::passwords::PasswordService;
use crate::service::providers::ProviderService;
use crate::service::{activity::ActivityService, seeding::SeedService, teams::TeamService, users::UserService};
use crate::service::{auth::AuthService, clients::ClientService, domains::DomainService, orgs::OrgService};
use axum::extract::FromRef;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub auth: Arc<AuthService>,
    pub teams: Arc<TeamService>,
    pub domains: Arc<DomainService>,
    pub orgs: Arc<OrgService>,
    pub users: Arc<UserService>,
    pub clients: Arc<ClientService>,
    pub activity: Arc<ActivityService>,
    pub seeds: Arc<SeedService>,
    pub providers: Arc<ProviderService>,
    pub oidc: Arc<OidcService>,
    pub passwords: Arc<PasswordService>,
    pub daarion: Arc<DaarionService>,
    pub cl: Arc<ClService>,
}
