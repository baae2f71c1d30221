//! The state every handler shares: the services, behind one `Arc`.
//!
//! axum clones the state for every request (the `State` extractor, and the route's handler
//! service). One `Arc` makes that one atomic increment; a struct of fourteen `Arc`s made it
//! fourteen, on cache lines that every worker thread writes.
use super::render::Renderings;
use crate::services::Services;
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub services: Services,
    /// `/auth/validate`'s answers, rendered once per loaded context.
    pub renderings: Renderings,
}

impl AppState {
    pub fn new(services: Services) -> Self {
        let renderings = Renderings::new(services.config.limits.cache_max_contexts);
        Self(Arc::new(Inner { services, renderings }))
    }

    pub fn renderings(&self) -> &Renderings {
        &self.0.renderings
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0.services
    }
}
