//! The access-token claims (DESIGN.md "Tokens"), built in one place from a user's context in
//! one organisation.
use crate::model::{MembershipContext, Session};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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
    pub sid: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(rename = "type")]
    pub token_type: String,
    pub email: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    pub org: OrgClaim,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<TeamClaim>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
    pub mv: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx: Option<String>,
}

/// What the issuer stamps on every token.
pub struct Issuance<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl AccessClaims {
    pub fn build(context: &MembershipContext, session: &Session, issuance: &Issuance<'_>) -> Self {
        let user = &context.user;
        Self {
            iss: issuance.issuer.to_owned(),
            aud: issuance.audience.to_owned(),
            sub: user.id,
            sid: session.id,
            jti: Uuid::new_v4(),
            iat: issuance.now.timestamp(),
            nbf: issuance.now.timestamp(),
            exp: issuance.expires_at.timestamp(),
            token_type: ACCESS.to_owned(),
            email: user.email.clone(),
            name: user.display_name.clone(),
            preferred_username: user.username.clone(),
            org: OrgClaim {
                id: context.org.id,
                slug: context.org.slug.clone(),
            },
            roles: context.roles.clone(),
            permissions: context.permissions.clone(),
            teams: Some(Vec::new()),
            domains: Some(Vec::new()),
            mv: context.mv,
            ctx: None,
        }
    }
}
