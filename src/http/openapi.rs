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
use super::{
    activity, apps, auth, domains, dto, error, meta, metrics, mfa, oidc, orgs, password, providers, roles, seed,
};
use super::{email_domains, invitations, schema, service_accounts, teams, users, verification, webhooks};
use crate::config::PasswordPolicy;
use serde_json::{Map, Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "guildhall", description = "Multi-tenant identity platform"),
    paths(
        meta::root, meta::health, meta::healthz, meta::readyz, meta::jwks, meta::discovery, meta::public_key,
        metrics::metrics,
        auth::register, auth::login, auth::token, auth::refresh, auth::logout, auth::logout_all, auth::me,
        auth::sessions, auth::revoke_session, auth::identities, auth::unlink_identity, auth::validate, auth::introspect,
        teams::mine, teams::all, teams::create, teams::get, teams::update, teams::delete, teams::members,
        teams::put_member, teams::remove_member,
        domains::mine, domains::all, domains::create, domains::get, domains::update, domains::delete,
        domains::assign, domains::unassign,
        orgs::list, orgs::create, orgs::get, orgs::update, orgs::delete, orgs::members, orgs::add_member,
        orgs::set_roles, orgs::remove_member, roles::list, roles::create, roles::update, roles::delete,
        service_accounts::list, service_accounts::create, service_accounts::delete,
        apps::list, apps::create, apps::get, apps::replace, apps::rotate_secret, apps::delete,
        users::list, users::create, users::get, users::update, users::delete, activity::events, activity::audit, seed::apply,
        providers::list, providers::create, providers::get, providers::update, providers::delete,
        webhooks::list, webhooks::create, webhooks::get, webhooks::update, webhooks::delete, webhooks::deliveries,
        oidc::login, oidc::callback, oidc::exchange, oidc::discover,
        password::forgot, password::reset, password::change,
        mfa::status, mfa::enroll, mfa::confirm, mfa::remove, mfa::regenerate, mfa::verify, mfa::enroll_with_token,
        mfa::confirm_with_token, mfa::reset, mfa::passkeys, mfa::register_start, mfa::register_finish,
        mfa::rename_passkey, mfa::remove_passkey, mfa::authenticate_start, mfa::login_challenge,
        verification::verify, verification::resend, email_domains::leave, email_domains::joinable, email_domains::join,
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
        (name = "applications", description = "Applications (OAuth clients) that log their users in through guildhall as an OpenID Provider; the OAuth endpoints themselves are in the discovery document"),
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
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.insert("FastApiError".into(), fastapi_error_schema());
        schemas.insert(
            "TokenError".into(),
            json!({ "anyOf": [{ "$ref": "#/components/schemas/ErrorBody" }, { "$ref": "#/components/schemas/FastApiError" }] }),
        );
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
    forbid_nul(&mut doc);
    doc
}

/// Every text a request can carry (bodies, parameters, and the components they name) says it
/// holds no NUL character, as `http::extract` enforces: each string schema without a pattern,
/// format or enum of its own gets `schema::NO_NUL_PATTERN` (the rules' patterns exclude it).
fn forbid_nul(doc: &mut Value) {
    let mut inputs: Vec<Value> = Vec::new();
    for item in doc["paths"].as_object().into_iter().flat_map(|p| p.values()) {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            inputs.extend(
                op["requestBody"]["content"]
                    .as_object()
                    .into_iter()
                    .flat_map(|c| c.values())
                    .cloned(),
            );
            inputs.extend(op["parameters"].as_array().into_iter().flatten().cloned());
        }
    }
    let mut named = std::collections::BTreeSet::new();
    let mut pending: Vec<String> = inputs.iter().flat_map(refs).collect();
    while let Some(name) = pending.pop() {
        if named.insert(name.clone()) {
            pending.extend(refs(&doc["components"]["schemas"][&name]));
        }
    }
    for name in named {
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            nul_free(schema);
        }
    }
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.insert("NulFree".into(), nul_free_value());
    }
    let operations = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|p| p.values_mut());
    for op in operations.flat_map(|item| item.as_object_mut().into_iter().flat_map(|o| o.values_mut())) {
        let Some(op) = op.as_object_mut() else { continue };
        let bodies = op
            .get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
            .and_then(Value::as_object_mut);
        for schema in bodies
            .into_iter()
            .flat_map(|c| c.values_mut())
            .filter_map(|m| m.get_mut("schema"))
        {
            nul_free(schema);
        }
        let parameters = op.get_mut("parameters").and_then(Value::as_array_mut);
        for schema in parameters.into_iter().flatten().filter_map(|p| p.get_mut("schema")) {
            nul_free(schema);
        }
    }
}

