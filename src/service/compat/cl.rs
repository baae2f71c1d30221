//! Seed 002 (CL Server): users addressed by their number, per-user permissions (granted to the
//! membership directly), an admin flag (the `admin` role), and re-issuing an access token for a
//! live session. Everything happens in the caller's organisation; a user outside it is "User
//! not found", exactly like a missing one.
use crate::crypto::password::Hasher;
use crate::model::input::{Email, Password, Permissions, Username};
use crate::model::{MembershipContext, User, UserId};
use crate::service::authn::Authenticator;
use crate::service::authz::{Caller, OrgAdmin};
use crate::service::change::{Audit, Changes, Event, MembershipAction, SessionsOf};
use crate::service::orgs::owners;
use crate::service::users::UserService;
use crate::service::{Result, ServiceError, conflict};
use crate::store::{self, Db};
use crate::token::{AccessToken, Issuer, VerifyError};
use serde_json::json;
use std::sync::Arc;

const NOT_FOUND: ServiceError = ServiceError::NotFound("User not found");
/// Where accounts created without an email get their (undeliverable, RFC 2606) address.
pub const NO_EMAIL_DOMAIN: &str = "users.invalid";

/// A user as seed 002 shows them.
pub struct ClUser {
    pub number: i32,
    pub user: User,
    pub is_admin: bool,
    pub permissions: Vec<String>,
}

/// Seed 002 names accounts by a username, which may be an email address.
pub enum ClName {
    Email(Email),
    Username(Username),
}

pub struct ClNewUser {
    pub name: ClName,
    pub password: Password,
    pub permissions: Permissions,
    pub is_admin: bool,
}

#[derive(Default)]
pub struct ClPatch {
    pub password: Option<Password>,
    pub permissions: Option<Permissions>,
    pub is_active: Option<bool>,
    pub is_admin: Option<bool>,
}

pub struct ClService {
    db: Db,
    changes: Changes,
    authn: Arc<Authenticator>,
    tokens: Arc<Issuer>,
    hasher: Arc<Hasher>,
    users: Arc<UserService>,
}

fn is_admin_role(role: &str) -> bool {
    role == "admin" || role == "owner"
}

impl ClService {
    pub fn new(
        db: Db,
        changes: Changes,
        authn: Arc<Authenticator>,
        tokens: Arc<Issuer>,
        hasher: Arc<Hasher>,
        users: Arc<UserService>,
    ) -> Self {
        Self {
            db,
            changes,
            authn,
            tokens,
            hasher,
            users,
        }
    }

    /// The caller's context and number (seed 001's `/me` shows both).
    pub async fn context_with_number(&self, caller: &Caller) -> Result<(Arc<MembershipContext>, i32)> {
        let context = self.authn.current(caller.user_id, caller.org_id).await?;
        let number = store::compat::number_of(&self.db, caller.user_id)
            .await?
            .ok_or(NOT_FOUND)?;
        Ok((context, number))
    }

    pub async fn me(&self, caller: &Caller) -> Result<ClUser> {
        let (context, number) = self.context_with_number(caller).await?;
        Ok(ClUser {
            number,
            is_admin: context.is_admin(),
            permissions: context.permissions.clone(),
            user: context.user.clone(),
        })
    }

    pub async fn list(&self, caller: &Caller, skip: u64, limit: u64) -> Result<Vec<ClUser>> {
        let admin = caller.admin()?;
        let members = store::compat::numbered_members(&self.db, admin.org_id(), skip, limit).await?;
        Ok(members
            .into_iter()
            .map(|m| ClUser {
                number: m.number,
                is_admin: m.user.superuser || m.roles.iter().any(|r| is_admin_role(r)),
                permissions: m.permissions,
                user: m.user,
            })
            .collect())
    }

    pub async fn get(&self, caller: &Caller, number: i32) -> Result<ClUser> {
        let admin = caller.admin()?;
        let user = self.member(admin, number).await?;
        self.view(admin, number, user).await
    }

