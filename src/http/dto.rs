//! Wire types: what clients send and receive. Built from domain types, never from rows.
use crate::model::{DomainGrant, MembershipContext, Page, PageRequest, Session, TeamGrant};
use crate::service::FieldError;
use crate::service::auth::Grant;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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
    /// Whether the address is proven (a verification mail, an invitation, a provider's
    /// assertion, a superuser or the operator), not merely claimed.
    pub email_verified: bool,
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

impl From<&MembershipContext> for UserView {
    fn from(c: &MembershipContext) -> Self {
        Self {
            id: c.user.id,
            email: c.user.email.clone(),
            email_verified: c.user.email_verified,
            username: c.user.username.clone(),
            name: c.user.display_name.clone(),
            is_active: c.user.active,
            is_superuser: c.user.superuser,
            created_at: c.user.created_at,
            org: OrgView {
                id: c.org.id,
                slug: c.org.slug.clone(),
                name: c.org.name.clone(),
            },
            roles: c.roles.clone(),
            permissions: c.permissions.clone(),
            teams: c.teams.iter().map(TeamView::from).collect(),
            domains: c.expanded_domains.iter().map(DomainView::from).collect(),
        }
    }
}

impl From<&TeamGrant> for TeamView {
    fn from(t: &TeamGrant) -> Self {
        Self {
            id: t.id,
            slug: t.slug.clone(),
            name: t.name.clone(),
            role: t.role.clone(),
        }
    }
}

impl From<&DomainGrant> for DomainView {
    fn from(d: &DomainGrant) -> Self {
        Self {
            id: d.id,
            key: d.key.clone(),
            name: d.name.clone(),
            path: d.path.clone(),
        }
    }
}

/// Pagination: `limit` (1–200, default 50) and the `cursor` of the previous page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many items (default 50).
    #[param(minimum = 1, maximum = 200, nullable = false)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page; empty or absent for the first page.
    #[param(
        nullable = false,
        pattern = "^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn request(&self) -> Result<PageRequest, super::error::ApiError> {
        let mut errors = Vec::new();
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            errors.push(FieldError {
                field: "limit".into(),
                message: "must be between 1 and 200".into(),
            });
        }
        // Cursors are this API's own hyphenated ids; nothing else names a place in a list.
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => match c.parse::<Uuid>().ok().filter(|_| c.len() == 36) {
                Some(id) => Some(id),
                None => {
                    errors.push(FieldError {
                        field: "cursor".into(),
                        message: "is not a cursor from this list".into(),
                    });
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(PageRequest { limit, after })
        } else {
            Err(super::error::ApiError::Validation(errors))
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageOf<T: ToSchema> {
    pub items: Vec<T>,
    /// How many there are in all; on the first page only (absent once a `cursor` is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> PageOf<T> {
    pub fn map<S>(page: Page<S>, f: impl Fn(S) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(f).collect(),
            total: page.total,
            next_cursor: page.next_cursor,
        }
    }
}

/// `Option<Option<T>>` for PATCH bodies: absent = leave alone, `null` = clear.
pub fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
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
            user: (&g.context).into(),
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
    /// How many live sessions there are; on the first page only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

impl SessionList {
    pub fn new(page: Page<Session>, current: Uuid) -> Self {
        Self {
            sessions: page.items.into_iter().map(|s| SessionView::new(s, current)).collect(),
            total: page.total,
            next_cursor: page.next_cursor,
        }
    }
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

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    pub valid: bool,
    pub user: Option<UserView>,
    /// Why the token is not valid: a stable code.
    pub error: Option<String>,
    /// How the user authenticated (RFC 8176: `pwd`, `otp`, `fed`, `mfa`), from the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<&'static str>>,
    /// `urn:guildhall:acr:mfa` after a second factor, else `urn:guildhall:acr:1fa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<&'static str>,
}
