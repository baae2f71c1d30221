//! Tower layers: [`GuildhallLayer`] makes a [`Guildhall`] available to the extractors, and
//! [`require_permission`] guards routes (403 `forbidden` without the permission).
use crate::Guildhall;
use crate::context::UserContext;
use crate::error::Error;
use crate::extract::Fresh;
use axum::extract::FromRequestParts;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Puts a [`Guildhall`] into every request's extensions: `router.layer(GuildhallLayer::new(gh))`.
/// Apply it outside the guards (`.layer` after `.route_layer`).
#[derive(Debug, Clone)]
pub struct GuildhallLayer {
    guildhall: Guildhall,
}

impl GuildhallLayer {
    pub fn new(guildhall: Guildhall) -> Self {
        Self { guildhall }
    }
}

impl Guildhall {
    /// The same as [`GuildhallLayer::new`].
    pub fn layer(&self) -> GuildhallLayer {
        GuildhallLayer::new(self.clone())
    }
}

impl<S> Layer<S> for GuildhallLayer {
    type Service = WithGuildhall<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithGuildhall {
            inner,
            guildhall: self.guildhall.clone(),
        }
    }
}

/// The service [`GuildhallLayer`] makes.
#[derive(Debug, Clone)]
pub struct WithGuildhall<S> {
    inner: S,
    guildhall: Guildhall,
}

impl<S, B> Service<Request<B>> for WithGuildhall<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request.extensions_mut().insert(self.guildhall.clone());
        self.inner.call(request)
    }
}

/// A guard: the caller must be a user holding `permission` (or `*`). Use as
/// `.route_layer(require_permission("read:posts"))`; 401 without a valid token, 403
/// `forbidden` without the permission. The verified user reaches the handler's extractor.
pub fn require_permission(permission: impl Into<String>) -> RequirePermission {
    RequirePermission {
        permission: Arc::from(permission.into()),
        fresh: false,
    }
}

/// The layer [`require_permission`] makes.
#[derive(Debug, Clone)]
pub struct RequirePermission {
    permission: Arc<str>,
    fresh: bool,
}

impl RequirePermission {
    /// Decide on the user's current permissions (`/auth/validate`), as [`Fresh`] does.
    pub fn fresh(mut self) -> Self {
        self.fresh = true;
        self
    }
}

impl<S> Layer<S> for RequirePermission {
    type Service = RequirePermissionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequirePermissionService {
            inner,
            permission: Arc::clone(&self.permission),
            fresh: self.fresh,
        }
    }
}

/// The service [`RequirePermission`] makes.
#[derive(Debug, Clone)]
pub struct RequirePermissionService<S> {
    inner: S,
    permission: Arc<str>,
    fresh: bool,
}

impl<S, B> Service<Request<B>> for RequirePermissionService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let permission = Arc::clone(&self.permission);
        let fresh = self.fresh;
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let user = if fresh {
                Fresh::<UserContext>::from_request_parts(&mut parts, &())
                    .await
                    .map(|f| f.0)
            } else {
                UserContext::from_request_parts(&mut parts, &()).await
            };
            match user {
                Err(refused) => return Ok(refused.into_response()),
                Ok(user) if !user.has_permission(&permission) => {
                    return Ok(Error::Forbidden {
                        permission: permission.to_string(),
                    }
                    .into_response());
                }
                Ok(_) => {}
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
