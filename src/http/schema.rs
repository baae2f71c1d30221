//! The input rules (`seed::rules`, the password policy) as JSON Schema, for the OpenAPI
//! description: one component per rule, which request bodies name with
//! `#[schema(value_type = schema::Slug)]`, so that the description accepts exactly what the
//! server accepts. The patterns are ECMA-262 spelled with explicit character classes — Rust's
//! `char::is_whitespace` (`WS`) and `char::is_control` (`CTRL`) — so every validator reads them
//! as the rules do; the rules trim before they check, so most patterns allow whitespace around
//! the value.
//!
//! What a struct alone cannot say (which combinations of fields are accepted) is in
//! [`combinations`]; `openapi::document` merges it into the description.
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};

/// `char::is_whitespace` (Unicode White_Space), inside a character class.
const WS: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// `char::is_control` (Unicode Cc), inside a character class.
const CTRL: &str = r"\u0000-\u001f\u007f-\u009f";

/// Longest password accepted, in characters (`model::input::MAX_PASSWORD_CHARS`).
pub const MAX_PASSWORD: usize = crate::model::input::MAX_PASSWORD_CHARS;

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

/// `seed::rules::email`: trimmed and lower-cased; one `@`; a dotted domain (or `localhost`); no
/// whitespace or control characters; at most 254 characters.
pub fn email_pattern() -> String {
    let atom = format!("[^@{WS}{CTRL}]");
    let edge = format!("[^@.{WS}{CTRL}]");
    format!("^{atom}+@(?:[lL][oO][cC][aA][lL][hH][oO][sS][tT]|{edge}{atom}*\\.{atom}*{edge})$")
}

/// `seed::rules::username`: after trimming, 1–64 letters or digits (of any script), `.`, `_`
/// or `-`; lower-cased (so not `İ`, which lower-cases to two characters).
pub fn username_pattern() -> String {
    format!(r"^[{WS}]*(?![^\u0130]*\u0130)[\p{{Alpha}}\p{{N}}._-]{{1,64}}[{WS}]*$")
}

/// `seed::rules::display_name`: after trimming, 1–200 characters without control characters.
pub fn display_name_pattern() -> String {
    let edge = format!("[^{WS}{CTRL}]");
    format!("^[{WS}]*{edge}(?:[^{CTRL}]{{0,198}}{edge})?[{WS}]*$")
}

/// `seed::rules::slug`.
pub const SLUG_PATTERN: &str = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";
/// `seed::rules::key`.
pub const KEY_PATTERN: &str = "^[a-z0-9_-]{1,63}$";

/// `seed::rules::permissions`, one of them: 1–100 characters, no whitespace or control characters.
pub fn permission_pattern() -> String {
    format!("^[^{WS}{CTRL}]{{1,100}}$")
}

/// Something other than whitespace (a login name, a token that must not be blank), and no NUL.
pub fn not_blank_pattern() -> String {
    format!(r"^[^\u0000]*[^{WS}\u0000][^\u0000]*$")
}

/// Text without NUL characters, which PostgreSQL cannot store (`http::extract` refuses them).
pub const NO_NUL_PATTERN: &str = r"^[^\u0000]*$";

/// `seed::rules::issuer`: after trimming, `https://` and a host (or `http://localhost`,
/// `http://127.0.0.1`), no space, `?` or `#`.
pub fn issuer_pattern() -> String {
    let rest = format!(r"[^ ?#\u0000]*[^ ?#{WS}\u0000]");
    format!(r"^[{WS}]*(?:https://(?!/|://){rest}|http://(?:localhost|127\.0\.0\.1)(?:{rest})?)[{WS}]*$")
}

/// `seed::rules::email_domain`: dotted labels of ASCII letters, digits and `-`; leading `@`s and
/// surrounding whitespace dropped.
pub fn email_domain_pattern() -> String {
    format!("^[{WS}]*@*(?:[A-Za-z0-9-]+\\.)+[A-Za-z0-9-]+[{WS}]*$")
}

