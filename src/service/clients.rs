//! Service accounts: created by organisation admins (the secret is shown once, stored as a
//! SHA-256), tokens by the client-credentials grant. They are also the clients that may call
//! introspection (`Authenticator::introspect`), which answers only for their organisation.
use super::authz::Caller;
use super::change::{Audit, Changes, Event};
use super::orgs::OrgService;
use super::{Result, ServiceError, no_randomness};
use crate::crypto;
use crate::model::input::{DisplayName, Permissions};
use crate::model::{OrgId, ServiceAccount, ServiceAccountId};
use crate::store::{self, Db};
use crate::token::Issuer;
use aws_lc_rs::constant_time::verify_slices_are_equal;
use std::sync::Arc;

/// An access token issued to a service account.
pub struct ClientGrant {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
}

const INVALID_CLIENT: ServiceError = ServiceError::InvalidClient;

pub struct ClientService {
    db: Db,
    changes: Changes,
    orgs: Arc<OrgService>,
    tokens: Arc<Issuer>,
}

impl ClientService {
    pub fn new(db: Db, changes: Changes, orgs: Arc<OrgService>, tokens: Arc<Issuer>) -> Self {
        Self {
            db,
            changes,
            orgs,
            tokens,
        }
    }

    pub async fn list(&self, caller: &Caller, org: OrgId) -> Result<Vec<ServiceAccount>> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        Ok(store::service_accounts::list(&self.db, admin.org_id()).await?)
    }

    /// Creates a service account; returns it with its secret, which is never shown again.
    pub async fn create(
        &self,
        caller: &Caller,
        org: OrgId,
        name: DisplayName,
        permissions: Permissions,
    ) -> Result<(ServiceAccount, String)> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        let client_id = format!("sa_{}", &crypto::random_token().map_err(no_randomness)?[..22]);
        let secret = crypto::random_token().map_err(no_randomness)?;
        let mut change = self.changes.begin().await?;
        let account = store::service_accounts::insert(
            change.tx(),
            admin.org_id(),
            &client_id,
            crypto::token_digest(&secret),
            name.as_str(),
            permissions.as_slice(),
            change.now(),
        )
        .await?;
        change.event(
            account.org_id,
            Event::ServiceAccountCreated {
                account: account.clone(),
            },
        );
        change.audit(
            Audit::new(&caller.actor(), "service_account.create")
                .org(account.org_id)
                .target("service_account", account.id),
        );
        change.commit().await?;
        Ok((account, secret))
    }

    pub async fn delete(&self, caller: &Caller, org: OrgId, id: ServiceAccountId) -> Result<()> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        let org = admin.org_id();
        let mut change = self.changes.begin().await?;
        let account = store::service_accounts::find(change.tx(), org, id.uuid())
            .await?
            .ok_or(ServiceError::NotFound("service account not found"))?;
        store::service_accounts::delete(change.tx(), org, account.id).await?;
        change.audit(
            Audit::new(&caller.actor(), "service_account.delete")
                .org(org)
                .target("service_account", account.id),
        );
        change.service_account_changed(account.id);
        change.event(
            org,
            Event::ServiceAccountDeleted {
                id: account.id,
                client_id: account.client_id,
            },
        );
        change.commit().await
    }

    /// Checks a client id and secret; every failure looks the same.
    pub async fn authenticate(&self, client_id: &str, secret: &str) -> Result<ServiceAccount> {
        let (account, digest) = store::service_accounts::by_client_id(&self.db, client_id)
            .await?
            .ok_or(INVALID_CLIENT)?;
        let presented = crypto::token_digest(secret);
        if verify_slices_are_equal(presented.as_bytes(), digest.as_bytes()).is_err() || !account.active {
            return Err(INVALID_CLIENT);
        }
        Ok(account)
    }

    /// A service account allowed to introspect tokens: authenticated, and holding the
    /// `introspect` permission (or `*`). RFC 7662 leaves it to the server which clients may ask;
    /// an explicit grant keeps a service that only needs its own tokens from reading everyone's.
    pub async fn introspector(&self, client_id: &str, secret: &str) -> Result<ServiceAccount> {
        let account = self.authenticate(client_id, secret).await?;
        if account.permissions.iter().any(|p| p == "introspect" || p == "*") {
            Ok(account)
        } else {
            Err(ServiceError::Forbidden(
                "insufficient_scope",
                "introspection needs a service account with the introspect permission",
            ))
        }
    }

    /// The client-credentials grant.
    pub async fn token(&self, client_id: &str, secret: &str) -> Result<ClientGrant> {
        let account = self.authenticate(client_id, secret).await?;
        self.token_for(&account).await
    }

    /// A token for an authenticated service account.
    pub async fn token_for(&self, account: &ServiceAccount) -> Result<ClientGrant> {
        let org = store::orgs::find(&self.db, account.org_id)
            .await?
            .filter(|o| o.active)
            .ok_or(INVALID_CLIENT)?;
        let access = self.tokens.service_token(account, &org.slug)?;
        Ok(ClientGrant {
            access_token: access.token,
            expires_in: access.expires_in,
            scope: account.permissions.join(" "),
        })
    }
}
