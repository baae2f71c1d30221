//! Service accounts: created by organisation admins (the secret is shown once), tokens by the
//! client-credentials grant, and RFC 7662 introspection, which only they may call and which only
//! answers for tokens of their own organisation.
use super::auth::sign;
use super::authz::Caller;
use super::core::{Core, Subject};
use super::journal::Invalidation;
use serde_json::json;

use super::orgs::OrgService;
use super::validate::{self, Problems};
use super::{Result, ServiceError};
use crate::crypto;
use crate::model::{MembershipContext, ServiceAccount};
use crate::store;
use crate::token::AccessClaims;
use crate::token::claims::Issuance;
use aws_lc_rs::constant_time::verify_slices_are_equal;
use std::sync::Arc;
use uuid::Uuid;

/// An introspected token that is active.
pub struct Introspection {
    pub claims: AccessClaims,

    /// The user's current context (user tokens only).
    pub context: Option<Arc<MembershipContext>>,
}

/// An access token issued to a service account.
pub struct ClientGrant {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
}

const INVALID_CLIENT: ServiceError = ServiceError::InvalidClient;

pub struct ClientService {
    core: Arc<Core>,
    orgs: Arc<OrgService>,
}

impl ClientService {
    pub fn new(core: Arc<Core>, orgs: Arc<OrgService>) -> Self {
        Self { core, orgs }
    }

    pub async fn list(&self, caller: &Caller, org_id: Uuid) -> Result<Vec<ServiceAccount>> {
        let admin = self.orgs.admin_of_existing(caller, org_id).await?;
        Ok(store::service_accounts::list(&self.core.db, admin.org_id()).await?)
    }

    /// Creates a service account; returns it with its secret, which is never shown again.
    pub async fn create(
        &self,
        caller: &Caller,
        org_id: Uuid,
        name: String,
        permissions: Vec<String>,
    ) -> Result<(ServiceAccount, String)> {
        let admin = self.orgs.admin_of_existing(caller, org_id).await?;
        let mut problems = Problems::default();
        let name = problems.check("name", validate::display_name(&name));
        let permissions = problems.check("permissions", validate::permissions(&permissions));
        problems.finish()?;
        let (Some(name), Some(permissions)) = (name, permissions) else {
            return Err(ServiceError::Internal(anyhow::anyhow!("validated fields missing")));
        };
        let random = || crypto::random_token().map_err(|_| ServiceError::Internal(anyhow::anyhow!("no randomness")));
        let client_id = format!("sa_{}", &random()?[..22]);
        let secret = random()?;
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let account = store::service_accounts::insert(
            &tx,
            admin.org_id(),
            &client_id,
            crypto::token_digest(&secret),
            &name,
            &permissions,
            journal.now(),
        )
        .await?;
        let data = json!({"service_account_id": account.id, "client_id": account.client_id, "name": account.name, "permissions": account.permissions});
        journal.event(
            Some(account.org_id),
            "identity",
            account.id,
            "created",
            "IdentityCreated",
            data,
        );
        journal.audit(
            Some(account.org_id),
            &caller.actor(),
            "service_account.create",
            Some(("service_account", account.id.to_string())),
            None,
        );
        self.core.commit(tx, journal).await?;
        Ok((account, secret))
    }

    pub async fn delete(&self, caller: &Caller, org_id: Uuid, id: Uuid) -> Result<()> {
        let admin = self.orgs.admin_of_existing(caller, org_id).await?;
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let account = store::service_accounts::find(&tx, admin.org_id(), id).await?;
        let Some(account) = account.filter(|_| true) else {
            return Err(ServiceError::NotFound("service account not found"));
        };
        store::service_accounts::delete(&tx, admin.org_id(), id).await?;
        let data = json!({"service_account_id": id, "client_id": account.client_id});
        journal.event(
            Some(admin.org_id()),
            "identity",
            id,
            "deleted",
            "IdentityPermissionsDeleted",
            data,
        );
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "service_account.delete",
            Some(("service_account", id.to_string())),
            None,
        );
        journal.invalidate(Invalidation::Account { id });
        self.core.commit(tx, journal).await?;
        Ok(())
    }

    /// Checks a client id and secret; every failure looks the same.
    pub async fn authenticate(&self, client_id: &str, secret: &str) -> Result<ServiceAccount> {
        let (account, digest) = store::service_accounts::by_client_id(&self.core.db, client_id)
            .await?
            .ok_or(INVALID_CLIENT)?;
        let presented = crypto::token_digest(secret);
        if verify_slices_are_equal(presented.as_bytes(), digest.as_bytes()).is_err() || !account.active {
            return Err(INVALID_CLIENT);
        }
        Ok(account)
    }

    /// The client-credentials grant.
    pub async fn token(&self, client_id: &str, secret: &str) -> Result<ClientGrant> {
        let account = self.authenticate(client_id, secret).await?;
        let org = store::orgs::find(&self.core.db, account.org_id)
            .await?
            .filter(|o| o.active)
            .ok_or(INVALID_CLIENT)?;
        let now = self.core.clock.now();
        let expires_at = now + self.core.config.access_token_ttl;
        let verifier = &self.core.verifier;
        let issuance = Issuance {
            issuer: verifier.issuer(),
            audience: verifier.audience(),
            now,
            expires_at,
        };
        let claims = AccessClaims::for_service(&account, &org.slug, &issuance);
        Ok(ClientGrant {
            access_token: sign(&self.core, &claims)?,
            expires_in: (expires_at - now).num_seconds(),
            scope: account.permissions.join(" "),
        })
    }

    /// RFC 7662: `None` for anything not active, or not of the caller's organisation.
    pub async fn introspect(&self, caller: &ServiceAccount, token: &str) -> Result<Option<Introspection>> {
        let (principal, claims) = match self.core.authenticate_with_claims(token).await {
            Ok(found) => found,
            Err(ServiceError::InvalidToken(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if principal.org_id != caller.org_id {
            return Ok(None);
        }
        let context = match principal.subject {
            Subject::User { user_id, .. } => match self.core.context(user_id, principal.org_id).await? {
                Ok(context) => Some(context),
                Err(_) => return Ok(None),
            },
            Subject::Service { .. } => None,
        };
        Ok(Some(Introspection { claims, context }))
    }
}
