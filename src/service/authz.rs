//! Authorisation: superuser > organisation owner/admin (manages their organisation) > member
//! (reads). Admin powers are values (`OrgAdmin`, `Superuser`) that only these checks make.
//! An organisation the caller may not see is "not found", exactly like a missing one.
use super::{Result, ServiceError};
use crate::model::MembershipContext;
use uuid::Uuid;

/// An authenticated user acting in the organisation of their token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// The token's organisation: nothing in a body, query or header overrides it.
    pub org_id: Uuid,
    pub superuser: bool,
    pub org_admin: bool,
    pub org_owner: bool,
    pub email: String,
    /// Where the request came from, for the audit log.
    pub ip: Option<String>,
}

impl Caller {
    pub fn new(context: &MembershipContext, session_id: Uuid) -> Self {
        Self {
            user_id: context.user.id,
            session_id,
            org_id: context.org.id,
            superuser: context.user.superuser,
            org_admin: context.is_admin(),
            org_owner: context.roles.iter().any(|r| r == "owner"),
            email: context.user.email.clone(),
            ip: None,
        }
    }

    /// The operator at the command line (`guildhall users ...`): a superuser acting in
    /// `org_id` as the system, audited under `name` with no account.
    pub fn system(name: &str, org_id: Uuid) -> Self {
        Self {
            user_id: Uuid::nil(),
            session_id: Uuid::nil(),
            org_id,
            superuser: true,
            org_admin: true,
            org_owner: true,
            email: name.to_owned(),
            ip: None,
        }
    }

    /// The caller as the audit log names them.
    pub fn actor(&self) -> super::change::Actor {
        super::change::Actor {
            id: (!self.user_id.is_nil()).then_some(self.user_id),
            name: Some(self.email.clone()),
            ip: self.ip.clone(),
        }
    }

    /// Owner or admin of the token's organisation (or superuser).
    pub fn admin(&self) -> Result<OrgAdmin> {
        if self.org_admin || self.superuser {
            Ok(OrgAdmin {
                org_id: self.org_id,
                superuser: self.superuser,
            })
        } else {
            Err(ServiceError::Forbidden("forbidden", "Not enough permissions"))
        }
    }

    /// Administration of the organisation `org_id`: any for a superuser; the token's own for its
    /// owners and admins; every other organisation is not found.
    pub fn admin_of(&self, org_id: Uuid) -> Result<OrgAdmin> {
        if self.superuser {
            return Ok(OrgAdmin {
                org_id,
                superuser: true,
            });
        }
        if org_id != self.org_id {
            return Err(ServiceError::NotFound("organization not found"));
        }
        self.admin()
    }

    pub fn superuser(&self) -> Result<Superuser> {
        if self.superuser {
            Ok(Superuser(()))
        } else {
            Err(ServiceError::Forbidden("forbidden", "Not enough permissions"))
        }
    }
}

/// Proof that the caller administers `org_id`.
#[derive(Debug, Clone, Copy)]
pub struct OrgAdmin {
    org_id: Uuid,
    superuser: bool,
}

impl OrgAdmin {
    pub fn org_id(&self) -> Uuid {
        self.org_id
    }

    pub fn is_superuser(&self) -> bool {
        self.superuser
    }
}

/// Proof that the caller is a superuser.
#[derive(Debug, Clone, Copy)]
pub struct Superuser(());

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(superuser: bool, org_admin: bool) -> Caller {
        Caller {
            user_id: Uuid::nil(),
            session_id: Uuid::nil(),
            org_id: Uuid::from_u128(1),
            superuser,
            org_admin,
            org_owner: false,
            email: String::new(),
            ip: None,
        }
    }

    #[test]
    fn other_organisations_are_not_found_and_members_are_forbidden() {
        let other = Uuid::from_u128(2);
        assert!(matches!(
            caller(false, true).admin_of(other),
            Err(ServiceError::NotFound(_))
        ));
        assert!(matches!(
            caller(false, false).admin_of(other),
            Err(ServiceError::NotFound(_))
        ));
        assert!(matches!(
            caller(false, false).admin_of(Uuid::from_u128(1)),
            Err(ServiceError::Forbidden(..))
        ));
        assert_eq!(
            caller(false, true).admin_of(Uuid::from_u128(1)).unwrap().org_id(),
            Uuid::from_u128(1)
        );
        assert_eq!(caller(true, false).admin_of(other).unwrap().org_id(), other);
        assert!(caller(false, true).superuser().is_err());
    }
}
