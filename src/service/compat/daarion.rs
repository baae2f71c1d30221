//! Seed 000 (DAARION): registration that also provisions a Matrix account when Synapse is
//! configured (a Synapse failure never fails the registration), the Matrix id beside the user,
//! and introspection of any access token without client credentials (as `/auth/validate`).
use super::matrix::Synapse;
use crate::model::{ClientInfo, MembershipContext};
use crate::service::auth::{AuthService, Grant, Login, Registration};
use crate::service::authz::Caller;
use crate::service::core::{Core, Subject};
use crate::service::journal::Actor;
use crate::service::{Result, ServiceError};
use crate::store;
use crate::token::AccessClaims;
use std::sync::Arc;
use uuid::Uuid;

pub struct DaarionService {
    core: Arc<Core>,
    auth: Arc<AuthService>,
    synapse: Option<Synapse>,
}

/// A grant and the user's Matrix id (`None` without Synapse, or when provisioning failed).
pub struct DaarionGrant {
    pub grant: Grant,
    pub matrix_user_id: Option<String>,
}

impl DaarionService {
    pub fn new(core: Arc<Core>, auth: Arc<AuthService>) -> anyhow::Result<Self> {
        let synapse = core.config.synapse.as_ref().map(Synapse::new).transpose()?;
        Ok(Self { core, auth, synapse })
    }

    pub async fn register(&self, input: Registration, client: ClientInfo) -> Result<DaarionGrant> {
        let grant = self.auth.register(input, client.clone()).await?;
        let matrix_user_id = match &self.synapse {
            Some(synapse) => self.provision(synapse, &grant.context, client).await,
            None => None,
        };
        Ok(DaarionGrant { grant, matrix_user_id })
    }

    pub async fn login(&self, input: Login, client: ClientInfo) -> Result<DaarionGrant> {
        let grant = self.auth.login(input, client).await?;
        self.with_matrix(grant).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<DaarionGrant> {
        let grant = self.auth.refresh(refresh_token, None).await?;
        self.with_matrix(grant).await
    }

    pub async fn me(&self, caller: &Caller) -> Result<(Arc<MembershipContext>, Option<String>)> {
        let context = self.auth.me(caller).await?;
        let matrix = store::compat::matrix_user_id(&self.core.db, caller.user_id).await?;
        Ok((context, matrix))
    }

    /// A live user access token's claims with the user's current context; `None` otherwise.
    pub async fn introspect(&self, token: &str) -> Result<Option<(AccessClaims, Arc<MembershipContext>)>> {
        let (principal, claims) = match self.core.authenticate_with_claims(token).await {
            Ok(found) => found,
            Err(ServiceError::InvalidToken(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Subject::User { user_id, .. } = principal.subject else {
            return Ok(None);
        };
        Ok(self
            .core
            .context(user_id, principal.org_id)
            .await?
            .ok()
            .map(|context| (claims, context)))
    }

    async fn with_matrix(&self, grant: Grant) -> Result<DaarionGrant> {
        let matrix_user_id = store::compat::matrix_user_id(&self.core.db, grant.context.user.id).await?;
        Ok(DaarionGrant { grant, matrix_user_id })
    }

    /// Registers the Matrix account and records it; failures are logged, never returned.
    async fn provision(&self, synapse: &Synapse, context: &MembershipContext, client: ClientInfo) -> Option<String> {
        let user = &context.user;
        let suffix = user.id.simple().to_string()[..8].to_owned();
        let matrix_user_id = match synapse.register(&user.email, &user.display_name, &suffix).await {
            Ok(id) => id,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), user = %user.id, "Matrix provisioning failed; the registration stands");
                return None;
            }
        };
        if let Err(error) = self.record(user.id, context.org.id, &matrix_user_id, client).await {
            tracing::warn!(error = %error, user = %user.id, "cannot record the Matrix account");
        }
        Some(matrix_user_id)
    }

    async fn record(&self, user_id: Uuid, org_id: Uuid, matrix_user_id: &str, client: ClientInfo) -> Result<()> {
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        store::compat::insert_matrix_account(&tx, user_id, matrix_user_id, journal.now()).await?;
        let actor = Actor {
            id: Some(user_id),
            name: None,
            ip: client.ip,
        };
        let detail = Some(serde_json::json!({"matrix_user_id": matrix_user_id}));
        journal.audit(
            Some(org_id),
            &actor,
            "user.matrix.provision",
            Some(("user", user_id.to_string())),
            detail,
        );
        self.core.commit(tx, journal).await
    }
}
