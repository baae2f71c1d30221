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

/// Renderings kept at most before the stale ones are dropped.
const MAX_RENDERINGS: usize = 200_000;

/// A rendering, and the context it was made from.
type Entry = (Weak<MembershipContext>, Bytes);

#[derive(Default)]
pub struct Renderings(RwLock<HashMap<(Uuid, Uuid, AuthMethods), Entry>>);

impl Renderings {
    /// `{"valid": true, "user": ...}` for this context.
    pub fn valid(&self, context: &Arc<MembershipContext>, methods: AuthMethods) -> Bytes {
        let key = (context.user.id, context.org.id, methods);
        if let Some((made_from, bytes)) = self.0.read().unwrap_or_else(|p| p.into_inner()).get(&key)
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
        // Strings, numbers and arrays only: serialising it cannot fail.
        let bytes = Bytes::from(serde_json::to_vec(&answer).unwrap_or_default());
        let mut renderings = self.0.write().unwrap_or_else(|p| p.into_inner());
        if renderings.len() >= MAX_RENDERINGS {
            renderings.retain(|_, (made_from, _)| made_from.strong_count() > 0);
            if renderings.len() >= MAX_RENDERINGS {
                renderings.clear();
            }
        }
        renderings.insert(key, (Arc::downgrade(context), bytes.clone()));
        bytes
    }
}
