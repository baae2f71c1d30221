//! Owners are protected: only an owner of the organisation (or a superuser) may change, deactivate,
//! delete or remove an owner, set an owner's password, grant or take the owner role, or map a
//! provider's group to it; and an organisation's last owner can be neither removed nor demoted.
use crate::service::authz::{Caller, OrgAdmin};
use crate::service::{Result, ServiceError};
use crate::store::{self, Conn};
use uuid::Uuid;

pub const OWNER: &str = "owner";

const ONLY_OWNERS: ServiceError =
    ServiceError::Forbidden("forbidden", "only an owner can change an owner or the owner role");
const LAST_OWNER: ServiceError = ServiceError::Conflict(
    "last_owner",
    "the organisation's last owner cannot be removed or demoted; make someone else owner first",
);

/// Whether the caller has an owner's powers over the organisation `admin` administers.
pub fn has_owner_powers(caller: &Caller, admin: OrgAdmin) -> bool {
    admin.is_superuser() || (caller.org_owner && caller.org_id == admin.org_id())
}

/// Owners' powers are needed.
pub fn require_owner_powers(caller: &Caller, admin: OrgAdmin) -> Result<()> {
    if has_owner_powers(caller, admin) {
        Ok(())
    } else {
        Err(ONLY_OWNERS)
    }
}

/// Granting or taking `owner` is for owners of the organisation and superusers.
pub fn check_owner_grant(caller: &Caller, admin: OrgAdmin, roles: &[String]) -> Result<()> {
    if roles.iter().any(|r| r == OWNER) {
        require_owner_powers(caller, admin)?;
    }
    Ok(())
}

/// Whether `user` is an owner of `org`.
pub async fn is_owner<C: Conn>(c: &C, org: Uuid, user: Uuid) -> Result<bool> {
    Ok(store::members::membership(c, org, user)
        .await?
        .is_some_and(|m| m.roles.iter().any(|r| r == OWNER)))
}

/// Refuses acting on an owner of the admin's organisation without an owner's powers.
pub async fn guard_owner<C: Conn>(c: &C, caller: &Caller, admin: OrgAdmin, user: Uuid) -> Result<bool> {
    let owner = is_owner(c, admin.org_id(), user).await?;
    if owner {
        require_owner_powers(caller, admin)?;
    }
    Ok(owner)
}

/// Refuses taking the last owner away from `org` (run inside the change, after the check above).
pub async fn keep_an_owner<C: Conn>(c: &C, org: Uuid, leaving: Uuid) -> Result<()> {
    let owners = store::members::with_role(c, org, OWNER).await?;
    if owners.len() == 1 && owners.contains(&leaving) {
        return Err(LAST_OWNER);
    }
    Ok(())
}

/// Refuses deleting an account that is the last owner of any organisation.
pub async fn keep_owners_of<C: Conn>(c: &C, user: Uuid) -> Result<()> {
    for org in store::members::orgs_of(c, user).await? {
        if is_owner(c, org, user).await? {
            keep_an_owner(c, org, user).await?;
        }
    }
    Ok(())
}
