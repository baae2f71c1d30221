//! Domain types the service layer works with; the store maps rows to these, the HTTP layer maps
//! these to DTOs.
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub mod client;
pub mod ids;
pub mod input;
mod webhook;

pub use client::{AppDraft, AppRules, AppSpec, Application, BrowserSession, ClientAuth, ClientKind, GrantType};
pub use ids::{
    AppId, DomainId, IdentityId, InvitationId, OrgId, PasskeyId, ProviderId, RoleId, ServiceAccountId, SessionId,
    TeamId, UserId, WebhookId,
};
pub use webhook::{Delivery, DeliveryStatus, Webhook};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub username: Option<String>,
    pub display_name: String,
    pub active: bool,
    pub superuser: bool,
    /// The address is proven, not merely claimed (see `store::users::NewUser::email_verified`).
    pub email_verified: bool,
    pub default_org_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub active: bool,
    /// Shown on the organisation's hosted pages.
    pub logo_url: Option<String>,
    /// Members must log in with a second factor (`service::mfa`).
    pub require_mfa: bool,
    /// Moves when one of its roles changes (its permissions, its removal): a membership's `mv`
    /// is its own version plus this one, so a role's change moves every member's `mv` with one
    /// single-row `UPDATE`.
    pub roles_version: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The application the session's tokens are issued to (`None`: guildhall's own API).
    pub client_id: Option<String>,
    /// The browser session it hangs off (single sign-on), if any.
    pub browser_session_id: Option<Uuid>,
    /// How the user authenticated when it started.
    pub auth: Authentication,
    /// What an application's tokens carry: scopes, audience, lifetimes (its own, if set).
    pub grant: TokenGrant,
}

/// What an application's tokens on a session are for (empty for guildhall's own API).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenGrant {
    /// Space-separated scopes (RFC 9068 `scope`).
    pub scope: Option<String>,
    /// The access tokens' `aud` (RFC 8707 `resource`); the configured audience otherwise.
    pub audience: Option<String>,
    pub access_ttl: Option<i64>,
    pub refresh_ttl: Option<i64>,
}

/// When and how a user authenticated (OpenID Connect `auth_time`, `amr`, `acr`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authentication {
    pub time: Option<DateTime<Utc>>,
    /// RFC 8176 method references, e.g. `pwd`, `otp`, `hwk`, `mfa`.
    pub methods: Vec<String>,
}

/// A login's RFC 8176 methods as a small set (what the verified-token cache keeps of `amr`):
/// `pwd`, `otp`, `fed` (an external provider), `hwk`, `swk`, `mfa`; other names are dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AuthMethods(u8);

impl AuthMethods {
    const NAMES: [&'static str; 6] = ["pwd", "otp", "fed", "hwk", "swk", "mfa"];

    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut bits = 0u8;
        for name in names {
            if let Some(i) = Self::NAMES.iter().position(|n| *n == name) {
                bits |= 1 << i;
            }
        }
        Self(bits)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn is_mfa(self) -> bool {
        self.0 & (1 << 5) != 0
    }

    /// The names, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    /// OpenID Connect `acr`.
    pub fn acr(self) -> &'static str {
        if self.is_mfa() { ACR_MFA } else { ACR_1FA }
    }
}

/// The `acr` of a login with a second factor, and of one without.
pub const ACR_MFA: &str = "urn:guildhall:acr:mfa";
pub const ACR_1FA: &str = "urn:guildhall:acr:1fa";

impl Authentication {
    /// The methods as the set tokens and the verified-token cache keep.
    pub fn set(&self) -> AuthMethods {
        AuthMethods::from_names(self.methods.iter().map(String::as_str))
    }

    /// Whether a second factor was part of the login (`amr` holds `mfa`).
    pub fn is_mfa(&self) -> bool {
        self.set().is_mfa()
    }

    /// OpenID Connect `acr`: `urn:guildhall:acr:mfa` with a second factor, else `...:1fa`.
    pub fn acr(&self) -> &'static str {
        self.set().acr()
    }
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A user as seen from one organisation: what an access token carries and `/auth/validate`
/// answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipContext {
    pub user: User,
    pub org: Organisation,
    pub roles: Vec<String>,
    /// The roles' permissions and `direct`, sorted, each once.
    pub permissions: Vec<String>,
    /// The permissions granted to the membership itself, not through a role (sorted): what a
    /// role's change leaves of `permissions` (`after_role_change`).
    pub direct_permissions: Vec<String>,
    pub mv: i64,
    /// Active teams the user belongs to, with the user's role in each.
    pub teams: Vec<TeamGrant>,
    /// The domains the user is assigned to (active, with active ancestors).
    pub domains: Vec<DomainGrant>,
    /// `domains` with their whole subtrees.
    pub expanded_domains: Vec<DomainGrant>,
}

impl MembershipContext {
    pub fn is_admin(&self) -> bool {
        self.user.superuser || self.roles.iter().any(|r| r == "owner" || r == "admin")
    }

