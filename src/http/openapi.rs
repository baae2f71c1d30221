//! The OpenAPI description of every route, served at `/openapi.json` and `/docs`.
//!
//! Handlers' `#[utoipa::path]` annotations list their success and what is particular to them
//! (403 where authorisation refuses, 409 on conflicts, 429 on password logins, ...);
//! [`document`] adds what every operation of a kind can answer (401 and 403 with a bearer
//! token, 404 with an id in the path, 400/413/415/422 with a body, 422 with a query, 503 where
//! the database is read), makes every error the standard answer with its headers, and merges
//! the combinations of fields bodies accept (`schema::combinations`) and the configured password
//! policy — so that the description and the server agree (`tests/schema/run.sh` checks).
use super::compat::{cl, daarion, edd};
use super::{activity, auth, domains, dto, error, meta, oidc, orgs, password, providers, roles, seed};
use super::{schema, service_accounts, teams, users};
use crate::config::PasswordPolicy;
use serde_json::{Map, Value, json};
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
        password::forgot, password::reset,
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
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("A service account's `client_id:client_secret`"))
                    .build(),
            ),
        );
    }
}

/// Operations that answer from memory and never touch the database (no 503).
const IN_MEMORY: &[&str] = &[
    "/",
    "/health",
    "/healthz",
    "/.well-known/jwks.json",
    "/.well-known/openid-configuration",
    "/auth/public-key",
];

/// An error answer every operation of a kind can give: its status, the name of its component
/// under `components/responses`, what it means, and the header it carries.
struct Standard {
    status: &'static str,
    name: &'static str,
    description: &'static str,
    header: Option<(&'static str, &'static str)>,
}

const STANDARD_RESPONSES: &[Standard] = &[
    Standard {
        status: "400",
        name: "BadRequest",
        description: "The body is not well-formed (`malformed_json`, `malformed_form`, `bad_request`), or the request is refused as OAuth refuses it.",
        header: None,
    },
    Standard {
        status: "401",
        name: "Unauthorized",
        description: "Missing or invalid credentials.",
        header: Some(("WWW-Authenticate", "Always `Bearer`.")),
    },
    Standard {
        status: "403",
        name: "Forbidden",
        description: "Authenticated, but not allowed (a service account's token on a user route, too).",
        header: None,
    },
    Standard {
        status: "404",
        name: "NotFound",
        description: "No such thing, or not visible to the caller (a malformed id too).",
        header: None,
    },
    Standard {
        status: "409",
        name: "Conflict",
        description: "Conflicts with existing data: a name or slug taken, or a state that forbids the change.",
        header: None,
    },
    Standard {
        status: "413",
        name: "PayloadTooLarge",
        description: "The body is larger than the limit (64 KiB; 8 MiB for seed documents).",
        header: None,
    },
    Standard {
        status: "415",
        name: "UnsupportedMediaType",
        description: "The body is not of the documented content type.",
        header: None,
    },
    Standard {
        status: "422",
        name: "ValidationFailed",
        description: "Input failed validation: `errors` names each field or parameter.",
        header: None,
    },
    Standard {
        status: "429",
        name: "TooManyRequests",
        description: "Too many failed logins for this name.",
        header: Some(("Retry-After", "Seconds to wait.")),
    },
    Standard {
        status: "502",
        name: "BadGateway",
        description: "An identity provider cannot be reached or answers nonsense.",
        header: None,
    },
    Standard {
        status: "503",
        name: "Unavailable",
        description: "The database does not answer; try again shortly.",
        header: Some(("Retry-After", "Seconds to wait.")),
    },
];

