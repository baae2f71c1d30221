//! Seed 003's development mode: `X-User-Email` (and `X-User-Name`) instead of a token, only when
//! `AUTH_ALLOW_DEV_HEADERS=true` and `AUTH_ENV=development` (start-up refuses the first without
//! the second; this checks both again). An unknown email becomes a member of the default
//! organisation without a password, as the seed service did.
use crate::config::Environment;
use crate::service::auth::{AuthService, user_data};
use crate::service::authz::Caller;
use crate::service::core::denied;
use crate::service::journal::Actor;
use crate::service::validate::{self, Problems};
use crate::service::{Result, ServiceError};
use crate::store::{self, StoreError};
use crate::token::VerifyError;
use serde_json::json;
use uuid::Uuid;

impl AuthService {
    /// Whether development headers are accepted at all.
    pub fn dev_headers_allowed(&self) -> bool {
        let config = &self.core.config;
        config.allow_dev_headers && config.environment == Environment::Development
    }

    /// The caller named by development headers. It has no session (`session_id` is nil).
    pub async fn dev_caller(&self, email: &str, name: Option<&str>) -> Result<Caller> {
        if !self.dev_headers_allowed() {
            return Err(ServiceError::InvalidToken(VerifyError::Malformed));
        }
        let mut problems = Problems::default();
        let email = problems.check("X-User-Email", validate::email(email));
        problems.finish()?;
        let Some(email) = email else {
            return Err(ServiceError::Internal(anyhow::anyhow!("validated email missing")));
        };
        let user = match store::users::find_by_email(&self.core.db, &email).await? {
            Some(user) => user,
            None => self.dev_user(&email, name).await?,
        };
        if !user.active {
            return Err(ServiceError::InvalidToken(VerifyError::SessionRevoked));
        }
        let org = self.org_for_login(&user, None).await?;
        let context = self.core.context(user.id, org.id).await?.map_err(denied)?;
        Ok(Caller::new(&context, Uuid::nil()))
    }

    /// Creates the account a development header names, in the default organisation.
    async fn dev_user(&self, email: &str, name: Option<&str>) -> Result<crate::model::User> {
        let config = &self.core.config;
        let default_name = email.split('@').next().unwrap_or("user");
        let name = validate::display_name(name.unwrap_or(default_name)).unwrap_or_else(|_| default_name.to_owned());
        let org = store::orgs::find_by_slug(&self.core.db, &config.default_org)
            .await?
            .filter(|o| o.active)
            .ok_or(ServiceError::Forbidden(
                "no_organisation",
                "the default organisation is not active",
            ))?;
        let mut journal = self.core.journal();
        let now = journal.now();
        let tx = store::begin(&self.core.db).await?;
        let new = store::users::NewUser {
            id: None,
            email: email.to_owned(),
            username: None,
            display_name: name,
            password_hash: None,
            superuser: false,
            default_org_id: Some(org.id),
        };
        let user = match store::users::insert(&tx, new, now).await {
            Ok(user) => user,
            // Another request with the same header created it first.
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                return store::users::find_by_email(&self.core.db, email)
                    .await?
                    .ok_or(ServiceError::Conflict("user_exists", "the account is being created"));
            }
            Err(e) => return Err(e.into()),
        };
        store::orgs::add_member(&tx, org.id, user.id, &["member"], now).await?;
        journal.event(
            Some(org.id),
            "user",
            user.id,
            "created",
            "UserCreated",
            user_data(&user),
        );
        journal.event(Some(org.id), "org", org.id, "membership.changed", "MembershipChanged",
            json!({"org_id": org.id, "user_id": user.id, "action": "added", "roles": ["member"], "roles_added": ["member"], "roles_removed": []}));
        let actor = Actor {
            id: Some(user.id),
            name: Some("development headers".into()),
            ip: None,
        };
        journal.audit(
            Some(org.id),
            &actor,
            "user.create",
            Some(("user", user.id.to_string())),
            None,
        );
        self.core.commit(tx, journal).await?;
        Ok(user)
    }
}
