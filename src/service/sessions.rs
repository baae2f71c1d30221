//! Ending sessions: logout (by access or refresh token), logout everywhere, listing and revoking
//! one's own sessions. Every revocation is journaled and broadcast to all replicas.
use super::Result;
use super::ServiceError;
use super::auth::AuthService;
use super::authz::Caller;
use crate::crypto;
use crate::model::Session;
use crate::store;
use uuid::Uuid;

impl AuthService {
    /// Ends the caller's session.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        self.end(vec![caller.session_id], "logout").await.map(|_| ())
    }

    /// Ends the session a refresh token belongs to; unknown tokens are ignored (RFC 7009 §2.2).
    pub async fn logout_with_refresh(&self, refresh_token: &str) -> Result<()> {
        let digest = crypto::token_digest(refresh_token);
        if let Some(stored) = store::sessions::find_refresh(&self.core.db, &digest).await? {
            self.end(vec![stored.session_id], "logout").await?;
        }
        Ok(())
    }

    /// Ends every session of the caller; returns how many.
    pub async fn logout_all(&self, caller: &Caller) -> Result<u64> {
        let ids = store::sessions::unrevoked_of_user(&self.core.db, caller.user_id).await?;
        self.end(ids, "logout_all").await
    }

    /// Ends sessions in a change of their own.
    async fn end(&self, ids: Vec<Uuid>, reason: &str) -> Result<u64> {
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let count = self.core.end_sessions(&tx, &mut journal, ids, reason).await?;
        self.core.commit(tx, journal).await?;
        Ok(count)
    }

    pub async fn sessions(&self, caller: &Caller) -> Result<Vec<Session>> {
        Ok(store::sessions::list_live(&self.core.db, caller.user_id, self.core.clock.now()).await?)
    }

    /// Revokes one of the caller's own sessions; another user's session is "not found".
    pub async fn revoke_session(&self, caller: &Caller, id: Uuid) -> Result<()> {
        let now = self.core.clock.now();
        match store::sessions::find(&self.core.db, id).await? {
            Some(s) if s.user_id == caller.user_id && s.is_live(now) => {
                self.end(vec![id], "revoked_by_user").await?;
                Ok(())
            }
            _ => Err(ServiceError::NotFound("session not found")),
        }
    }
}
