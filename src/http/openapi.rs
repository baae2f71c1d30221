//! The OpenAPI description of every route, served at `/openapi.json` and `/docs`.
use super::compat::{cl, daarion, edd};
use super::{activity, auth, domains, dto, error, meta, oidc, orgs, password, providers, roles, seed};
use super::{email_domains, invitations, service_accounts, teams, users, verification};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "guildhall", description = "Multi-tenant identity platform"),
    paths(
        meta::root, meta::health, meta::healthz, meta::readyz, meta::jwks, meta::discovery, meta::public_key,
        auth::register, auth::login, auth::token, auth::refresh, auth::logout, auth::logout_all, auth::me,
        auth::sessions, auth::revoke_session, auth::validate, auth::introspect,
        teams::mine, teams::all, teams::create, teams::get, teams::update, teams::delete, teams::members,
        teams::put_member, teams::remove_member,
        domains::mine, domains::all, domains::create, domains::get, domains::update, domains::delete,
        domains::assign, domains::unassign,
        orgs::list, orgs::create, orgs::get, orgs::update, orgs::delete, orgs::members, orgs::add_member,
        orgs::set_roles, orgs::remove_member, roles::list, roles::create, roles::update, roles::delete,
        service_accounts::list, service_accounts::create, service_accounts::delete,
        users::list, users::create, users::get, users::update, users::delete, activity::events, activity::audit, seed::apply,
        providers::list, providers::create, providers::get, providers::update, providers::delete,
        oidc::login, oidc::callback, oidc::exchange, oidc::discover,
        password::forgot, password::reset, password::change,
        verification::verify, verification::resend, email_domains::joinable, email_domains::join,
        invitations::preview, invitations::accept, invitations::create, invitations::list, invitations::get,
        invitations::revoke, invitations::resend, email_domains::list, email_domains::claim, email_domains::verify,
        email_domains::update, email_domains::delete,
        daarion::register, daarion::login, daarion::refresh, daarion::logout, daarion::me, daarion::introspect,
        edd::login, edd::logout, edd::me,
        cl::refresh, cl::me, cl::list, cl::create, cl::get, cl::update, cl::delete,
    ),
    components(schemas(error::ErrorBody, error::FieldErrorBody, dto::UserView, dto::TokenResponse)),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Accounts, sessions and tokens"),
        (name = "teams", description = "Teams of the active organisation"),
        (name = "domains", description = "The domain tree of the active organisation"),
        (name = "orgs", description = "Organisations, members, roles, service accounts"),
        (name = "admin", description = "User administration"),
        (name = "meta", description = "Health, keys and discovery"),
        (name = "oidc", description = "Logging in through external OpenID Connect providers"),
        (name = "compat", description = "The seed services' routes, for their clients (README: Compatibility with the seed services)"),
    ),
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
