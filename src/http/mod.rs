//! The HTTP layer: routes, extractors, DTOs and the error mapping. Handlers extract, call one
//! service function and map the result.
pub mod activity;
pub mod apps;

pub mod auth;
pub mod compat;
pub mod console;
pub mod domains;
pub mod dto;
pub mod email_domains;
pub mod error;
pub mod extract;
pub mod invitations;
pub mod meta;
pub mod metrics;
pub mod mfa;
pub mod oidc;
pub mod openapi;
pub mod openid;
pub mod orgs;
pub mod password;
pub mod providers;
pub mod render;
pub mod roles;
pub mod schema;
pub mod seed;
pub mod service_accounts;
pub mod state;
pub mod teams;
pub mod users;
pub mod verification;
pub mod webhooks;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use error::{ApiError, REQUEST_ID};
use state::AppState;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState) -> Router {
    let mut api = Router::new();
    if state.config.metrics_addr.is_none() {
        api = api.route("/metrics", get(metrics::metrics));
    }
    let api = api
        .route("/", get(meta::root))
        .route("/health", get(meta::health))
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/.well-known/jwks.json", get(meta::jwks))
        .route("/.well-known/openid-configuration", get(meta::discovery))
        .route("/auth/public-key", get(meta::public_key))
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/token", post(auth::token))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-all", post(auth::logout_all))
        .route("/auth/me", get(auth::me))
        .route("/auth/sessions", get(auth::sessions))
        .route("/auth/sessions/{id}", delete(auth::revoke_session))
        .route("/auth/me/identities", get(auth::identities))
        .route("/auth/me/identities/{id}", delete(auth::unlink_identity))
        .route("/auth/validate", post(auth::validate))
        .route("/auth/introspect", post(auth::introspect))
        .route("/auth/oidc/discover", post(oidc::discover))
        .route("/auth/oidc/exchange", post(oidc::exchange))
        .route("/auth/oidc/{provider}/login", get(oidc::login))
        .route("/auth/oidc/{provider}/callback", get(oidc::callback))
        .route("/auth/password/forgot", post(password::forgot))
        .route("/auth/password/reset", post(password::reset))
        .route("/auth/password/change", post(password::change))
        .route("/auth/mfa", get(mfa::status))
        .route("/auth/mfa/totp", post(mfa::enroll).delete(mfa::remove))
        .route("/auth/mfa/totp/confirm", post(mfa::confirm))
        .route("/auth/mfa/recovery-codes", post(mfa::regenerate))
        .route("/auth/mfa/verify", post(mfa::verify))
        .route("/auth/mfa/enroll", post(mfa::enroll_with_token))
        .route("/auth/mfa/enroll/confirm", post(mfa::confirm_with_token))
        .route("/auth/mfa/webauthn", get(mfa::passkeys))
        .route("/auth/mfa/webauthn/register/start", post(mfa::register_start))
        .route("/auth/mfa/webauthn/register/finish", post(mfa::register_finish))
        .route("/auth/mfa/webauthn/authenticate/start", post(mfa::authenticate_start))
        .route("/auth/mfa/webauthn/challenge", post(mfa::login_challenge))
        .route(
            "/auth/mfa/webauthn/{id}",
            axum::routing::patch(mfa::rename_passkey).delete(mfa::remove_passkey),
        )
        .route("/orgs/{id}/members/{user_id}/mfa", delete(mfa::reset))
        .route("/auth/email/verify", post(verification::verify))
        .route("/auth/email/verify/resend", post(verification::resend))
        .route("/auth/organizations/joinable", get(email_domains::joinable))
        .route("/auth/organizations/{slug}/join", post(email_domains::join))
        .route("/auth/organizations/{slug}/leave", post(email_domains::leave))
        .route("/invitations/{token}", get(invitations::preview))
        .route("/invitations/{token}/accept", post(invitations::accept))
        .route("/redoc", get(meta::redoc))
        .route("/redoc/redoc.standalone.js", get(meta::redoc_script))
        .route("/teams", get(teams::mine).post(teams::create))
        .route("/teams/all", get(teams::all))
        .route(
            "/teams/{id}",
            get(teams::get).patch(teams::update).delete(teams::delete),
        )
        .route("/teams/{id}/members", get(teams::members))
        .route(
            "/teams/{id}/members/{user_id}",
            put(teams::put_member).delete(teams::remove_member),
        )
        .route("/domains", get(domains::mine).post(domains::create))
        .route("/domains/all", get(domains::all))
        .route(
            "/domains/{id}",
            get(domains::get).patch(domains::update).delete(domains::delete),
        )
        .route(
            "/domains/{id}/users/{user_id}",
            put(domains::assign).delete(domains::unassign),
        )
        .route("/orgs", get(orgs::list).post(orgs::create))
        .route("/orgs/{id}", get(orgs::get).patch(orgs::update).delete(orgs::delete))
        .route("/orgs/{id}/members", get(orgs::members).post(orgs::add_member))
        .route(
            "/orgs/{id}/members/{user_id}",
            put(orgs::set_roles).delete(orgs::remove_member),
        )
        .route("/orgs/{id}/roles", get(roles::list).post(roles::create))
        .route(
            "/orgs/{id}/roles/{role_id}",
            axum::routing::patch(roles::update).delete(roles::delete),
        )
        .route(
            "/orgs/{id}/service-accounts",
            get(service_accounts::list).post(service_accounts::create),
        )
        .route(
            "/orgs/{id}/service-accounts/{account_id}",
            delete(service_accounts::delete),
        )
        .route(
            "/orgs/{id}/identity-providers",
            get(providers::list).post(providers::create),
        )
        .route(
            "/orgs/{id}/identity-providers/{provider_id}",
            get(providers::get).put(providers::update).delete(providers::delete),
        )
        .route(
            "/orgs/{id}/invitations",
            get(invitations::list).post(invitations::create),
        )
        .route(
            "/orgs/{id}/invitations/{invitation_id}",
            get(invitations::get).delete(invitations::revoke),
        )
        .route(
            "/orgs/{id}/invitations/{invitation_id}/resend",
            post(invitations::resend),
        )
        .route(
            "/orgs/{id}/email-domains",
            get(email_domains::list).post(email_domains::claim),
        )
        .route(
            "/orgs/{id}/email-domains/{domain}",
            axum::routing::patch(email_domains::update).delete(email_domains::delete),
        )
        .route("/orgs/{id}/email-domains/{domain}/verify", post(email_domains::verify))
        .route("/orgs/{id}/clients", get(apps::list).post(apps::create))
        .route(
            "/orgs/{id}/clients/{app_id}",
            get(apps::get).put(apps::replace).delete(apps::delete),
        )
        .route("/orgs/{id}/clients/{app_id}/secret", post(apps::rotate_secret))
        .route("/orgs/{id}/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/orgs/{id}/webhooks/{webhook_id}",
            get(webhooks::get).patch(webhooks::update).delete(webhooks::delete),
        )
        .route("/orgs/{id}/webhooks/{webhook_id}/deliveries", get(webhooks::deliveries))
        .route("/admin/users", get(users::list).post(users::create))
        .route("/admin/events", get(activity::events))
        .route("/admin/audit", get(activity::audit))
        .route(
            "/admin/seed",
            post(seed::apply).layer(DefaultBodyLimit::max(seed::SEED_BODY_LIMIT)),
        )
        .route(
            "/admin/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .merge(compat::router())
        .merge(openid::routes())
        .merge(console::routes())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state.clone());
    // One stack, applied once: each `Router::layer` call wraps every route in another boxed
    // service, cloned and boxed again on every request. Outermost first.
    let middleware = ServiceBuilder::new()
        .layer(crate::metrics::http::HttpMetricsLayer(Arc::clone(&state.metrics.http)))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID.clone(), SequentialRequestId::new()))
        // The per-request span is at debug level (as tower-http's default is): at info, creating
        // and formatting it cost cold validation about a twentieth of its throughput. Warnings and
        // errors logged for a request carry its id themselves (`error::current_request_id`).
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let path = req
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or(req.uri().path(), |p| p.as_str());
            let id = req
                .headers()
                .get(&X_REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::debug_span!("request", method = %req.method(), path, request_id = id)
        }))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
        .layer(cors(&state.config.cors_origins))
        .layer(middleware::from_fn(scope_request_id))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    Router::new()
        .merge(
            SwaggerUi::new("/docs")
                .external_url_unchecked("/openapi.json", openapi::document(&state.config.password_policy)),
        )
        .merge(api)
        .layer(middleware)
}

/// Makes the request id available to error bodies.
async fn scope_request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    REQUEST_ID.scope(id, next.run(req)).await.into_response()
}

/// Paths a browser application on any origin may call (no cookies are involved: they take
/// bearer tokens or client credentials): discovery, keys and the OAuth endpoints an SPA uses.
const OPEN_PATHS: [&str; 7] = [
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/.well-known/jwks.json",
    "/oauth2/token",
    "/oauth2/revoke",
    "/oauth2/userinfo",
    "/oauth2/device_authorization",
];

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            allowed.contains(origin) || OPEN_PATHS.contains(&parts.uri.path())
        }))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}

/// Request ids: a random per-process prefix and a counter — unique, and no system call per
/// request (UUIDv4 would read the system's randomness every time).
#[derive(Clone)]
struct SequentialRequestId {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl SequentialRequestId {
    fn new() -> Self {
        let prefix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        Self {
            prefix: prefix.into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:012x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}
