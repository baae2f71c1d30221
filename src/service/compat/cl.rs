//! Seed 002 (CL Server): users addressed by their number, per-user permissions (granted to the
//! membership directly), an admin flag (the `admin` role), and re-issuing an access token for a
//! live session. Everything happens in the caller's organisation; a user outside it is "User
//! not found", exactly like a missing one.
use crate::crypto::password;
use crate::model::{MembershipContext, User};
use crate::service::auth::{sign, user_data};
use crate::service::authz::{Caller, OrgAdmin};
use crate::service::core::{Core, denied};
use crate::service::journal::Invalidation;
use crate::service::orgs::membership_changed;
use crate::service::users::UserService;
use crate::service::validate::{self, Problems};
use crate::service::{Result, ServiceError};
use crate::store::{self, StoreError};
use crate::token::claims::Issuance;
use crate::token::{AccessClaims, VerifyError};
use secrecy::SecretString;
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

pub struct ClNewUser {
    pub username: String,
    pub password: String,
    pub permissions: Vec<String>,
    pub is_admin: bool,
}

#[derive(Default)]
pub struct ClPatch {
    pub password: Option<String>,
    pub permissions: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub is_admin: Option<bool>,
}

pub struct ClService {
    core: Arc<Core>,
    users: Arc<UserService>,
}

fn is_admin_role(role: &str) -> bool {
    role == "admin" || role == "owner"
}

impl ClService {
    pub fn new(core: Arc<Core>, users: Arc<UserService>) -> Self {
        Self { core, users }
    }

