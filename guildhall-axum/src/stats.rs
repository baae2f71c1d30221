//! Counters of the requests the SDK made to guildhall, for metrics and tests.
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct Counters {
    pub discovery_fetches: AtomicU64,
    pub jwks_fetches: AtomicU64,
    pub validate_calls: AtomicU64,
}

/// How many requests of each kind were started (failed ones included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub discovery_fetches: u64,
    pub jwks_fetches: u64,
    pub validate_calls: u64,
}

impl Counters {
    pub fn snapshot(&self) -> Stats {
        Stats {
            discovery_fetches: self.discovery_fetches.load(Ordering::Relaxed),
            jwks_fetches: self.jwks_fetches.load(Ordering::Relaxed),
            validate_calls: self.validate_calls.load(Ordering::Relaxed),
        }
    }
}
