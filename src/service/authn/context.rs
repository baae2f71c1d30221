//! A user's context in an organisation, read from the database: the account, the organisation,
//! the membership's roles and permissions, teams, and domains (assigned and expanded).
use crate::model::MembershipContext;
use crate::service::cache::Denial;
use crate::service::tree::DomainTree;
use crate::service::{Result, ServiceError};
use crate::store::{self, Conn};
use crate::token::VerifyError;
use uuid::Uuid;

/// Reads a user's context in an organisation, or why there is none.
pub async fn load<C: Conn>(
    c: &C,
    user_id: Uuid,
    org_id: Uuid,
) -> Result<std::result::Result<MembershipContext, Denial>> {
    let Some(user) = store::users::find(c, user_id).await? else {
        return Ok(Err(Denial::UserNotFound));
    };
    if !user.active {
        return Ok(Err(Denial::UserInactive));
    }
    let Some(org) = store::orgs::find(c, org_id).await?.filter(|o| o.active) else {
        return Ok(Err(Denial::OrgInactive));
    };
    let Some(membership) = store::members::membership(c, org_id, user_id).await? else {
        return Ok(Err(Denial::NotAMember));
    };
    let teams = store::teams::grants(c, org_id, user_id).await?;
    let assigned = store::domains::assigned(c, org_id, user_id).await?;
    let (domains, expanded_domains) = if assigned.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        DomainTree::new(store::domains::list(c, org_id).await?).grants(&assigned)
    };
    // A role's change moves the organisation's roles version, not each holder's row.
    let mv = membership.mv + org.roles_version;
    Ok(Ok(MembershipContext {
        user,
        org,
        roles: exact(membership.roles),
        permissions: exact(membership.permissions),
        direct_permissions: exact(membership.direct),
        mv,
        teams: exact(teams),
        domains: exact(domains),
        expanded_domains: exact(expanded_domains),
    }))
}

/// A context is cached for every user a replica serves: its lists keep no spare capacity.
/// (Collected in place from the rows they were read from, they would keep the rows' larger
/// buffers: two teams held on to about 600 bytes of their rows.)
fn exact<T>(mut list: Vec<T>) -> Vec<T> {
    list.shrink_to_fit();
    list
}

/// A denial as the error an authenticated route answers.
pub fn denied(denial: Denial) -> ServiceError {
    match denial {
        Denial::NotAMember | Denial::OrgInactive => {
            ServiceError::Forbidden("not_a_member", "not a member of this organisation")
        }
        Denial::UserNotFound | Denial::UserInactive => ServiceError::InvalidToken(VerifyError::SessionRevoked),
    }
}
