//! Refresh rotation: each refresh token works once; a token presented a second time is reuse,
//! and the whole session is revoked (RFC 9700 §4.14), whoever presented it first.
use super::{AuthService, Grant};
use crate::crypto;
use crate::model::Session;
use crate::service::cache::Denial;
use crate::service::change::{Actor, Audit, SessionsOf};
use crate::service::{Result, ServiceError};
use crate::store;

const NOT_A_MEMBER: ServiceError = ServiceError::Forbidden("not_a_member", "not a member of this organisation");
const MFA_REQUIRED_THERE: ServiceError = ServiceError::Forbidden(
    "mfa_required_by_organization",
    "the organisation requires a second factor: log in to it (with a second factor) instead of switching",
);

impl AuthService {
    /// Rotates a refresh token of guildhall's own API, optionally switching organisation.
    pub async fn refresh(&self, refresh_token: &str, organization: Option<&str>) -> Result<Grant> {
        self.refresh_for(refresh_token, organization, None).await
    }

    /// Rotates a refresh token issued to `client` (`None`: guildhall's own API; an application's
    /// tokens are refreshed by that application only, at the token endpoint). Spending the old
    /// token and issuing the new one are one transaction: a refused switch, another client's
    /// token or an ended session rolls the spend back, so the rightful client's next refresh
    /// still works.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn refresh_for(
        &self,
        refresh_token: &str,
        organization: Option<&str>,
        client: Option<&str>,
    ) -> Result<Grant> {
        let now = self.changes.now();
        let stored = store::sessions::find_refresh(&self.db, &crypto::token_digest(refresh_token))
            .await?
            .ok_or(ServiceError::InvalidGrant("the refresh token is invalid"))?;
        let change = self.changes.begin().await?;
        if !store::sessions::spend_refresh(change.tx(), stored.id, now).await? {
            // Another presentation won: this one is reuse. The change is dropped first (on SQLite
            // it holds the write lock the revocation needs).
            drop(change);
            self.reused(stored.session_id).await?;
            return Err(ServiceError::InvalidGrant(
                "the refresh token was already used; the session is revoked",
            ));
        }
        let session = store::sessions::find(change.tx(), stored.session_id)
            .await?
            .filter(|s| s.is_live(now) && stored.expires_at > now)
            .ok_or(ServiceError::InvalidGrant(
                "the refresh token has expired or its session has ended",
            ))?;
        if session.client_id.as_deref() != client {
            return Err(ServiceError::InvalidGrant(
                "the refresh token was issued to another client",
            ));
        }
        let org_id = match organization {
            Some(slug) => {
                let org = store::orgs::find_by_slug(change.tx(), slug)
                    .await?
                    .filter(|o| o.active)
                    .ok_or(NOT_A_MEMBER)?;
                // A session without a second factor cannot switch into an organisation that
                // requires one (the spend rolls back: the token still works where it was).
                if org.id != session.org_id && org.require_mfa && !session.auth.is_mfa() {
                    return Err(MFA_REQUIRED_THERE);
                }
                org.id
            }
            None => session.org_id,
        };
        let context = match self.authn.context(session.user_id, org_id).await? {
            Ok(context) => (*context).clone(),
            Err(Denial::NotAMember) if organization.is_some() => return Err(NOT_A_MEMBER),
            Err(_) => {
                return Err(ServiceError::InvalidGrant(
                    "the account or its organisation is no longer active",
                ));
            }
        };
        store::sessions::touch(change.tx(), session.id, org_id, now).await?;
        if org_id != session.org_id {
            // A switch: the next login goes to the organisation used last. A plain refresh is no
            // login, and writing the user's row on every one cost a statement per refresh.
            store::users::record_login(change.tx(), session.user_id, org_id, now).await?;
        }
        let session = Session { org_id, ..session };
        let grant = self.issue(change.tx(), context, &session).await?;
        change.commit().await?;
        Ok(grant)
    }

    /// A spent refresh token came back: the session ends.
    async fn reused(&self, session_id: uuid::Uuid) -> Result<()> {
        let mut change = self.changes.begin().await?;
        if let Some(session) = store::sessions::find(change.tx(), session_id).await? {
            let actor = Actor {
                id: Some(session.user_id),
                ..Actor::default()
            };
            change.audit(
                Audit::new(&actor, "refresh_token.reuse")
                    .org(session.org_id)
                    .target("session", session.id)
                    .outcome("failure"),
            );
        }
        change
            .end_sessions(SessionsOf::Session(session_id), "refresh_token_reuse")
            .await?;
        change.commit().await?;
        tracing::warn!(session = %session_id, "refresh token reuse; session revoked");
        Ok(())
    }
}
