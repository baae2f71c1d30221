//! Seed 000 (DAARION): registration that also provisions a Matrix account when Synapse is
//! configured (a Synapse failure never fails the registration), the Matrix id beside the user,
//! and introspection of any access token without client credentials (as `/auth/validate`).
//! Its gateway does RBAC on `roles` and expects `user` for every account: the tokens minted here
//! carry it before guildhall's roles (`token::Additions`).
use super::matrix::Synapse;
use crate::config::SynapseConfig;
use crate::model::{ClientInfo, MembershipContext};
use crate::service::Result;
use crate::service::auth::{AuthService, Grant, Login, Registration};
use crate::service::authn::Authenticator;
use crate::service::authz::Caller;
use crate::service::change::{Actor, Audit, Changes};
use crate::store::{self, Db};
use crate::token::{AccessClaims, Additions, Issuer};
use std::sync::Arc;
use uuid::Uuid;

pub struct DaarionService {
    db: Db,
    changes: Changes,
    authn: Arc<Authenticator>,
    auth: Arc<AuthService>,
    tokens: Arc<Issuer>,
    synapse: Option<Synapse>,
}

/// The role seed 000 gives every account.
pub const USER_ROLE: &str = "user";

/// Seed 000's roles: `user`, then guildhall's.
pub fn roles(roles: &[String]) -> Vec<String> {
    std::iter::once(USER_ROLE.to_owned())
        .chain(roles.iter().filter(|r| *r != USER_ROLE).cloned())
        .collect()
}

/// A grant and the user's Matrix id (`None` without Synapse, or when provisioning failed).
pub struct DaarionGrant {
    pub grant: Grant,
    pub matrix_user_id: Option<String>,
}

impl DaarionService {
    pub fn new(
        db: Db,
        changes: Changes,
        authn: Arc<Authenticator>,
        auth: Arc<AuthService>,
        tokens: Arc<Issuer>,
        synapse: Option<&SynapseConfig>,
    ) -> anyhow::Result<Self> {
        let synapse = synapse.map(Synapse::new).transpose()?;
        Ok(Self {
            db,
            changes,
            authn,
            auth,
            tokens,
            synapse,
        })
    }

    pub async fn register(&self, input: Registration, client: ClientInfo) -> Result<DaarionGrant> {
        let grant = self.with_user_role(self.auth.register(input, client.clone()).await?)?;
        let matrix_user_id = match &self.synapse {
            Some(synapse) => self.provision(synapse, &grant.context, client).await,
            None => None,
        };
        Ok(DaarionGrant { grant, matrix_user_id })
    }

    pub async fn login(&self, input: Login, client: ClientInfo) -> Result<DaarionGrant> {
        let grant = self.auth.login(input, client).await?;
        self.with_matrix(self.with_user_role(grant)?).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<DaarionGrant> {
        let grant = self.auth.refresh(refresh_token, None).await?;
        self.with_matrix(self.with_user_role(grant)?).await
    }

    pub async fn me(&self, caller: &Caller) -> Result<(Arc<MembershipContext>, Option<String>)> {
        let context = self.authn.current(caller.user_id, caller.org_id).await?;
        let matrix = store::compat::matrix_user_id(&self.db, caller.user_id).await?;
        Ok((context, matrix))
    }

    /// A live user access token's claims with the user's current context, in any organisation;
    /// `None` otherwise.
    pub async fn introspect(&self, token: &str) -> Result<Option<(AccessClaims, Arc<MembershipContext>)>> {
        Ok(self
            .authn
            .introspect(token, None)
            .await?
            .and_then(|found| Some((found.claims, found.context?))))
    }

    /// The grant's access token minted again with `user` in `roles` (the first was never handed
    /// out).
    fn with_user_role(&self, mut grant: Grant) -> Result<Grant> {
        let additions = Additions {
            roles: vec![USER_ROLE.to_owned()],
            ..Additions::default()
        };
        let token = self
            .tokens
            .user_token_with(&grant.context, &grant.session, &additions)?;
        grant.access_token = token.token;
        grant.expires_in = token.expires_in;
        Ok(grant)
    }

    async fn with_matrix(&self, grant: Grant) -> Result<DaarionGrant> {
        let matrix_user_id = store::compat::matrix_user_id(&self.db, grant.context.user.id).await?;
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
        let mut change = self.changes.begin().await?;
        store::compat::insert_matrix_account(change.tx(), user_id, matrix_user_id, change.now()).await?;
        let actor = Actor {
            id: Some(user_id),
            name: None,
            ip: client.ip,
        };
        change.audit(
            Audit::new(&actor, "user.matrix.provision")
                .org(org_id)
                .target("user", user_id)
                .detail(serde_json::json!({"matrix_user_id": matrix_user_id})),
        );
        change.commit().await
    }
}