    /// Creates an account in the caller's organisation: `member`, plus `admin` when asked, plus
    /// the permissions granted directly. A username with `@` is the account's email.
    pub async fn create(&self, caller: &Caller, input: ClNewUser) -> Result<ClUser> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        let (email, username) = match input.name {
            ClName::Email(email) => (email.into_inner(), None),
            ClName::Username(username) => (format!("{username}@{NO_EMAIL_DOMAIN}"), Some(username.into_inner())),
        };
        let roles: &[&str] = if input.is_admin {
            &["admin", "member"]
        } else {
            &["member"]
        };
        let hash = self.hasher.hash(input.password.secret()).await?;
        let mut change = self.changes.begin().await?;
        let now = change.now();
        let new = store::users::NewUser {
            id: None,
            display_name: username.clone().unwrap_or_else(|| email.clone()),
            email,
            username,
            password_hash: Some(hash),
            superuser: false,
            email_verified: caller.superuser,
            default_org_id: Some(org),
        };
        let user = store::users::insert(change.tx(), new, now)
            .await
            .map_err(conflict("user_exists", "a user with this username already exists"))?;
        store::members::add(change.tx(), org, user.id, roles, now).await?;
        let permissions = input.permissions.into_inner();
        store::members::set_direct_permissions(change.tx(), org, user.id, &permissions).await?;
        let role_keys: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        change.event(org, Event::UserCreated { user: user.clone() });
        change.event(
            org,
            Event::membership(org, user.id, MembershipAction::Added, &[], &role_keys),
        );
        change.audit(
            Audit::new(&caller.actor(), "user.create")
                .org(org)
                .target("user", user.id)
                .detail(json!({"roles": role_keys, "permissions": permissions})),
        );
        change.commit().await?;
        let number = store::compat::number_of(&self.db, user.id).await?.ok_or(NOT_FOUND)?;
        self.view(admin, number, user).await
    }

    /// Changes the password or active flag (the account: as `/admin/users` allows) and the admin
    /// flag or permissions (the membership in the caller's organisation).
    pub async fn update(&self, caller: &Caller, number: i32, patch: ClPatch) -> Result<ClUser> {
        let admin = caller.admin()?;
        let org = admin.org_id();
        let user = self.member(admin, number).await?;
        let membership = store::members::membership(&self.db, org, user.id)
            .await?
            .ok_or(NOT_FOUND)?;
        let self_lockout =
            user.id == caller.user_id && (patch.is_active == Some(false) || patch.is_admin == Some(false));
        if self_lockout {
            return Err(ServiceError::Conflict(
                "self_lockout",
                "you cannot deactivate yourself or drop your own admin flag",
            ));
        }
        if patch.password.is_some() || patch.is_active.is_some() {
            self.users.manageable(caller, admin, UserId(user.id)).await?;
        }
        let roles = match patch.is_admin {
            Some(true) if !membership.roles.iter().any(|r| is_admin_role(r)) => {
                Some([membership.roles.clone(), vec!["admin".to_owned()]].concat())
            }
            Some(false) if membership.roles.iter().any(|r| is_admin_role(r)) => {
                if membership.roles.iter().any(|r| r == owners::OWNER) {
                    owners::require_owner_powers(caller, admin)?;
                    owners::keep_an_owner(&self.db, org, user.id).await?;
                }
                Some(membership.roles.iter().filter(|r| !is_admin_role(r)).cloned().collect())
            }
            _ => None,
        };
        let hash = match &patch.password {
            Some(p) => Some(self.hasher.hash(p.secret()).await?),
            None => None,
        };
        let password_changed = hash.is_some();
        let mut change = self.changes.begin().await?;
        let now = change.now();
        if hash.is_some() || patch.is_active.is_some() {
            let changes = store::users::UserChanges {
                password_hash: hash,
                active: patch.is_active,
                ..store::users::UserChanges::default()
            };
            let updated = store::users::update(change.tx(), user.id, changes, now).await?;
            if patch.is_active == Some(false) {
                change
                    .end_sessions(SessionsOf::User(user.id), "user_deactivated")
                    .await?;
            } else if password_changed {
                change
                    .end_sessions(SessionsOf::User(user.id), "password_changed")
                    .await?;
            }
            change.event(
                org,
                Event::UserUpdated {
                    before: user.clone(),
                    after: updated,
                    password_changed,
                },
            );
            change.user_changed(user.id);
        }
        if let Some(keys) = &roles {
            let known = store::roles::list(change.tx(), org).await?;
            let ids: Vec<_> = known.iter().filter(|r| keys.contains(&r.key)).map(|r| r.id).collect();
            store::members::set_roles(change.tx(), org, user.id, &ids).await?;
            let action = MembershipAction::RolesChanged;
            change.event(org, Event::membership(org, user.id, action, &membership.roles, keys));
        }
        let permissions = patch.permissions.map(Permissions::into_inner);
        if let Some(permissions) = &permissions {
            store::members::set_direct_permissions(change.tx(), org, user.id, permissions).await?;
        }
        if roles.is_some() || permissions.is_some() {
            change.members_changed(org, [user.id]);
        }
        change.audit(
            Audit::new(&caller.actor(), "user.update")
                .org(org)
                .target("user", user.id)
                .detail(json!({"password_changed": password_changed, "is_active": patch.is_active, "roles": roles, "permissions": permissions})),
        );
        change.commit().await?;
        let user = store::users::find(&self.db, user.id).await?.ok_or(NOT_FOUND)?;
        self.view(admin, number, user).await
    }

    /// Deletes the account, as `DELETE /admin/users/{id}` does.
    pub async fn delete(&self, caller: &Caller, number: i32) -> Result<()> {
        let admin = caller.admin()?;
        let user = self.member(admin, number).await?;
        self.users.delete(caller, UserId(user.id)).await
    }

    /// A new access token for the caller's live session (no refresh token involved).
    pub async fn reissue(&self, caller: &Caller) -> Result<AccessToken> {
        let now = self.changes.now();
        let session = store::sessions::find(&self.db, caller.session_id)
            .await?
            .filter(|s| s.is_live(now))
            .ok_or(ServiceError::InvalidToken(VerifyError::SessionRevoked))?;
        let context = self.authn.current(caller.user_id, caller.org_id).await?;
        let token = self.tokens.user_token(&context, &session)?;
        let change = self.changes.begin().await?;
        store::sessions::touch(change.tx(), session.id, session.org_id, now).await?;
        change.commit().await?;
        Ok(token)
    }

    async fn member(&self, admin: OrgAdmin, number: i32) -> Result<User> {
        store::compat::member_by_number(&self.db, admin.org_id(), number)
            .await?
            .ok_or(NOT_FOUND)
    }

    async fn view(&self, admin: OrgAdmin, number: i32, user: User) -> Result<ClUser> {
        let membership = store::members::membership(&self.db, admin.org_id(), user.id)
            .await?
            .ok_or(NOT_FOUND)?;
        Ok(ClUser {
            number,
            is_admin: user.superuser || membership.roles.iter().any(|r| is_admin_role(r)),
            permissions: membership.permissions,
            user,
        })
    }
}
