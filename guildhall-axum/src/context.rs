//! Who is calling: a user in one organisation ([`UserContext`]) or a service account
//! ([`ServiceContext`]), with the checks a handler asks about them.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The organisation a token is for (a token is for one organisation at a time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: Uuid,
    pub slug: String,
}

/// A team membership: the team and the user's role in it (`member`, `maintainer`, `owner`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: Uuid,
    pub slug: String,
    pub role: String,
}

/// Where a context came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The token's own claims, verified locally: memberships as they were when it was issued.
    Local,
    /// guildhall's `POST /auth/validate` answer: the memberships as they are now, and the session
    /// checked against revocation.
    Validated,
}

/// A user calling in one organisation.
///
/// `domains` holds paths from the root of the organisation's domain tree. From a local token
/// they are the assigned nodes; from `/auth/validate` the whole expanded subtrees. Both answer
/// [`UserContext::has_domain`] the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserContext {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub email: String,
    pub name: String,
    /// `preferred_username`, when the user has one.
    pub username: Option<String>,
    pub org: Org,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub teams: Vec<Team>,
    pub domains: Vec<String>,
    /// The membership version the token was issued at (`mv`); guildhall bumps it on every
    /// change to the user's roles, teams or domains.
    pub mv: i64,
    pub source: Source,
}

impl UserContext {
    /// True if the user holds `permission` or `*`.
    pub fn has_permission(&self, permission: &str) -> bool {
        permits(&self.permissions, permission)
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn in_team(&self, slug: &str) -> bool {
        self.team_role(slug).is_some()
    }

    /// The user's role in the team `slug`, if a member.
    pub fn team_role(&self, slug: &str) -> Option<&str> {
        self.teams.iter().find(|t| t.slug == slug).map(|t| t.role.as_str())
    }

    /// True when `path` is an assigned domain or lies under one: `engineering` grants
    /// `engineering/backend`, but not `engineering-x`.
    pub fn has_domain(&self, path: &str) -> bool {
        self.domains.iter().any(|domain| within(path, domain))
    }
}

/// A service account's token (client-credentials grant): no session, no user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceContext {
    pub account_id: Uuid,
    pub client_id: String,
    pub name: Option<String>,
    pub org: Org,
    pub permissions: Vec<String>,
}

impl ServiceContext {
    /// True if the account holds `permission` or `*`.
    pub fn has_permission(&self, permission: &str) -> bool {
        permits(&self.permissions, permission)
    }
}

/// Any caller: for routes that serve users and service accounts alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Principal {
    User(UserContext),
    Service(ServiceContext),
}

impl Principal {
    pub fn org(&self) -> &Org {
        match self {
            Self::User(user) => &user.org,
            Self::Service(service) => &service.org,
        }
    }

    pub fn has_permission(&self, permission: &str) -> bool {
        match self {
            Self::User(user) => user.has_permission(permission),
            Self::Service(service) => service.has_permission(permission),
        }
    }
}

fn permits(held: &[String], wanted: &str) -> bool {
    held.iter().any(|p| p == "*" || p == wanted)
}

fn within(path: &str, domain: &str) -> bool {
    path.strip_prefix(domain)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(permissions: &[&str], domains: &[&str]) -> UserContext {
        UserContext {
            user_id: Uuid::nil(),
            session_id: Uuid::nil(),
            email: "ada@acme.test".into(),
            name: "Ada".into(),
            username: None,
            org: Org {
                id: Uuid::nil(),
                slug: "acme".into(),
            },
            roles: vec!["member".into()],
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            teams: vec![Team {
                id: Uuid::nil(),
                slug: "platform".into(),
                role: "maintainer".into(),
            }],
            domains: domains.iter().map(|d| d.to_string()).collect(),
            mv: 1,
            source: Source::Local,
        }
    }

    #[test]
    fn domains_grant_their_subtree_and_nothing_beside_it() {
        let ada = user(&[], &["engineering", "sales/emea"]);
        let cases = [
            ("engineering", true),
            ("engineering/backend", true),
            ("engineering/backend/db", true),
            ("engineering-x", false),
            ("engineeringx/backend", false),
            ("engineer", false),
            ("sales", false),
            ("sales/emea/uk", true),
            ("sales/emeax", false),
            ("", false),
        ];
        for (path, expected) in cases {
            assert_eq!(ada.has_domain(path), expected, "{path}");
        }
    }

    #[test]
    fn permissions_roles_and_teams() {
        let ada = user(&["read:posts"], &[]);
        assert!(ada.has_permission("read:posts"));
        assert!(!ada.has_permission("write:posts"));
        assert!(user(&["*"], &[]).has_permission("write:posts"));
        assert!(ada.has_role("member") && !ada.has_role("admin"));
        assert!(ada.in_team("platform") && !ada.in_team("plat"));
        assert_eq!(ada.team_role("platform"), Some("maintainer"));
        assert_eq!(ada.team_role("other"), None);
    }
}
