//! Wire types: what clients send and receive. Built from domain types, never from rows.
use crate::model::{MembershipContext, Session};
use crate::service::auth::Grant;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ada@acme.test")]
    pub email: String,
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    /// Display name (also accepted as `display_name` or `full_name`); defaults to the email's local part.
    #[serde(default, alias = "display_name", alias = "full_name")]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// Organisation slug; only the default organisation is open for self-registration.
    #[serde(default)]
    pub organization: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email, or username; `username` and `login` are accepted too.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub login: Option<String>,
    pub password: String,
    /// Organisation slug; default: the last one used.
    #[serde(default)]
    pub organization: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
    /// Switch to this organisation (slug).
    #[serde(default)]
    pub organization: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /auth/token`, OAuth 2.0 form fields.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// `password` (the default) or `refresh_token`.
    #[serde(default)]
    pub grant_type: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainView {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub path: String,
}

/// A user as seen in their active organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub username: Option<String>,
    pub name: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub created_at: DateTime<Utc>,
    pub org: OrgView,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub teams: Vec<TeamView>,
    pub domains: Vec<DomainView>,
}

impl From<MembershipContext> for UserView {
    fn from(c: MembershipContext) -> Self {
        Self {
            id: c.user.id,
            email: c.user.email,
            username: c.user.username,
            name: c.user.display_name,
            is_active: c.user.active,
            is_superuser: c.user.superuser,
            created_at: c.user.created_at,
            org: OrgView {
                id: c.org.id,
                slug: c.org.slug,
                name: c.org.name,
            },
            roles: c.roles,
            permissions: c.permissions,
            teams: Vec::new(),
            domains: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: UserView,
}

impl From<Grant> for TokenResponse {
    fn from(g: Grant) -> Self {
        Self {
            access_token: g.access_token,
            refresh_token: g.refresh_token,
            token_type: "bearer",
            expires_in: g.expires_in,
            user: g.context.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// True for the session of the token making the request.
    pub current: bool,
}

impl SessionView {
    pub fn new(s: Session, current: Uuid) -> Self {
        Self {
            current: s.id == current,
            id: s.id,
            org_id: s.org_id,
            user_agent: s.user_agent,
            ip: s.ip,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutAllResponse {
    /// How many sessions were ended.
    pub revoked: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKey {
    /// SubjectPublicKeyInfo PEM of the current signing key.
    pub public_key: String,
    pub algorithm: String,
}
