//! The OpenAPI description of every route, served at `/openapi.json` and `/docs`.
use super::{auth, dto, error, meta};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "guildhall", description = "Multi-tenant identity platform"),
    paths(
        meta::root, meta::health, meta::healthz, meta::readyz, meta::jwks, meta::discovery, meta::public_key,
        auth::register, auth::login, auth::token, auth::refresh, auth::logout, auth::logout_all, auth::me,
        auth::sessions, auth::revoke_session,
    ),
    components(schemas(error::ErrorBody, error::FieldErrorBody, dto::UserView, dto::TokenResponse)),
    modifiers(&BearerScheme),
    tags((name = "auth", description = "Accounts, sessions and tokens"), (name = "meta", description = "Health, keys and discovery")),
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