    /// The caller's context and number (seed 001's `/me` shows both).
    pub async fn context_with_number(&self, caller: &Caller) -> Result<(Arc<MembershipContext>, i32)> {
        let context = self
            .core
            .context(caller.user_id, caller.org_id)
            .await?
            .map_err(denied)?;
        let number = store::compat::number_of(&self.core.db, caller.user_id)
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
        let members = store::compat::numbered_members(&self.core.db, admin.org_id(), skip, limit).await?;
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
        let mut problems = Problems::default();
        let (email, username) = if input.username.contains('@') {
            (problems.check("username", validate::email(&input.username)), Some(None))
        } else {
            let username = problems.check("username", validate::username(&input.username));
            let email = username.as_ref().map(|u| format!("{u}@{NO_EMAIL_DOMAIN}"));
            (email, username.map(Some))
        };
        problems.check(
            "password",
            password::check_policy(&self.core.config.password_policy, &input.password),
        );
        let permissions = problems.check("permissions", validate::permissions(&input.permissions));
        problems.finish()?;
        let (Some(email), Some(username), Some(permissions)) = (email, username, permissions) else {
            return Err(ServiceError::Internal(anyhow::anyhow!("validated fields missing")));
        };
        let roles: &[&str] = if input.is_admin {
            &["admin", "member"]
        } else {
            &["member"]
        };
        let hash = self.core.hasher.hash(SecretString::from(input.password)).await?;
        let mut journal = self.core.journal();
        let now = journal.now();
        let tx = store::begin(&self.core.db).await?;
        let new = store::users::NewUser {
            id: None,
            display_name: username.clone().unwrap_or_else(|| email.clone()),
            email,
            username,
            password_hash: Some(hash),
            superuser: false,
            default_org_id: Some(admin.org_id()),
        };
        let user = store::users::insert(&tx, new, now).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                ServiceError::Conflict("user_exists", "a user with this username already exists")
            }
            e => e.into(),
        })?;
        store::orgs::add_member(&tx, admin.org_id(), user.id, roles, now).await?;
        store::compat::set_direct_permissions(&tx, admin.org_id(), user.id, &permissions).await?;
        let number = store::compat::number_of(&tx, user.id).await?.ok_or(NOT_FOUND)?;
        let role_keys: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        journal.event(
            Some(admin.org_id()),
            "user",
            user.id,
            "created",
            "UserCreated",
            user_data(&user),
        );
        membership_changed(&mut journal, admin.org_id(), user.id, "added", &[], &role_keys);
        let detail = Some(json!({"roles": role_keys, "permissions": permissions}));
        let target = Some(("user", user.id.to_string()));
        journal.audit(Some(admin.org_id()), &caller.actor(), "user.create", target, detail);
        self.core.commit(tx, journal).await?;
        self.view(admin, number, user).await
    }

    /// Changes the password or active flag (the account: as `/admin/users` allows) and the admin
    /// flag or permissions (the membership in the caller's organisation).
    pub async fn update(&self, caller: &Caller, number: i32, patch: ClPatch) -> Result<ClUser> {
        let admin = caller.admin()?;
        let user = self.member(admin, number).await?;
        let db = &self.core.db;
        let membership = store::orgs::membership(db, admin.org_id(), user.id)
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
        if (patch.password.is_some() || patch.is_active.is_some()) && !admin.is_superuser() {
            self.account_manageable(admin, &user).await?;
        }
        let mut problems = Problems::default();
        if let Some(p) = &patch.password {
            problems.check("password", password::check_policy(&self.core.config.password_policy, p));
        }
        let permissions = match &patch.permissions {
            Some(p) => problems.check("permissions", validate::permissions(p)),
            None => None,
        };
        problems.finish()?;
        let roles = match patch.is_admin {
            Some(true) if !membership.roles.iter().any(|r| is_admin_role(r)) => {
                Some([membership.roles.clone(), vec!["admin".to_owned()]].concat())
            }
            Some(false) if membership.roles.iter().any(|r| is_admin_role(r)) => {
                if membership.roles.iter().any(|r| r == "owner") && !(caller.superuser || caller.org_owner) {
                    return Err(ServiceError::Forbidden(
                        "forbidden",
                        "only an owner can take the owner role",
                    ));
                }
                Some(membership.roles.iter().filter(|r| !is_admin_role(r)).cloned().collect())
            }
            _ => None,
        };
        let hash = match patch.password {
            Some(p) => Some(self.core.hasher.hash(SecretString::from(p)).await?),
            None => None,
        };
        let account_changed = hash.is_some() || patch.is_active.is_some();
        let password_changed = hash.is_some();
        let mut journal = self.core.journal();
        let now = journal.now();
        let tx = store::begin(db).await?;
        if account_changed {
            let changes = store::users::UserChanges {
                email: None,
                username: None,
                display_name: None,
                password_hash: hash,
                active: patch.is_active,
                superuser: None,
            };
            let updated = store::users::update(&tx, user.id, changes, now).await?;
            if patch.is_active == Some(false) {
                let sessions = store::sessions::unrevoked_of_user(&tx, user.id).await?;
                self.core
                    .end_sessions(&tx, &mut journal, sessions, "user_deactivated")
                    .await?;
            }
            let data =
                json!({"before": user_data(&user), "after": user_data(&updated), "password_changed": password_changed});
            journal.event(Some(admin.org_id()), "user", user.id, "updated", "UserUpdated", data);
            journal.invalidate(Invalidation::User { user: user.id });
        }
        if let Some(keys) = &roles {
            let known = store::orgs::roles(&tx, admin.org_id()).await?;
            let ids: Vec<_> = known.iter().filter(|r| keys.contains(&r.key)).map(|r| r.id).collect();
            store::orgs::set_member_roles(&tx, admin.org_id(), user.id, &ids).await?;
            membership_changed(
                &mut journal,
                admin.org_id(),
                user.id,
                "roles_changed",
                &membership.roles,
                keys,
            );
        }
        if let Some(permissions) = &permissions {
            store::compat::set_direct_permissions(&tx, admin.org_id(), user.id, permissions).await?;
        }
        if roles.is_some() || permissions.is_some() {
            store::orgs::bump_mv(&tx, admin.org_id(), &[user.id], now).await?;
            journal.invalidate(Invalidation::Members {
                org: admin.org_id(),
                users: vec![user.id],
            });
        }
        let detail = Some(
            json!({"password_changed": password_changed, "is_active": patch.is_active, "roles": roles, "permissions": permissions}),
        );
        let target = Some(("user", user.id.to_string()));
        journal.audit(Some(admin.org_id()), &caller.actor(), "user.update", target, detail);
        self.core.commit(tx, journal).await?;
        let user = store::users::find(db, user.id).await?.ok_or(NOT_FOUND)?;
        self.view(admin, number, user).await
    }

    /// Deletes the account, as `DELETE /admin/users/{id}` does.
    pub async fn delete(&self, caller: &Caller, number: i32) -> Result<()> {
        let admin = caller.admin()?;
        let user = self.member(admin, number).await?;
        self.users.delete(caller, user.id).await
    }

    /// A new access token for the caller's live session (no refresh token involved).
    pub async fn reissue(&self, caller: &Caller) -> Result<(String, i64)> {
        let db = &self.core.db;
        let now = self.core.clock.now();
        let session = store::sessions::find(db, caller.session_id)
            .await?
            .filter(|s| s.is_live(now))
            .ok_or(ServiceError::InvalidToken(VerifyError::SessionRevoked))?;
        let context = self
            .core
            .context(caller.user_id, caller.org_id)
            .await?
            .map_err(denied)?;
        let expires_at = (now + self.core.config.access_token_ttl).min(session.expires_at);
        let verifier = &self.core.verifier;
        let issuance = Issuance {
            issuer: verifier.issuer(),
            audience: verifier.audience(),
            now,
            expires_at,
        };
        let claims = AccessClaims::for_user(&context, &session, &issuance, self.core.config.claim_budget);
        let token = sign(&self.core, &claims)?;
        let tx = store::begin(db).await?;
        store::sessions::touch(&tx, session.id, session.org_id, now).await?;
        store::commit(tx).await?;
        Ok((token, (expires_at - now).num_seconds()))
    }

    async fn member(&self, admin: OrgAdmin, number: i32) -> Result<User> {
        store::compat::member_by_number(&self.core.db, admin.org_id(), number)
            .await?
            .ok_or(NOT_FOUND)
    }

    /// As `/admin/users`: an organisation admin changes an account only while it belongs to
    /// their organisation alone, and never a superuser's.
    async fn account_manageable(&self, admin: OrgAdmin, user: &User) -> Result<()> {
        if user.superuser {
            return Err(ServiceError::Forbidden(
                "forbidden",
                "only a superuser can change a superuser",
            ));
        }
        let orgs = store::orgs::orgs_of(&self.core.db, user.id).await?;
        if orgs.iter().any(|o| *o != admin.org_id()) {
            return Err(ServiceError::Conflict(
                "user_in_other_organizations",
                "the user belongs to other organisations too; ask a superuser",
            ));
        }
        Ok(())
    }

    async fn view(&self, admin: OrgAdmin, number: i32, user: User) -> Result<ClUser> {
        let membership = store::orgs::membership(&self.core.db, admin.org_id(), user.id)
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
