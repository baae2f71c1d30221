//! User administration (`/admin/users`). Users are global accounts: a superuser manages all of
//! them; an organisation's admins see its members, create users into it, and change or delete
//! an account only while it belongs to their organisation alone (so one tenant's admin never
//! changes another tenant's user).
use super::auth::user_data;
use super::authz::{Caller, OrgAdmin};
use super::core::Core;
use super::journal::Invalidation;
use serde_json::json;

use super::validate::{self, Problems};
use super::{Result, ServiceError};
use crate::crypto::password;
use crate::model::{Page, PageRequest, User};
use crate::store::{self, StoreError};
use secrecy::SecretString;
use std::sync::Arc;
use uuid::Uuid;

pub struct NewUser {
    pub email: String,
    pub password: Option<String>,
    pub name: Option<String>,
    pub username: Option<String>,
    pub roles: Option<Vec<String>>,
    pub superuser: Option<bool>,
}

pub struct UserPatch {
    pub email: Option<String>,
    pub password: Option<String>,
    pub name: Option<String>,
    pub username: Option<Option<String>>,
    pub active: Option<bool>,
    pub superuser: Option<bool>,
}

const NOT_FOUND: ServiceError = ServiceError::NotFound("User not found");

fn conflict(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => {
            ServiceError::Conflict("user_exists", "a user with this email or username already exists")
        }
        e => e.into(),
    }
}

pub struct UserService {
    core: Arc<Core>,
}

impl UserService {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<User>> {
        let scope = if caller.superuser {
            None
        } else {
            Some(caller.admin()?.org_id())
        };
        Ok(store::users::list(&self.core.db, scope, page).await?)
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<User> {
        let admin = caller.admin()?;
        self.visible(admin, id).await
    }

    /// Creates a user (without a password: an OIDC-only account) and makes them a member of the
    /// caller's organisation with `roles` (default `member`).
    pub async fn create(&self, caller: &Caller, input: NewUser) -> Result<User> {
        let admin = caller.admin()?;
        if input.superuser == Some(true) {
            caller.superuser()?;
        }
        let mut problems = Problems::default();
        let email = problems.check("email", validate::email(&input.email));
        if let Some(p) = &input.password {
            problems.check("password", password::check_policy(&self.core.config.password_policy, p));
        }
        let username = match input.username.as_deref() {
            Some(raw) => problems.check("username", validate::username(raw)).map(Some),
            None => Some(None),
        };
        let default_name = email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .unwrap_or_default()
            .to_owned();
        let name = problems.check(
            "name",
            validate::display_name(input.name.as_deref().unwrap_or(&default_name)),
        );
        let roles = input.roles.unwrap_or_else(|| vec!["member".into()]);
        let known = store::orgs::roles(&self.core.db, admin.org_id()).await?;
        let mut role_ids = Vec::new();
        for key in &roles {
            match known.iter().find(|r| &r.key == key) {
                Some(r) if r.key == "owner" && !(caller.org_owner || caller.superuser) => {
                    problems.add("roles", "only an owner can grant the owner role")
                }
                Some(r) => role_ids.push(r.id),
                None => problems.add("roles", format!("unknown role \"{key}\"")),
            }
        }
        problems.finish()?;
        let (Some(email), Some(username), Some(name)) = (email, username, name) else {
            return Err(ServiceError::Internal(anyhow::anyhow!("validated fields missing")));
        };
        let hash = match input.password {
            Some(p) => Some(self.core.hasher.hash(SecretString::from(p)).await?),
            None => None,
        };
        let mut journal = self.core.journal();
        let now = journal.now();
        let tx = store::begin(&self.core.db).await?;
        let new = store::users::NewUser {
            id: None,
            email,
            username,
            display_name: name,
            password_hash: hash,
            superuser: input.superuser.unwrap_or(false),
            default_org_id: Some(admin.org_id()),
        };
        let user = store::users::insert(&tx, new, now).await.map_err(conflict)?;
        store::orgs::add_member(&tx, admin.org_id(), user.id, &[], now).await?;
        store::orgs::set_member_roles(&tx, admin.org_id(), user.id, &role_ids).await?;
        journal.event(
            Some(admin.org_id()),
            "user",
            user.id,
            "created",
            "UserCreated",
            user_data(&user),
        );
        journal.event(Some(admin.org_id()), "org", admin.org_id(), "membership.changed", "MembershipChanged",
            json!({"org_id": admin.org_id(), "user_id": user.id, "action": "added", "roles": roles, "roles_added": roles, "roles_removed": []}));
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "user.create",
            Some(("user", user.id.to_string())),
            None,
        );
        self.core.commit(tx, journal).await?;
        Ok(user)
    }

