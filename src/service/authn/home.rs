//! Which organisation a login lands in: the one asked for, else the last one used, else the
//! first one joined (an inactive organisation is skipped).
use crate::model::{Organisation, User};
use crate::service::{Result, ServiceError};
use crate::store::{self, Conn};

const NOT_A_MEMBER: ServiceError = ServiceError::Forbidden("not_a_member", "not a member of this organisation");

/// The organisation a login is for: the one asked for, else the last used, else the first.
pub async fn org_for_login<C: Conn>(c: &C, user: &User, requested: Option<&str>) -> Result<Organisation> {
    if let Some(slug) = requested {
        let org = store::orgs::find_by_slug(c, slug)
            .await?
            .filter(|o| o.active)
            .ok_or(NOT_A_MEMBER)?;
        return if store::members::is_member(c, org.id, user.id).await? {
            Ok(org)
        } else {
            Err(NOT_A_MEMBER)
        };
    }
    let mut candidates = Vec::new();
    candidates.extend(user.default_org_id);
    candidates.extend(store::members::first_org_of(c, user.id).await?);
    for org_id in candidates {
        let Some(org) = store::orgs::find(c, org_id).await?.filter(|o| o.active) else {
            continue;
        };
        if store::members::is_member(c, org.id, user.id).await? {
            return Ok(org);
        }
    }
    Err(ServiceError::Forbidden(
        "no_organisation",
        "the account belongs to no active organisation",
    ))
}