    /// This context after a change of the organisation's role `role` (its permissions, or its
    /// removal) that moved the roles version to `version`, given every role of the organisation
    /// with its permissions after the change (a role left out was removed): what loading it
    /// again would read, without the reads. A holder's roles not in `roles` are dropped and its
    /// permissions are its roles' and its own again; every member's `mv` moves with the
    /// version. `None` when this context is already at `version` or past it (loaded after the
    /// change, or a later change came first).
    pub fn after_role_change(
        &self,
        role: &str,
        roles: &std::collections::BTreeMap<String, Vec<String>>,
        version: i64,
    ) -> Option<Self> {
        if self.org.roles_version >= version {
            return None;
        }
        let mut org = self.org.clone();
        org.roles_version = version;
        let mv = self.mv - self.org.roles_version + version;
        if !self.roles.iter().any(|r| r == role) {
            return Some(Self {
                org,
                mv,
                ..self.clone()
            });
        }
        let kept: Vec<String> = self.roles.iter().filter(|r| roles.contains_key(*r)).cloned().collect();
        let mut permissions: Vec<String> = kept
            .iter()
            .flat_map(|r| roles.get(r).into_iter().flatten())
            .chain(&self.direct_permissions)
            .cloned()
            .collect();
        permissions.sort();
        permissions.dedup();
        permissions.shrink_to_fit();
        Some(Self {
            org,
            roles: kept,
            permissions,
            mv,
            ..self.clone()
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamGrant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainGrant {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    /// Keys from the root, joined by `/`.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: Uuid,
    pub org_id: Uuid,
    pub slug: String,
    pub name: String,
    pub external_ref: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    pub user: User,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: Uuid,
    pub org_id: Uuid,
    pub key: String,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: Uuid,
    pub org_id: Uuid,
    pub key: String,
    pub name: String,
    pub builtin: bool,
    pub permissions: Vec<String>,
}

/// A member of an organisation, with their roles there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMember {
    pub user: User,
    pub roles: Vec<String>,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub id: Uuid,
    pub org_id: Uuid,
    pub client_id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// One page of a list, in a stable order.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many there are in all; counted on the first page only.
    pub total: Option<u64>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Where a list starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Uuid>,
}

/// Where a request came from, recorded on the session it creates.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// An event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub subject: String,
    pub event_type: String,
    /// The CloudEvent, as JSON.
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub attempts: i32,
}

/// One audited action.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// Email of the user or client id of the service account.
    pub actor: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub detail: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// What a provider's claim value (a group) grants in the organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClaimMapping {
    /// The claim value, e.g. a group name.
    pub value: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Team slug → role.
    #[serde(default)]
    pub teams: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub domains: Vec<String>,
}

/// A user's link to an account at an external OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub id: Uuid,
    /// The provider's slug (of the user's organisation, or the operator's global one).
    pub provider: String,
    pub issuer: String,
    /// The address the provider gave at the last login, if any.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: DateTime<Utc>,
}

/// An external OpenID Connect provider of one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub id: Uuid,
    pub org_id: Uuid,
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub has_client_secret: bool,
    pub scopes: Vec<String>,
    pub email_domains: Vec<String>,
    pub jit: bool,
    pub link_by_email: bool,
    pub groups_claim: String,
    pub mappings: Vec<ClaimMapping>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Accepted, Self::Revoked, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// An invitation to an organisation (its token is never kept, only its digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    /// Team slug → team role.
    pub teams: std::collections::BTreeMap<String, String>,
    pub domains: Vec<String>,
    pub invited_by: Option<Uuid>,
    /// The inviter's display name when they invited.
    pub inviter_name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When the mail (or its latest resend) went out.
    pub sent_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Invitation {
    pub fn status(&self, now: DateTime<Utc>) -> InvitationStatus {
        if self.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if self.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if self.expires_at <= now {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }
}

/// What a verified email domain lets people with an address in it do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinPolicy {
    /// Only an invitation brings them in (the default).
    InviteOnly,
    /// They join on their own with these roles.
    AutoJoin { roles: Vec<String> },
}

impl JoinPolicy {
    pub fn name(&self) -> &'static str {
        match self {
            Self::InviteOnly => "invite_only",
            Self::AutoJoin { .. } => "auto_join",
        }
    }

    /// The roles joining grants (none for `invite_only`).
    pub fn roles(&self) -> &[String] {
        match self {
            Self::InviteOnly => &[],
            Self::AutoJoin { roles } => roles,
        }
    }
}

/// An email domain an organisation claims, proven by a DNS TXT record or not yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailDomain {
    pub id: Uuid,
    pub org_id: Uuid,
    pub domain: String,
    /// The value the TXT record at `_guildhall-challenge.<domain>` must hold.
    pub challenge: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub policy: JoinPolicy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EmailDomain {
    /// Where the TXT record goes.
    pub fn record_name(&self) -> String {
        format!("{CHALLENGE_LABEL}.{}", self.domain)
    }

    pub fn verified(&self) -> bool {
        self.verified_at.is_some()
    }
}

/// The label under an email domain that holds its TXT challenge.
pub const CHALLENGE_LABEL: &str = "_guildhall-challenge";
