//! User administration (`/admin/users`). Users are global accounts: a superuser manages all of
//! them; an organisation's admins see its members, create users into it, and change or delete
//! an account only while it belongs to their organisation alone (so one tenant's admin never
//! changes another tenant's user).
use super::authz::{Caller, OrgAdmin};
use super::change::{Audit, Changes, Event, MembershipAction, SessionsOf};
use super::consent::verification::EmailVerification;
use super::orgs::{owners, resolve_roles};
use super::{Result, ServiceError, conflict};
use crate::crypto::password::Hasher;
use crate::model::input::{DisplayName, Email, Password, Username};
use crate::model::{IdentityId, LinkedIdentity, Page, PageRequest, User, UserId};
use crate::store::{self, Db};
use serde_json::json;
use std::sync::Arc;

pub struct NewUser {
    pub email: Email,
    /// `None`: an account that only logs in through an identity provider.
    pub password: Option<Password>,
    /// Defaults to the email's local part.
    pub name: Option<DisplayName>,
    pub username: Option<Username>,
    pub roles: Option<Vec<String>>,
    pub superuser: Option<bool>,
}

#[derive(Default)]
pub struct UserPatch {
    pub email: Option<Email>,
    pub password: Option<Password>,
    pub name: Option<DisplayName>,
    pub username: Option<Option<Username>>,
    pub active: Option<bool>,
    pub superuser: Option<bool>,
    /// Superusers only.
    pub email_verified: Option<bool>,
}

const NOT_FOUND: ServiceError = ServiceError::NotFound("User not found");
const USER_EXISTS: (&str, &str) = ("user_exists", "a user with this email or username already exists");

pub struct UserService {
    db: Db,
    changes: Changes,
    hasher: Arc<Hasher>,
    /// A new address that is not proven is mailed a verification token.
    verification: Arc<EmailVerification>,
}

impl UserService {
    pub fn new(db: Db, changes: Changes, hasher: Arc<Hasher>, verification: Arc<EmailVerification>) -> Self {
        Self {
            db,
            changes,
            hasher,
            verification,
        }
    }

    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<User>> {
        let scope = if caller.superuser {
            None
        } else {
            Some(caller.admin()?.org_id())
        };
        Ok(store::users::list(&self.db, scope, page).await?)
    }

    /// A user by email or username (superusers: the command line names accounts so).
    pub async fn by_name(&self, caller: &Caller, name: &str) -> Result<User> {
        caller.superuser()?;
        let found = store::users::find_credentials(&self.db, &name.trim().to_lowercase()).await?;
        found.map(|(user, _)| user).ok_or(NOT_FOUND)
    }

    pub async fn get(&self, caller: &Caller, id: UserId) -> Result<User> {
        let admin = caller.admin()?;
        self.visible(admin, id).await
    }

    /// Creates a user and makes them a member of the caller's organisation with `roles`
    /// (default `member`; `owner` only from an owner).
    pub async fn create(&self, caller: &Caller, input: NewUser) -> Result<User> {
        let admin = caller.admin()?;
        if input.superuser == Some(true) {
            caller.superuser()?;
        }
        let org = admin.org_id();
        let wanted = input.roles.unwrap_or_else(|| vec!["member".into()]);
        if wanted.iter().any(|r| r == "owner") && !(caller.org_owner || caller.superuser) {
            let invalid = crate::model::input::Invalid::field("roles", "only an owner can grant the owner role");
            return Err(invalid.into());
        }
        let (role_ids, keys) = resolve_roles(&self.db, org, &wanted).await?;
        let hash = match &input.password {
            Some(p) => Some(self.hasher.hash(p.secret()).await?),
            None => None,
        };
        let name = input.name.unwrap_or_else(|| input.email.default_name());
        let mut change = self.changes.begin().await?;
        let now = change.now();
        let new = store::users::NewUser {
            id: None,
            email: input.email.into_inner(),
            username: input.username.map(Username::into_inner),
            display_name: name.into_inner(),
            password_hash: hash,
            superuser: input.superuser.unwrap_or(false),
            email_verified: caller.superuser,
            default_org_id: Some(org),
        };
        let user = store::users::insert(change.tx(), new, now)
            .await
            .map_err(conflict(USER_EXISTS.0, USER_EXISTS.1))?;
        store::members::add(change.tx(), org, user.id, &[], now).await?;
        store::members::set_roles(change.tx(), org, user.id, &role_ids).await?;
        change.event(org, Event::UserCreated { user: user.clone() });
        change.event(
            org,
            Event::membership(org, user.id, MembershipAction::Added, &[], &keys),
        );
        change.audit(
            Audit::new(&caller.actor(), "user.create")
                .org(org)
                .target("user", user.id),
        );
        change.commit().await?;
        Ok(user)
    }

