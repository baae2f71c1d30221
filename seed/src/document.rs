//! The document's shape. Every object matches by slug / key / email; `id`, where given, is used
//! when the object is created and kept stable after.
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(default)]
    pub orgs: Vec<Org>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub slug: String,
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub domains: Vec<Domain>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccount>,
    #[serde(default)]
    pub identity_providers: Vec<IdentityProvider>,
    /// Email domains the organisation owns: verified on apply (the operator is trusted).
    #[serde(default)]
    pub email_domains: Vec<EmailDomain>,
    /// Shown on the organisation's hosted login pages.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Applications (OAuth clients) that log their users in through guildhall.
    #[serde(default)]
    pub applications: Vec<Application>,
}

/// An application (OAuth client); matched by `client_id` (unique across organisations). Its
/// settings are those of `PUT /orgs/{id}/clients/{app_id}` (`name`, `kind`,
/// `redirect_uris`, ...), checked when the document is applied.
#[derive(Debug, Clone, Deserialize)]
pub struct Application {
    pub client_id: String,
    /// For the secret methods: at least 32 characters; a changed one rotates the secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(flatten)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub external_ref: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

/// A domain; its children nest under it, or name it with `parent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub children: Vec<Domain>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// A password (hashed on apply), a pre-computed argon2 PHC hash, or neither (OIDC-only).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_hash: Option<String>,
    #[serde(default)]
    pub superuser: bool,
    #[serde(default = "yes")]
    pub active: bool,
    /// Roles in this organisation; default `member`.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Team slug → role (`member`, `maintainer`, `owner`).
    #[serde(default)]
    pub teams: BTreeMap<String, String>,
    /// Domain keys the user is assigned to.
    #[serde(default)]
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccount {
    /// Stable client id; the match key.
    pub client_id: String,
    pub name: String,
    /// The secret, at least 32 characters; set when the account is created.
    pub secret: String,
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// A verified email domain of the organisation, with its join policy; matched by `domain`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailDomain {
    pub domain: String,
    /// `invite_only` (default) or `auto_join`.
    #[serde(default)]
    pub join_policy: Option<String>,
    /// With `auto_join`: the roles joining grants (default `member`, never `owner`).
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

/// An external OpenID Connect provider; matched by `slug` (unique across organisations).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProvider {
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub email_domains: Vec<String>,
    /// Create accounts on first login.
    #[serde(default)]
    pub jit: bool,
    /// Link an existing account by email when the provider asserts `email_verified`.
    #[serde(default)]
    pub link_by_email: bool,
    #[serde(default)]
    pub groups_claim: Option<String>,
    #[serde(default)]
    pub mappings: Vec<Mapping>,
    #[serde(default = "yes")]
    pub active: bool,
}

/// What a claim value (a group) grants.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub value: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub teams: BTreeMap<String, String>,
    #[serde(default)]
    pub domains: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Domain {
    /// Every domain of a tree, depth first, with its path in the document and its parent key.
    pub fn flatten<'a>(
        domains: &'a [Domain],
        base: &str,
        parent: Option<&'a str>,
        out: &mut Vec<(String, &'a Domain, Option<&'a str>)>,
    ) {
        for (i, d) in domains.iter().enumerate() {
            let path = format!("{base}[{i}]");
            out.push((path.clone(), d, d.parent.as_deref().or(parent)));
            Domain::flatten(&d.children, &format!("{path}.children"), Some(&d.key), out);
        }
    }
}