/// The component names a schema refers to, anywhere inside it.
fn refs(schema: &Value) -> Vec<String> {
    match schema {
        Value::Object(map) => {
            let own = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .map(String::from);
            own.into_iter().chain(map.values().flat_map(refs)).collect()
        }
        Value::Array(items) => items.iter().flat_map(refs).collect(),
        _ => Vec::new(),
    }
}

/// Adds the no-NUL pattern to the plain string schemas inside `schema` (not through `$ref`s), and
/// says of objects that take other properties that their names and values hold no NUL either
/// (the extractors look at the whole body, ignored fields too).
fn nul_free(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    let is = |map: &Map<String, Value>, ty: &str| match map.get("type") {
        Some(Value::String(t)) => t == ty,
        Some(Value::Array(types)) => types.iter().any(|t| t == ty),
        _ => false,
    };
    // Formats that cannot hold a NUL anyway; `password` and the like can.
    let checked_format = map
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| matches!(f, "uuid" | "date-time" | "date" | "int32" | "int64"));
    let constrained = checked_format
        || ["pattern", "enum", "const", "$ref"]
            .iter()
            .any(|k| map.contains_key(*k));
    if is(map, "string") && !constrained {
        map.insert("pattern".into(), json!(schema::NO_NUL_PATTERN));
    }
    if is(map, "object") {
        map.insert("propertyNames".into(), json!({ "pattern": schema::NO_NUL_PATTERN }));
        if matches!(map.get("additionalProperties"), None | Some(Value::Bool(true))) {
            map.insert(
                "additionalProperties".into(),
                json!({ "$ref": "#/components/schemas/NulFree" }),
            );
        }
    }
    for (key, value) in map.iter_mut() {
        match (key.as_str(), value) {
            ("properties", Value::Object(properties)) => properties.values_mut().for_each(nul_free),
            ("items" | "additionalProperties", value) => nul_free(value),
            ("oneOf" | "anyOf" | "allOf", Value::Array(choices)) => choices.iter_mut().for_each(nul_free),
            _ => {}
        }
    }
}

/// Any JSON value without a NUL character in its strings or keys: what a body may hold beyond
/// the fields an operation reads.
fn nul_free_value() -> Value {
    let text = json!({ "type": "string", "pattern": schema::NO_NUL_PATTERN });
    let any = json!({ "$ref": "#/components/schemas/NulFree" });
    json!({
        "description": "Any JSON value without NUL characters (in its strings and keys).",
        "anyOf": [
            { "type": ["null", "boolean", "number"] },
            text,
            { "type": "array", "items": any },
            { "type": "object", "propertyNames": text, "additionalProperties": any },
        ],
    })
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
        for (family, schema) in ERROR_FAMILIES {
            let mut response = json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } },
            });
            if let Some((header, about)) = header {
                response["headers"] =
                    json!({ *header: { "description": about, "required": true, "schema": { "type": "string" } } });
            }
            responses.insert(format!("{name}{family}"), response);
        }
    }
    Value::Object(responses)
}

/// The error bodies: guildhall's `ErrorBody` everywhere but on seed 002's routes, which answer
/// as FastAPI writes them (`compat::fastapi`), and `/auth/token`, which does so for form logins
/// without a `grant_type` only.
const ERROR_FAMILIES: [(&str, &str); 3] = [("", "ErrorBody"), ("FastApi", "FastApiError"), ("Token", "TokenError")];

/// Which of `ERROR_FAMILIES` the errors of `path` are.
fn error_family(path: &str) -> &'static str {
    match path {
        "/users/" | "/users/me" | "/users/{user_id}" | "/auth/token/refresh" => "FastApi",
        "/auth/token" => "Token",
        _ => "",
    }
}

/// FastAPI's body: `{"detail": "<sentence>"}`, or on 422 `{"detail": [{"loc", "msg", "type"}]}`.
fn fastapi_error_schema() -> Value {
    json!({
        "type": "object",
        "description": "An error of seed 002's routes, as FastAPI writes it.",
        "required": ["detail"],
        "additionalProperties": false,
        "properties": { "detail": { "oneOf": [
            { "type": "string" },
            { "type": "array", "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "additionalProperties": false,
                "properties": {
                    "loc": { "type": "array", "items": { "type": "string" } },
                    "msg": { "type": "string" },
                    "type": { "type": "string" },
                },
            } },
        ] } },
    })
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
            Some(Standard { name, .. }) => {
                let family = error_family(path);
                *response = json!({ "$ref": format!("#/components/responses/{name}{family}") })
            }
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