    pub async fn update(&self, caller: &Caller, id: UserId, patch: UserPatch) -> Result<User> {
        let admin = caller.admin()?;
        if patch.superuser.is_some() || patch.email_verified.is_some() {
            caller.superuser()?;
        }
        let user = self.manageable(caller, admin, id).await?;
        if id.uuid() == caller.user_id && (patch.active == Some(false) || patch.superuser == Some(false)) {
            return Err(ServiceError::Conflict(
                "self_lockout",
                "you cannot deactivate yourself or drop your own superuser flag",
            ));
        }
        let password_changed = patch.password.is_some();
        let password_hash = match &patch.password {
            Some(p) => Some(self.hasher.hash(p.secret()).await?),
            None => None,
        };
        let email_changed = patch.email.as_ref().is_some_and(|e| e.as_str() != user.email);
        let changes = store::users::UserChanges {
            // A new address is proven when a superuser sets it; otherwise it must be verified.
            email_verified: patch.email_verified.or_else(|| {
                let kept = !email_changed && user.email_verified;
                patch.email.as_ref().map(|_| caller.superuser || kept)
            }),
            email: patch.email.map(Email::into_inner),
            username: patch.username.map(|u| u.map(Username::into_inner)),
            display_name: patch.name.map(DisplayName::into_inner),
            password_hash,
            active: patch.active,
            superuser: patch.superuser,
        };
        let mut change = self.changes.begin().await?;
        let updated = store::users::update(change.tx(), user.id, changes, change.now())
            .await
            .map_err(conflict(USER_EXISTS.0, USER_EXISTS.1))?;
        if patch.active == Some(false) {
            change
                .end_sessions(SessionsOf::User(user.id), "user_deactivated")
                .await?;
        } else if password_changed {
            change
                .end_sessions(SessionsOf::User(user.id), "password_changed")
                .await?;
        }
        let mut verification = None;
        if email_changed {
            // A reset or verification mailed to the old address must not work for the new one.
            store::resets::spend_all_of(change.tx(), user.id, change.now()).await?;
            store::verifications::spend_all_of(change.tx(), user.id, change.now()).await?;
            if !updated.email_verified {
                verification = Some(self.verification.start(&change, &updated).await?);
            }
        }
        let org = admin.org_id();
        change.audit(
            Audit::new(&caller.actor(), "user.update")
                .org(org)
                .target("user", user.id),
        );
        change.user_changed(user.id);
        change.event(
            org,
            Event::UserUpdated {
                before: user,
                after: updated.clone(),
                password_changed,
            },
        );
        change.commit().await?;
        if let Some(verification) = verification {
            self.verification.send(verification);
        }
        Ok(updated)
    }

    /// A user changes their own profile: the name, and the email address with the current
    /// password (a new address is unproven: a verification mail goes to it, and reset and
    /// verification links mailed to the old one stop working). 401 `invalid_credentials` for a
    /// wrong password; 409 for an address another account has.
    pub async fn update_own(
        &self,
        caller: &Caller,
        name: Option<DisplayName>,
        email: Option<(Email, secrecy::SecretString)>,
    ) -> Result<User> {
        let user = store::users::find(&self.db, caller.user_id)
            .await?
            .filter(|u| u.active)
            .ok_or(ServiceError::NotFound("user not found"))?;
        let email = email.filter(|(e, _)| e.as_str() != user.email);
        if let Some((_, password)) = &email {
            let hash = store::users::password_hash(&self.db, user.id).await?;
            if !self.hasher.verify(password.clone(), hash).await? {
                self.changes
                    .record([Audit::new(&caller.actor(), "user.update_own").outcome("failure")])
                    .await?;
                return Err(ServiceError::InvalidCredentials);
            }
        }
        let email_changed = email.is_some();
        let changes = store::users::UserChanges {
            display_name: name.map(DisplayName::into_inner),
            email_verified: email_changed.then_some(false),
            email: email.map(|(e, _)| e.into_inner()),
            ..Default::default()
        };
        let mut change = self.changes.begin().await?;
        let updated = store::users::update(change.tx(), user.id, changes, change.now())
            .await
            .map_err(conflict(USER_EXISTS.0, USER_EXISTS.1))?;
        let mut verification = None;
        if email_changed {
            store::resets::spend_all_of(change.tx(), user.id, change.now()).await?;
            store::verifications::spend_all_of(change.tx(), user.id, change.now()).await?;
            verification = Some(self.verification.start(&change, &updated).await?);
        }
        change.audit(
            Audit::new(&caller.actor(), "user.update_own")
                .org(caller.org_id)
                .target("user", user.id)
                .detail(json!({"email_changed": email_changed})),
        );
        change.user_changed(user.id);
        change.event(
            caller.org_id,
            Event::UserUpdated {
                before: user,
                after: updated.clone(),
                password_changed: false,
            },
        );
        change.commit().await?;
        if let Some(verification) = verification {
            self.verification.send(verification);
        }
        Ok(updated)
    }

