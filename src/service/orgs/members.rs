//! An organisation's members and their roles. Owners are protected (`owners`). An existing
//! account is added directly only when its email is verified, and only a superuser adds one
//! that belongs to no organisation; everyone else is invited (consent, and proof of the address).
use super::OrgService;
use super::owners::{self, OWNER, check_owner_grant};
use crate::model::input::{Email, Problems};
use crate::model::{OrgId, OrgMember, Page, PageRequest, UserId};
use crate::service::authz::Caller;
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
        self.members_matching(caller, id, None, page).await
    }

    /// The members whose email or name contains `search` (the console's search box).
    pub async fn members_matching(
        &self,
        caller: &Caller,
        id: OrgId,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<OrgMember>> {
        let admin = caller.admin_of(id.uuid())?;
        let members = store::members::list_matching(&self.db, admin.org_id(), search, page).await?;
        // Deleting an organisation deletes its memberships: a page with members is of one that
        // exists, so only an empty page costs the second read.
        if members.items.is_empty() {
            store::orgs::find(&self.db, admin.org_id())
                .await?
                .ok_or(super::ORG_NOT_FOUND)?;
        }
        Ok(members)
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
        if store::members::is_member(&self.db, org, user.id).await? {
            return Err(ServiceError::Conflict(
                "already_a_member",
                "the user is already a member",
            ));
        }
        if !user.email_verified {
            return Err(ServiceError::Conflict(
                "email_not_verified",
                "the account's email address is not verified; invite the person instead (POST /orgs/{id}/invitations)",
            ));
        }
        if !admin.is_superuser() && store::members::orgs_of(&self.db, user.id).await?.is_empty() {
            return Err(ServiceError::Conflict(
                "account_unaffiliated",
                "the account belongs to no organisation, so only a superuser adds it; invite the person instead",
            ));
        }
        let mut change = self.changes.begin().await?;
        let now = change.now();
        store::members::add(change.tx(), org, user.id, &[], now)
            .await
            .map_err(conflict("already_a_member", "the user is already a member"))?;
        store::members::set_roles(change.tx(), org, user.id, &role_ids).await?;
        store::members::forget_removal(change.tx(), org, user.id).await?;
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
        let was_owner = current.roles.iter().any(|r| r == OWNER);
        if was_owner || keys.iter().any(|r| r == OWNER) {
            owners::require_owner_powers(caller, admin)?;
        }
        let mut change = self.changes.begin().await?;
        if was_owner && !keys.iter().any(|r| r == OWNER) {
            owners::keep_an_owner(change.tx(), org, user.uuid()).await?;
        }
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
        if owners::guard_owner(change.tx(), caller, admin, user).await? {
            owners::keep_an_owner(change.tx(), org, user).await?;
        }
        store::members::remove(change.tx(), org, user).await?;
        store::members::remember_removal(change.tx(), org, user, change.now()).await?;
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

impl OrgService {
    /// The caller leaves one of their organisations: their teams and domains there go and their
    /// sessions in it end. An organisation's last owner cannot leave it (409 `last_owner`), and
    /// nobody leaves their last organisation (409 `last_organization`: an account belongs
    /// somewhere). 404 for an organisation the caller is not a member of.
    /// `leave` by the organisation's slug (`POST /auth/organizations/{slug}/leave`).
    pub async fn leave_slug(&self, caller: &Caller, slug: &str) -> Result<()> {
        let org = store::orgs::find_by_slug(&self.db, slug.trim())
            .await?
            .ok_or(ServiceError::NotFound("organization not found"))?;
        self.leave(caller, OrgId(org.id)).await
    }

    pub async fn leave(&self, caller: &Caller, id: OrgId) -> Result<()> {
        let (org, user) = (id.uuid(), caller.user_id);
        let mut change = self.changes.begin().await?;
        let Some(before) = store::members::membership(change.tx(), org, user).await? else {
            return Err(ServiceError::NotFound("organization not found"));
        };
        if store::members::orgs_of(change.tx(), user).await?.len() <= 1 {
            return Err(ServiceError::Conflict(
                "last_organization",
                "this is your only organisation; an account belongs to at least one",
            ));
        }
        if owners::is_owner(change.tx(), org, user).await? {
            owners::keep_an_owner(change.tx(), org, user).await?;
        }
        store::members::remove(change.tx(), org, user).await?;
        store::teams::remove_user(change.tx(), org, user).await?;
        store::domains::remove_user(change.tx(), org, user).await?;
        change
            .end_sessions(SessionsOf::UserInOrg { user, org }, "membership_left")
            .await?;
        change.event(
            org,
            Event::membership(org, user, MembershipAction::Removed, &before.roles, &[]),
        );
        change.audit(
            Audit::new(&caller.actor(), "org.member.leave")
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
