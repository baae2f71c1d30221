//! From a bearer token to who is calling: the caller of a user route, `/auth/me`, and
//! `/auth/validate` (current memberships, or the stable reason a token is refused).
use super::Result;
use super::ServiceError;
use super::auth::AuthService;
use super::authz::Caller;
use super::core::{Subject, denied};
use crate::model::MembershipContext;
use std::sync::Arc;

impl AuthService {
    /// The caller as things stand now (not as the token says).
    pub async fn me(&self, caller: &Caller) -> Result<Arc<MembershipContext>> {
        self.core.context(caller.user_id, caller.org_id).await?.map_err(denied)
    }

    /// A bearer token's user, for routes that act for a user.
    pub async fn caller(&self, token: &str) -> Result<Caller> {
        let principal = self.core.authenticate(token).await?;
        let Subject::User { user_id, session_id } = principal.subject else {
            return Err(ServiceError::Forbidden(
                "user_token_required",
                "this route needs a user's token",
            ));
        };
        let context = self.core.context(user_id, principal.org_id).await?.map_err(denied)?;
        Ok(Caller::new(&context, session_id))
    }

    /// `/auth/validate`: the token's user with their *current* memberships, or the stable reason
    /// the token is refused.
    pub async fn validate(&self, token: &str) -> Result<std::result::Result<Arc<MembershipContext>, &'static str>> {
        let principal = match self.core.authenticate(token).await {
            Ok(p) => p,
            Err(ServiceError::InvalidToken(reason)) => return Ok(Err(reason.code())),
            Err(e) => return Err(e),
        };
        let Subject::User { user_id, .. } = principal.subject else {
            return Ok(Err("not_a_user_token"));
        };
        Ok(self
            .core
            .context(user_id, principal.org_id)
            .await?
            .map_err(|d| d.code()))
    }
}