    /// The caller's links to external identity providers (`GET /auth/me/identities`).
    pub async fn identities(&self, caller: &Caller) -> Result<Vec<LinkedIdentity>> {
        Ok(store::oidc::identities_of(&self.db, caller.user_id).await?)
    }

    /// Unlinks one of the caller's providers (`DELETE /auth/me/identities/{id}`): the next login
    /// through that provider finds no account by it (and links again only where the provider
    /// links by verified email). Refused while it is the account's only way to log in: no
    /// password, no passkey, no other link. Another user's link is not found, as a missing one.
    pub async fn unlink_identity(&self, caller: &Caller, id: IdentityId) -> Result<()> {
        let user = caller.user_id;
        let links = store::oidc::identities_of(&self.db, user).await?;
        let link = links
            .iter()
            .find(|l| l.id == id.uuid())
            .ok_or(ServiceError::NotFound("linked identity not found"))?;
        let other_ways = links.len() > 1
            || store::users::password_hash(&self.db, user).await?.is_some()
            || store::passkeys::count(&self.db, user).await? > 0;
        if !other_ways {
            return Err(ServiceError::Conflict(
                "last_sign_in_method",
                "this provider is the account's only way to log in: set a password or add a passkey first",
            ));
        }
        let mut change = self.changes.begin().await?;
        if !store::oidc::unlink(change.tx(), user, link.id).await? {
            return Err(ServiceError::NotFound("linked identity not found"));
        }
        change.audit(
            Audit::new(&caller.actor(), "user.identity.unlink")
                .org(caller.org_id)
                .target("user", user)
                .detail(json!({"provider": link.provider, "issuer": link.issuer})),
        );
        change.commit().await
    }

    pub async fn delete(&self, caller: &Caller, id: UserId) -> Result<()> {
        let admin = caller.admin()?;
        let user = self.manageable(caller, admin, id).await?;
        if id.uuid() == caller.user_id {
            return Err(ServiceError::Conflict("self_lockout", "you cannot delete yourself"));
        }
        let org = admin.org_id();
        let mut change = self.changes.begin().await?;
        owners::keep_owners_of(change.tx(), user.id).await?;
        change.end_sessions(SessionsOf::User(user.id), "user_deleted").await?;
        store::users::delete(change.tx(), user.id).await?;
        change.audit(
            Audit::new(&caller.actor(), "user.delete")
                .org(org)
                .target("user", user.id)
                .detail(json!({"email": user.email})),
        );
        change.user_changed(user.id);
        change.event(org, Event::UserDeleted { user });
        change.commit().await
    }

    /// A user the admin may see: any for a superuser, else a member of the admin's organisation.
    async fn visible(&self, admin: OrgAdmin, id: UserId) -> Result<User> {
        let user = store::users::find(&self.db, id.uuid()).await?.ok_or(NOT_FOUND)?;
        if admin.is_superuser() || store::members::is_member(&self.db, admin.org_id(), user.id).await? {
            Ok(user)
        } else {
            Err(NOT_FOUND)
        }
    }

    /// A user the admin may change: visible, not an owner unless the caller has an owner's
    /// powers, and (for non-superusers) not a superuser and in no other organisation.
    pub(crate) async fn manageable(&self, caller: &Caller, admin: OrgAdmin, id: UserId) -> Result<User> {
        let user = self.visible(admin, id).await?;
        owners::guard_owner(&self.db, caller, admin, user.id).await?;
        if !admin.is_superuser() {
            if user.superuser {
                return Err(ServiceError::Forbidden(
                    "forbidden",
                    "only a superuser can change a superuser",
                ));
            }
            let orgs = store::members::orgs_of(&self.db, user.id).await?;
            if orgs.iter().any(|o| *o != admin.org_id()) {
                return Err(ServiceError::Conflict(
                    "user_in_other_organizations",
                    "the user belongs to other organisations too; remove the membership instead, or ask a superuser",
                ));
            }
        }
        Ok(user)
    }
}
