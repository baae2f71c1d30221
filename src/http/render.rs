//! `/auth/validate`'s hot path: a context's answer rendered once and served as bytes after that.
//! Contexts never change once loaded (a change loads a new one), so a rendering is good for as
//! long as the context it was made from is the one the `Authenticator` hands out; the entry
//! remembers which one by a weak pointer (which also keeps its address from being reused).
use super::dto::ValidateResponse;
use crate::model::{AuthMethods, MembershipContext};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use uuid::Uuid;

/// A rendering, and the context it was made from.
type Entry = (Weak<MembershipContext>, Bytes);

/// Rendered answers, at most `max` (`AUTH_CACHE_MAX_CONTEXTS`, one per cached context) before
/// the stale ones are dropped.
pub struct Renderings {
    answers: RwLock<HashMap<(Uuid, Uuid, AuthMethods), Entry>>,
    max: usize,
}

impl Renderings {
    pub fn new(max: usize) -> Self {
        Self {
            answers: RwLock::default(),
            max,
        }
    }

    /// `{"valid": true, "user": ...}` for this context.
    pub fn valid(&self, context: &Arc<MembershipContext>, methods: AuthMethods) -> Bytes {
        let key = (context.user.id, context.org.id, methods);
        if let Some((made_from, bytes)) = self.answers.read().unwrap_or_else(|p| p.into_inner()).get(&key)
            && std::ptr::eq(made_from.as_ptr(), Arc::as_ptr(context))
        {
            return bytes.clone();
        }
        let answer = ValidateResponse {
            valid: true,
            user: Some(context.as_ref().into()),
            error: None,
            amr: (!methods.is_empty()).then(|| methods.names()),
            acr: (!methods.is_empty()).then(|| methods.acr()),
        };
        // Strings, numbers and arrays only: serialising it cannot fail. Kept at its exact length
        // (the serialiser's buffer grows by doubling: half of it would be kept for nothing).
        let rendered = serde_json::to_vec(&answer).unwrap_or_default();
        let bytes = Bytes::from(rendered.into_boxed_slice());
        let mut renderings = self.answers.write().unwrap_or_else(|p| p.into_inner());
        if renderings.len() >= self.max {
            renderings.retain(|_, (made_from, _)| made_from.strong_count() > 0);
            if renderings.len() >= self.max {
                renderings.clear();
            }
        }
        let replaced = renderings.insert(key, (Arc::downgrade(context), bytes.clone()));
        // The rendering replaced (and the last weak pointer to its context's allocation) is
        // freed after the lock is released.
        drop(renderings);
        drop(replaced);
        bytes
    }
}