/// `cl`'s permissions in a form: `[a, b]`, `a,b`, `"a", 'b'`; each one a permission.
pub fn permission_text_pattern() -> String {
    let core = format!("[^,'\"{WS}{CTRL}](?:[^,{WS}{CTRL}]{{0,98}}[^,'\"{WS}{CTRL}])?");
    let part = format!("[{WS}]*['\"]*(?:{core}['\"]*)?[{WS}]*");
    format!(r"^[{WS}]*\[*{part}(?:,{part})*\]*[{WS}]*$")
}

/// `cl`'s booleans in a form: `true`, `false`, `1`, `0`, `yes`, `no`, `on`, `off`, any case.
pub fn flag_text_pattern() -> String {
    let words = "[tT][rR][uU][eE]|[fF][aA][lL][sS][eE]|1|0|[yY][eE][sS]|[nN][oO]|[oO][nN]|[oO][fF][fF]";
    format!("^[{WS}]*(?:{words})[{WS}]*$")
}

macro_rules! rule {
    ($($(#[$doc:meta])* $name:ident => $schema:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let builder: ObjectBuilder = $schema;
                builder.into()
            }
        }

        impl utoipa::ToSchema for $name {}
    )*};
}

rule! {
    /// An email address (`seed::rules::email`).
    // Not `format: email`: validators read that as RFC 5321's ASCII addresses, and the rule takes
    // any address without whitespace (`ada@exämple.test` too).
    Email => string("An email address: one `@`, a dotted domain (or `localhost`), no whitespace or control characters; compared lower-cased.")
        .max_length(Some(254))
        .pattern(Some(email_pattern()))
        .examples([json!("ada@acme.test")]);
    /// A login name (`seed::rules::username`).
    Username => string("1–64 letters or digits of any script, `.`, `_` or `-` (never `@`); stored lower-cased, surrounding whitespace ignored.")
        .pattern(Some(username_pattern()))
        .examples([json!("ada.lovelace")]);
    /// A person's or thing's name (`seed::rules::display_name`).
    DisplayName => string("1–200 characters without control characters, surrounding whitespace ignored.")
        .pattern(Some(display_name_pattern()))
        .examples([json!("Ada Lovelace")]);
    /// An organisation's, team's or provider's slug (`seed::rules::slug`).
    Slug => string("1–63 lower-case ASCII letters, digits or `-`, not starting or ending with `-`.")
        .min_length(Some(1))
        .max_length(Some(63))
        .pattern(Some(SLUG_PATTERN))
        .examples([json!("platform-team")]);
    /// An identity provider's slug: a slug, and not `default` (`service::providers`).
    ProviderSlug => string("A slug (1–63 lower-case ASCII letters, digits or `-`, not starting or ending with `-`) other than `default`, which names the provider configured by AUTH_OIDC_*.")
        .min_length(Some(1))
        .max_length(Some(63))
        .pattern(Some(format!("^(?!default$){}", &SLUG_PATTERN[1..])))
        .examples([json!("acme-sso")]);
    /// A domain's or role's key (`seed::rules::key`).
    Key => string("1–63 lower-case ASCII letters, digits, `-` or `_`.")
        .min_length(Some(1))
        .max_length(Some(63))
        .pattern(Some(KEY_PATTERN))
        .examples([json!("billing")]);
    /// A reference to something outside guildhall (`seed::rules::reference`).
    Reference => string("Free text of at most 255 characters.")
        .max_length(Some(255));
    /// A permission (`seed::rules::permissions`).
    Permission => string("1–100 characters without whitespace or control characters, such as `read:posts` or `*`.")
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(permission_pattern()))
        .examples([json!("read:posts")]);
    /// A new password (`model::input::PasswordPolicy`); `minLength` is the configured
    /// `AUTH_PASSWORD_MIN_LENGTH` (`openapi::document`).
    NewPassword => string("A new password: only its length in characters is checked (no composition rules) and, with AUTH_PASSWORD_BLOCKLIST (the default), that it is not one of the very common passwords listed under `not` (compared lower-cased).")
        .format(Some(SchemaFormat::Custom("password".into())))
        .min_length(Some(8))
        .max_length(Some(MAX_PASSWORD))
        .examples([json!("correct horse battery staple")]);
    /// A password presented to log in (`model::input::presented_password`).
    Password => string("The account's password.")
        .format(Some(SchemaFormat::Custom("password".into())))
        .min_length(Some(1))
        .max_length(Some(MAX_PASSWORD));
    /// Who logs in (`service::auth::Login::parse`).
    LoginName => string("An email address or username; not blank (compared trimmed and lower-cased).")
        .pattern(Some(not_blank_pattern()))
        .examples([json!("ada@acme.test")]);
    /// Text that must not be blank (a token).
    /// A code of an authenticator app (RFC 6238).
    TotpCode => string("The 6 digits an authenticator app shows.")
        .pattern(Some("^[0-9]{6}$"))
        .examples([json!("123456")]);
    NotBlank => string("Not empty or only whitespace.")
        .pattern(Some(not_blank_pattern()));
    /// A passkey's name (`service::mfa::passkeys::parse_name`), when given on registration:
    /// blank is the default name.
    PasskeyName => string("At most 64 characters without control characters (trimmed; blank means `Passkey`).")
        .max_length(Some(64))
        .pattern(Some(format!("^[^{CTRL}]*$")))
        .examples([json!("Work laptop")]);
    /// A passkey's new name: as `PasskeyName`, not blank.
    PasskeyRename => string("1–64 characters without control characters, not only whitespace (trimmed).")
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some(format!("^[^{CTRL}]*[^{WS}{CTRL}][^{CTRL}]*$")))
        .examples([json!("Work laptop")]);
    /// An OpenID Connect issuer (`seed::rules::issuer`).
    Issuer => string("An `https://` URL (`http://` only on localhost or 127.0.0.1) without a query or fragment, at most 2048 bytes; kept exactly as written (discovery compares it byte for byte).")
        .pattern(Some(issuer_pattern()))
        .examples([json!("https://id.acme.test")]);
    /// An email domain a provider serves (`seed::rules::email_domain`).
    EmailDomain => string("A domain name such as `acme.test` (a leading `@` is dropped), at most 253 characters; stored lower-cased.")
        .pattern(Some(email_domain_pattern()))
        .examples([json!("acme.test")]);
    /// `cl`'s permissions as a form field.
    PermissionText => string("Permissions as text: `[a, b]`, `a,b` or quoted items; each 1–100 characters without whitespace or control characters.")
        .pattern(Some(permission_text_pattern()))
        .examples([json!("[read:posts, write:posts]")]);
    /// `cl`'s booleans as a form field.
    FlagText => string("`true`, `false`, `1`, `0`, `yes`, `no`, `on` or `off` (any case).")
        .pattern(Some(flag_text_pattern()))
        .examples([json!("true")]);
}