/// The description `/openapi.json` serves: `ApiDoc` with the standard answers, the accepted
/// combinations of fields, and `policy`'s password length.
pub fn document(policy: &PasswordPolicy) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        for (name, keywords) in schema::combinations() {
            if let Some(Value::Object(target)) = schemas.get_mut(name) {
                merge(target, keywords);
            }
        }
        if let Some(password) = schemas.get_mut("NewPassword") {
            password["minLength"] = json!(policy.min_length);
            if policy.blocklist {
                password["not"] = json!({ "enum": schema::common_passwords() });
            }
        }
    }
    let components = doc.pointer_mut("/components").and_then(Value::as_object_mut);
    if let Some(components) = components {
        components.insert("responses".into(), standard_responses());
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            for operation in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
                complete(path, operation);
            }
        }
    }
    doc
}

/// Merges keywords into a schema: `properties` one by one, `description` appended, others set.
fn merge(target: &mut Map<String, Value>, keywords: Value) {
    let Value::Object(keywords) = keywords else { return };
    for (key, value) in keywords {
        match (key.as_str(), value) {
            ("properties", Value::Object(properties)) => {
                let into = target.entry("properties").or_insert_with(|| json!({}));
                for (name, schema) in properties {
                    into[name] = schema;
                }
            }
            ("description", Value::String(text)) => {
                let joined = match target.get("description").and_then(Value::as_str) {
                    Some(before) => format!("{before}\n\n{text}"),
                    None => text,
                };
                target.insert(key, Value::String(joined));
            }
            (_, value) => {
                target.insert(key, value);
            }
        }
    }
}

fn standard_responses() -> Value {
    let mut responses = Map::new();
    for Standard {
        name,
        description,
        header,
        ..
    } in STANDARD_RESPONSES
    {
        let mut response = json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
        });
        if let Some((header, about)) = header {
            response["headers"] =
                json!({ *header: { "description": about, "required": true, "schema": { "type": "string" } } });
        }
        responses.insert((*name).into(), response);
    }
    Value::Object(responses)
}

/// Adds to one operation what every operation of its kind can answer, and says what the
/// annotations leave unsaid (descriptions; an optional body is absent, never `null`).
fn complete(path: &str, operation: &mut Value) {
    let Some(op) = operation.as_object_mut() else { return };
    let requirements = op
        .get("security")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let bearer_required = !requirements.is_empty() && requirements.iter().all(|r| r.get("bearer").is_some());
    let has_body = optional_body(op);
    let parameters = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let in_query = parameters.iter().any(|p| p["in"] == "query");
    let in_path = path.contains('{');

    let mut add = Vec::new();
    if bearer_required {
        add.extend(["401", "403"]);
    }
    if in_path {
        add.push("404");
    }
    if has_body {
        add.extend(["400", "413", "415", "422"]);
    }
    if in_query {
        add.push("422");
    }
    if !IN_MEMORY.contains(&path) {
        add.push("503");
    }
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    for status in add {
        responses.entry(status).or_insert(Value::Null);
    }
    for (status, response) in responses.iter_mut() {
        let standard = STANDARD_RESPONSES.iter().find(|s| s.status == status);
        match standard {
            // Every error is an `ErrorBody`: the standard answer, with its headers.
            Some(Standard { name, .. }) => *response = json!({ "$ref": format!("#/components/responses/{name}") }),
            None => {
                if response
                    .get("description")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    response["description"] = json!(success(status));
                }
            }
        }
    }
}

/// Whether the operation takes a body; an `Option<T>` body is made "may be absent" (the
/// extractors read an empty body as none, and `null` as a malformed one).
fn optional_body(op: &mut Map<String, Value>) -> bool {
    let Some(body) = op.get_mut("requestBody") else {
        return false;
    };
    let required = body.get("required").and_then(Value::as_bool).unwrap_or(false);
    if let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) {
        for media in content.values_mut() {
            let Some(choices) = media.pointer("/schema/oneOf").and_then(Value::as_array) else {
                continue;
            };
            let not_null: Vec<Value> = choices.iter().filter(|c| c["type"] != "null").cloned().collect();
            if !required && not_null.len() == 1 && choices.len() == 2 {
                media["schema"] = not_null[0].clone();
            }
        }
    }
    true
}

fn success(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No content",
        "302" => "Found: see `Location`",
        _ => "The answer",
    }
}