    pub async fn update(&self, caller: &Caller, id: Uuid, patch: UserPatch) -> Result<User> {
        let admin = caller.admin()?;
        if patch.superuser.is_some() {
            caller.superuser()?;
        }
        let user = self.manageable(admin, id).await?;
        if id == caller.user_id && (patch.active == Some(false) || patch.superuser == Some(false)) {
            return Err(ServiceError::Conflict(
                "self_lockout",
                "you cannot deactivate yourself or drop your own superuser flag",
            ));
        }
        let mut problems = Problems::default();
        let email = patch.email.map(|e| problems.check("email", validate::email(&e)));
        let name = patch.name.map(|n| problems.check("name", validate::display_name(&n)));
        let username = match patch.username {
            Some(Some(u)) => Some(problems.check("username", validate::username(&u)).map(Some)),
            Some(None) => Some(Some(None)),
            None => None,
        };
        if let Some(p) = &patch.password {
            problems.check("password", password::check_policy(&self.core.config.password_policy, p));
        }
        problems.finish()?;
        let password_changed = patch.password.is_some();
        let password_hash = match patch.password {
            Some(p) => Some(self.core.hasher.hash(SecretString::from(p)).await?),
            None => None,
        };
        let changes = store::users::UserChanges {
            email: email.flatten(),
            username: username.flatten(),
            display_name: name.flatten(),
            password_hash,
            active: patch.active,
            superuser: patch.superuser,
        };
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let updated = store::users::update(&tx, user.id, changes, journal.now())
            .await
            .map_err(conflict)?;
        if patch.active == Some(false) {
            let sessions = store::sessions::unrevoked_of_user(&tx, user.id).await?;
            self.core
                .end_sessions(&tx, &mut journal, sessions, "user_deactivated")
                .await?;
        }
        let data =
            json!({"before": user_data(&user), "after": user_data(&updated), "password_changed": password_changed});
        journal.event(Some(admin.org_id()), "user", user.id, "updated", "UserUpdated", data);
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "user.update",
            Some(("user", user.id.to_string())),
            None,
        );
        journal.invalidate(Invalidation::User { user: user.id });
        self.core.commit(tx, journal).await?;
        Ok(updated)
    }

    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let admin = caller.admin()?;
        let user = self.manageable(admin, id).await?;
        if id == caller.user_id {
            return Err(ServiceError::Conflict("self_lockout", "you cannot delete yourself"));
        }
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let sessions = store::sessions::unrevoked_of_user(&tx, user.id).await?;
        self.core
            .end_sessions(&tx, &mut journal, sessions, "user_deleted")
            .await?;
        store::users::delete(&tx, user.id).await?;
        journal.event(
            Some(admin.org_id()),
            "user",
            user.id,
            "deleted",
            "UserDeleted",
            user_data(&user),
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "user.delete",
            Some(("user", user.id.to_string())),
            Some(json!({"email": user.email})),
        );
        journal.invalidate(Invalidation::User { user: user.id });
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    /// A user the admin may see: any for a superuser, else a member of the admin's organisation.
    async fn visible(&self, admin: OrgAdmin, id: Uuid) -> Result<User> {
        let db = &self.core.db;
        let user = store::users::find(db, id).await?.ok_or(NOT_FOUND)?;
        if admin.is_superuser() || store::orgs::is_member(db, admin.org_id(), id).await? {
            Ok(user)
        } else {
            Err(NOT_FOUND)
        }
    }

    /// A user the admin may change: visible, and (for non-superusers) in no other organisation.
    async fn manageable(&self, admin: OrgAdmin, id: Uuid) -> Result<User> {
        let user = self.visible(admin, id).await?;
        if !admin.is_superuser() {
            if user.superuser {
                return Err(ServiceError::Forbidden(
                    "forbidden",
                    "only a superuser can change a superuser",
                ));
            }
            let orgs = store::orgs::orgs_of(&self.core.db, id).await?;
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