/// The passwords `AUTH_PASSWORD_BLOCKLIST` refuses (`model::input::PasswordPolicy`), as they are
/// listed (the check is on the lower-cased password).
pub fn common_passwords() -> Vec<&'static str> {
    include_str!("../model/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// A `$ref` to one of the components above, as `combinations` writes them.
fn component(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A property that is absent or `null` (`Option` fields: `null` is the same as absent).
/// A second factor: the app's `code`, a passkey's `assertion` or a `recovery_code`, exactly one
/// (`http::mfa`).
fn one_factor() -> Value {
    let only = |field: &str, schema: Value| {
        let mut properties = serde_json::Map::new();
        for other in ["code", "recovery_code", "assertion"] {
            properties.insert(other.into(), absent());
        }
        properties.insert(field.into(), schema);
        json!({ "required": [field], "properties": properties })
    };
    json!({
        "description": "Gives the app's `code`, a passkey's `assertion` or a `recovery_code`, exactly one.",
        "oneOf": [
            only("code", json!({ "type": "string" })),
            only("recovery_code", json!({ "type": "string" })),
            only("assertion", component("AssertionRequest")),
        ],
    })
}

fn absent() -> Value {
    json!({ "type": "null" })
}

/// Which combinations of fields each body accepts, where that is more than "these are
/// required": `(component, keywords merged into it)`. Each mirrors a `parse` in `http/`.
pub fn combinations() -> Vec<(&'static str, Value)> {
    let login = |field: &str, before: &[&str]| {
        let mut properties = serde_json::Map::new();
        for earlier in before {
            properties.insert((*earlier).into(), absent());
        }
        properties.insert(field.into(), component("LoginName"));
        json!({ "required": [field], "properties": properties })
    };
    vec![
        // `LoginRequest::parse`: the first of `email`, `username`, `login` that is not null
        // names the account, and must not be blank.
        (
            "LoginRequest",
            json!({
                "description": "Names the account with `email`, `username` or `login` (the first that is not null counts) and gives its `password`.",
                "anyOf": [
                    login("email", &[]),
                    login("username", &["email"]),
                    login("login", &["email", "username"]),
                ],
            }),
        ),
        // `mfa::FactorRequest::parse`: exactly one of `code`, `assertion` and `recovery_code`.
        ("FactorRequest", one_factor()),
        ("MfaVerifyRequest", one_factor()),
        // `AddMember::parse`: `user_id` wins; otherwise `email` must be an email address.
        (
            "AddMember",
            json!({
                "description": "Names the user with `user_id` or, when it is absent or null, `email`.",
                "anyOf": [
                    { "required": ["user_id"], "properties": { "user_id": { "type": "string", "format": "uuid" } } },
                    { "required": ["email"], "properties": { "user_id": absent(), "email": component("Email") } },
                ],
            }),
        ),
        // `CreateUser::parse`: `email`, or a `username` that is an email address (seed 001).
        (
            "CreateUser",
            json!({
                "description": "Needs `email`; without it, a `username` that is an email address is the email (seed 001's clients).",
                "anyOf": [
                    { "required": ["email"], "properties": { "email": component("Email"), "username": { "oneOf": [absent(), component("Username")] } } },
                    { "required": ["username"], "properties": { "email": absent(), "username": component("Email") } },
                ],
            }),
        ),
        // `TokenForm::parse`: the fields each grant needs (`password` when no grant is named).
        (
            "TokenForm",
            json!({
                "anyOf": [
                    {
                        "required": ["username", "password"],
                        "properties": {
                            "grant_type": { "enum": ["password"] },
                            "username": component("LoginName"),
                            "password": component("Password"),
                        },
                    },
                    {
                        "required": ["grant_type", "refresh_token"],
                        "properties": { "grant_type": { "enum": ["refresh_token"] } },
                    },
                    {
                        "required": ["grant_type"],
                        "properties": { "grant_type": { "enum": ["client_credentials"] } },
                    },
                ],
            }),
        ),
        // `seed::rules::scopes`: words without whitespace, `openid` among them.
        (
            "ProviderBody",
            json!({
                "properties": {
                    "scopes": {
                        "description": "Default `[\"openid\", \"email\", \"profile\"]`; must include `openid`.",
                        "oneOf": [
                            absent(),
                            {
                                "type": "array",
                                "items": { "type": "string", "pattern": format!("^[^{WS}{CTRL}]+$") },
                                "contains": { "const": "openid" },
                            },
                        ],
                    },
                },
            }),
        ),
        // `daarion::refresh`: seed 000 has no organisations to switch to.
        (
            "DaarionRefresh",
            json!({ "properties": { "organization": { "type": "null", "description": "Not here: switch organisation with `POST /auth/refresh` (a 422 otherwise)." } } }),
        ),
        // `CreateForm::parse` (seed 002): a `username` with `@` is the account's email.
        (
            "CreateForm",
            json!({
                "properties": { "username": { "anyOf": [component("Email"), component("Username")] } },
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_name_components_that_exist() {
        let doc = serde_json::to_value(<super::super::openapi::ApiDoc as utoipa::OpenApi>::openapi()).unwrap();
        for (name, _) in combinations() {
            assert!(doc["components"]["schemas"][name].is_object(), "{name}");
        }
    }
}
