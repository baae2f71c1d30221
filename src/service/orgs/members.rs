//! An organisation's members and their roles. Granting or taking `owner` needs an owner or a
//! superuser.
use super::OrgService;
use crate::model::input::{Email, Problems};
use crate::model::{OrgId, OrgMember, Page, PageRequest, UserId};
use crate::service::authz::{Caller, OrgAdmin};
use crate::service::change::{Audit, Event, MembershipAction, SessionsOf};
use crate::service::{Result, ServiceError, conflict};
use crate::store::{self, Conn};
use serde_json::json;
use uuid::Uuid;

/// Who to add to an organisation.
pub enum MemberRef {
    Email(Email),
    Id(UserId),
}

pub struct NewMember {
    pub who: MemberRef,
    /// Role keys; default `member`.
    pub roles: Option<Vec<String>>,
}

const USER_NOT_FOUND: ServiceError = ServiceError::NotFound("user not found");

impl OrgService {
    pub async fn members(&self, caller: &Caller, id: OrgId, page: PageRequest) -> Result<Page<OrgMember>> {
        let admin = self.admin_of_existing(caller, id).await?;
        Ok(store::members::list(&self.db, admin.org_id(), page).await?)
    }

    pub async fn add_member(&self, caller: &Caller, id: OrgId, input: NewMember) -> Result<OrgMember> {
        let admin = self.admin_of_existing(caller, id).await?;
        let user = match &input.who {
            MemberRef::Id(user) => store::users::find(&self.db, user.uuid()).await?,
            MemberRef::Email(email) => store::users::find_by_email(&self.db, email.as_str()).await?,
        }
        .ok_or(USER_NOT_FOUND)?;
        let wanted = input.roles.unwrap_or_else(|| vec!["member".into()]);
        let (role_ids, keys) = resolve_roles(&self.db, admin.org_id(), &wanted).await?;
        check_owner_grant(caller, admin, &keys)?;
        let org = admin.org_id();
        let mut change = self.changes.begin().await?;
        let now = change.now();
        store::members::add(change.tx(), org, user.id, &[], now)
            .await
            .map_err(conflict("already_a_member", "the user is already a member"))?;
        store::members::set_roles(change.tx(), org, user.id, &role_ids).await?;
        change.event(
            org,
            Event::membership(org, user.id, MembershipAction::Added, &[], &keys),
        );
        change.audit(
            Audit::new(&caller.actor(), "org.member.add")
                .org(org)
                .target("user", user.id)
                .detail(json!({"roles": keys})),
        );
        change.members_changed(org, [user.id]);
        change.commit().await?;
        Ok(OrgMember {
            user,
            roles: keys,
            joined_at: now,
        })
    }

    /// Replaces a member's roles.
    pub async fn set_roles(&self, caller: &Caller, id: OrgId, user: UserId, roles: Vec<String>) -> Result<Vec<String>> {
        let admin = self.admin_of_existing(caller, id).await?;
        let org = admin.org_id();
        let current = store::members::membership(&self.db, org, user.uuid())
            .await?
            .ok_or(USER_NOT_FOUND)?;
        let (ids, keys) = resolve_roles(&self.db, org, &roles).await?;
        if keys.contains(&"owner".to_owned()) != current.roles.contains(&"owner".to_owned()) {
            check_owner_grant(caller, admin, &["owner".to_owned()])?;
        }
        let mut change = self.changes.begin().await?;
        store::members::set_roles(change.tx(), org, user.uuid(), &ids).await?;
        change.members_changed(org, [user.uuid()]);
        change.event(
            org,
            Event::membership(org, user.uuid(), MembershipAction::RolesChanged, &current.roles, &keys),
        );
        change.audit(
            Audit::new(&caller.actor(), "org.member.roles")
                .org(org)
                .target("user", user)
                .detail(json!({"before": current.roles, "after": keys})),
        );
        change.commit().await?;
        Ok(keys)
    }

    /// Removes a membership with the user's teams and domains there, and ends their sessions in it.
    pub async fn remove_member(&self, caller: &Caller, id: OrgId, user: UserId) -> Result<()> {
        let admin = self.admin_of_existing(caller, id).await?;
        let org = admin.org_id();
        let user = user.uuid();
        let mut change = self.changes.begin().await?;
        let Some(before) = store::members::membership(change.tx(), org, user).await? else {
            return Err(USER_NOT_FOUND);
        };
        store::members::remove(change.tx(), org, user).await?;
        store::teams::remove_user(change.tx(), org, user).await?;
        store::domains::remove_user(change.tx(), org, user).await?;
        change
            .end_sessions(SessionsOf::UserInOrg { user, org }, "membership_removed")
            .await?;
        change.event(
            org,
            Event::membership(org, user, MembershipAction::Removed, &before.roles, &[]),
        );
        change.audit(
            Audit::new(&caller.actor(), "org.member.remove")
                .org(org)
                .target("user", user),
        );
        change.members_changed(org, [user]);
        change.commit().await
    }
}

/// The ids of the named roles of an organisation (and their keys, sorted), or a 422 naming the
/// unknown ones.
pub async fn resolve_roles<C: Conn>(c: &C, org: Uuid, keys: &[String]) -> Result<(Vec<Uuid>, Vec<String>)> {
    let roles = store::roles::list(c, org).await?;
    let mut ids = Vec::new();
    let mut found = Vec::new();
    let mut problems = Problems::default();
    for key in keys {
        match roles.iter().find(|r| &r.key == key) {
            Some(role) if !ids.contains(&role.id) => {
                ids.push(role.id);
                found.push(role.key.clone());
            }
            Some(_) => {}
            None => problems.add("roles", format!("unknown role \"{key}\"")),
        }
    }
    problems.finish()?;
    found.sort();
    Ok((ids, found))
}

/// Granting or taking `owner` is for owners of the organisation and superusers.
pub fn check_owner_grant(caller: &Caller, admin: OrgAdmin, roles: &[String]) -> Result<()> {
    let owner_here = caller.org_owner && caller.org_id == admin.org_id();
    if roles.iter().any(|r| r == "owner") && !admin.is_superuser() && !owner_here {
        return Err(ServiceError::Forbidden(
            "forbidden",
            "only an owner can grant or take the owner role",
        ));
    }
    Ok(())
}
