//! The access-token claims (DESIGN.md "Tokens"), built in one place from a user's context in
//! one organisation.
use crate::model::{MembershipContext, ServiceAccount, Session};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// `type` of an access token.
pub const ACCESS: &str = "access";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgClaim {
    pub id: Uuid,
    pub slug: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamClaim {
    pub id: Uuid,
    pub slug: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    /// The session; absent on service-account tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(rename = "type")]
    pub token_type: String,
    /// The application the token was issued to (RFC 9068): a service account's id, or the client
    /// a user's session is of; absent on tokens of guildhall's own API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scopes granted to the application (RFC 9068), space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the address is proven (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    pub org: OrgClaim,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<TeamClaim>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
    #[serde(default)]
    pub mv: i64,
    /// `"validate"` when `teams`/`domains` were left out to keep the token within its budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx: Option<String>,
    /// How the user authenticated (RFC 8176: `pwd`, `otp`, `fed`, `mfa`); user tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// `urn:guildhall:acr:mfa` after a second factor, else `urn:guildhall:acr:1fa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Claims a seed service's route adds (`Additions`); empty on guildhall's own tokens.
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// What a compatibility route adds to a user's token, so the seed services' clients find what
/// they read (seed 000's `user` role, seed 001's `user_id`): roles put before guildhall's, and
/// top-level claims. The core builds the same claims for everyone and knows no seed.
#[derive(Debug, Clone, Default)]
pub struct Additions {
    pub roles: Vec<String>,
    pub claims: Map<String, Value>,
}

/// Claims an addition may not set: the ones guildhall itself writes (or will).
const RESERVED: &[&str] = &[
    "iss",
    "aud",
    "sub",
    "sid",
    "jti",
    "iat",
    "nbf",
    "exp",
    "type",
    "client_id",
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "org",
    "roles",
    "permissions",
    "teams",
    "domains",
    "mv",
    "ctx",
    "scope",
    "amr",
    "acr",
];

/// What the issuer stamps on every token.
pub struct Issuance<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl AccessClaims {
    fn base(sub: Uuid, org: OrgClaim, issuance: &Issuance<'_>) -> Self {
        Self {
            iss: issuance.issuer.to_owned(),
            aud: issuance.audience.to_owned(),
            sub,
            sid: None,
            jti: Uuid::new_v4(),
            iat: issuance.now.timestamp(),
            nbf: issuance.now.timestamp(),
            exp: issuance.expires_at.timestamp(),
            token_type: ACCESS.to_owned(),
            client_id: None,
            scope: None,
            email: None,
            email_verified: None,
            name: None,
            preferred_username: None,
            org,
            roles: Vec::new(),
            permissions: Vec::new(),
            teams: None,
            domains: None,
            mv: 0,
            ctx: None,
            amr: None,
            acr: None,
            extra: Map::new(),
        }
    }

    /// Applies a compatibility route's additions: roles first (once each), then claims that do
    /// not shadow one of guildhall's own.
    pub fn add(&mut self, additions: &Additions) {
        let mut roles: Vec<String> = additions
            .roles
            .iter()
            .filter(|r| !self.roles.contains(r))
            .cloned()
            .collect();
        roles.dedup();
        roles.append(&mut self.roles);
        self.roles = roles;
        for (name, value) in &additions.claims {
            if !RESERVED.contains(&name.as_str()) {
                self.extra.insert(name.clone(), value.clone());
            }
        }
    }

    /// A user's token. Past `budget` bytes of JSON, `teams` and `domains` are left out and
    /// `ctx: "validate"` tells services to ask `/auth/validate` for them.
    pub fn for_user(context: &MembershipContext, session: &Session, issuance: &Issuance<'_>, budget: usize) -> Self {
        let user = &context.user;
        let org = OrgClaim {
            id: context.org.id,
            slug: context.org.slug.clone(),
        };
        let mut claims = Self {
            aud: session
                .grant
                .audience
                .clone()
                .unwrap_or_else(|| issuance.audience.to_owned()),
            client_id: session.client_id.clone(),
            scope: session.grant.scope.clone(),
            sid: Some(session.id),
            email: Some(user.email.clone()),
            email_verified: Some(user.email_verified),
            name: Some(user.display_name.clone()),
            preferred_username: user.username.clone(),
            roles: context.roles.clone(),
            permissions: context.permissions.clone(),
            teams: Some(
                context
                    .teams
                    .iter()
                    .map(|t| TeamClaim {
                        id: t.id,
                        slug: t.slug.clone(),
                        role: t.role.clone(),
                    })
                    .collect(),
            ),
            domains: Some(context.domains.iter().map(|d| d.path.clone()).collect()),
            mv: context.mv,
            amr: (!session.auth.methods.is_empty()).then(|| session.auth.methods.clone()),
            acr: (!session.auth.methods.is_empty()).then(|| session.auth.acr().to_owned()),
            ..Self::base(user.id, org, issuance)
        };
        let size = serde_json::to_vec(&claims).map_or(usize::MAX, |v| v.len());
        if size > budget {
            claims.teams = None;
            claims.domains = None;
            claims.ctx = Some("validate".to_owned());
        }
        claims
    }

    /// An application's own token (client-credentials grant): `sub` is the application.
    pub fn for_app(
        app: &crate::model::Application,
        org_slug: &str,
        scope: Option<String>,
        audience: Option<String>,
        issuance: &Issuance<'_>,
    ) -> Self {
        let org = OrgClaim {
            id: app.org_id,
            slug: org_slug.to_owned(),
        };
        let base = Self::base(app.id, org, issuance);
        Self {
            aud: audience.unwrap_or(base.aud.clone()),
            client_id: Some(app.client_id.clone()),
            scope,
            name: Some(app.name.clone()),
            ..base
        }
    }

    /// A service account's token (client-credentials grant).
    pub fn for_service(account: &ServiceAccount, org_slug: &str, issuance: &Issuance<'_>) -> Self {
        let org = OrgClaim {
            id: account.org_id,
            slug: org_slug.to_owned(),
        };
        Self {
            client_id: Some(account.client_id.clone()),
            name: Some(account.name.clone()),
            permissions: account.permissions.clone(),
            ..Self::base(account.id, org, issuance)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Organisation, TeamGrant, User};
    use chrono::TimeZone;

    fn context(teams: usize) -> MembershipContext {
        let now = Utc.timestamp_opt(1_900_000_000, 0).unwrap();
        MembershipContext {
            user: User {
                id: Uuid::nil(),
                email: "ada@acme.test".into(),
                username: Some("ada".into()),
                display_name: "Ada".into(),
                active: true,
                superuser: false,
                email_verified: true,
                default_org_id: None,
                created_at: now,
                updated_at: now,
                last_login_at: None,
            },
            org: Organisation {
                id: Uuid::nil(),
                slug: "acme".into(),
                name: "Acme".into(),
                active: true,
                logo_url: None,
                require_mfa: false,
                roles_version: 0,
                created_at: now,
            },
            roles: vec!["member".into()],
            permissions: vec!["read:posts".into()],
            direct_permissions: Vec::new(),
            mv: 3,
            teams: (0..teams)
                .map(|i| TeamGrant {
                    id: Uuid::new_v4(),
                    slug: format!("team-{i}"),
                    name: format!("Team {i}"),
                    role: "member".into(),
                })
                .collect(),
            domains: vec![],
            expanded_domains: vec![],
        }
    }

    #[test]
    fn the_claim_budget_moves_teams_and_domains_to_validate() {
        let now = Utc.timestamp_opt(1_900_000_000, 0).unwrap();
        let session = Session {
            id: Uuid::new_v4(),
            user_id: Uuid::nil(),
            org_id: Uuid::nil(),
            user_agent: None,
            ip: None,
            created_at: now,
            last_used_at: now,
            expires_at: now,
            revoked_at: None,
            client_id: None,
            browser_session_id: None,
            auth: Default::default(),
            grant: Default::default(),
        };
        let issuance = Issuance {
            issuer: "https://id.test",
            audience: "guildhall",
            now,
            expires_at: now,
        };
        let small = AccessClaims::for_user(&context(2), &session, &issuance, 4096);
        assert_eq!(small.teams.as_ref().map(Vec::len), Some(2));
        assert_eq!(small.ctx, None);
        assert_eq!(small.mv, 3);
        let big = AccessClaims::for_user(&context(100), &session, &issuance, 4096);
        assert_eq!(big.teams, None);
        assert_eq!(big.domains, None);
        assert_eq!(big.ctx.as_deref(), Some("validate"));
        assert_eq!(big.roles, ["member"], "roles and permissions always stay");
    }

    #[test]
    fn additions_put_roles_first_and_never_shadow_guildhall_claims() {
        let now = Utc.timestamp_opt(1_900_000_000, 0).unwrap();
        let issuance = Issuance {
            issuer: "https://id.test",
            audience: "guildhall",
            now,
            expires_at: now,
        };
        let session = Session {
            id: Uuid::new_v4(),
            user_id: Uuid::nil(),
            org_id: Uuid::nil(),
            user_agent: None,
            ip: None,
            created_at: now,
            last_used_at: now,
            expires_at: now,
            revoked_at: None,
            client_id: None,
            browser_session_id: None,
            auth: Default::default(),
            grant: Default::default(),
        };
        let mut claims = AccessClaims::for_user(&context(0), &session, &issuance, 4096);
        let mut extra = Map::new();
        extra.insert("user_id".into(), Value::from(7));
        extra.insert("sub".into(), Value::from("forged"));
        claims.add(&Additions {
            roles: vec!["user".into(), "member".into(), "user".into()],
            claims: extra,
        });
        assert_eq!(claims.roles, ["user", "member"]);
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["user_id"], 7);
        assert_eq!(json["sub"], Uuid::nil().to_string());
        let back: AccessClaims = serde_json::from_value(json).unwrap();
        assert_eq!(back.extra.get("user_id"), Some(&Value::from(7)));
    }
}
