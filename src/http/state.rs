//! The state every handler shares: the services, behind one `Arc`.
//!
//! axum clones the state for every request (the `State` extractor, and the route's handler
//! service). One `Arc` makes that one atomic increment; a struct of fourteen `Arc`s made it
//! fourteen, on cache lines that every worker thread writes.
use crate::config::Config;
use crate::service::compat::{cl::ClService, daarion::DaarionService};
use crate::service::oidc::OidcService;
use crate::service::passwords::PasswordService;
use crate::service::providers::ProviderService;
use crate::service::{activity::ActivityService, seeding::SeedService, teams::TeamService, users::UserService};
use crate::service::{auth::AuthService, clients::ClientService, domains::DomainService, orgs::OrgService};
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
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
