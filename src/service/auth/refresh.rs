//! Refresh rotation: each refresh token works once; a token presented a second time is reuse,
//! and the whole session is revoked (RFC 9700 §4.14), whoever presented it first.
//!
//! Clients refresh all day, so a rotation is kept to what the rule needs, and the database
//! does little else:
//!
//! - the new refresh token is made, and the access token signed, outside the transaction (on
//!   SQLite outside the write lock every writer queues for);
//! - in the transaction, three statements: the presented token is spent by its digest
//!   (`UPDATE … WHERE token_hash = ? AND used_at IS NULL RETURNING …`: exactly one of any
//!   number of racing presentations gets the row), the session is marked used (`UPDATE …
//!   RETURNING *`, which also reads it), and the new token is inserted. Only when nothing was
//!   spent is the token looked up again, to tell reuse (the session ends, in the same
//!   transaction) from an unknown token. A switch of organisation adds its own statements;
//!   nothing writes the outbox or the audit log but reuse;
//! - rotations go through a `change::Group`: on SQLite one writer commits every rotation that
//!   queued meanwhile in one transaction, each a savepoint of its own, so a refused switch,
//!   another client's token or an ended session rolls back that rotation's spend alone (the
//!   rightful client's next refresh still works) and each caller is answered after the commit.
use super::sessions::refresh_expiry;
use super::{AuthService, Grant};
use crate::crypto;
use crate::model::{MembershipContext, Session};
use crate::service::authn::Authenticator;
use crate::service::cache::Denial;
use crate::service::change::{Actor, Audit, Change, SessionsOf, Work};
use crate::service::{Result, ServiceError, no_randomness};
use crate::store;
use std::sync::Arc;

const NOT_A_MEMBER: ServiceError = ServiceError::Forbidden("not_a_member", "not a member of this organisation");
const MFA_REQUIRED_THERE: ServiceError = ServiceError::Forbidden(
    "mfa_required_by_organization",
    "the organisation requires a second factor: log in to it (with a second factor) instead of switching",
);
const REUSED: ServiceError = ServiceError::InvalidGrant("the refresh token was already used; the session is revoked");

impl AuthService {
    /// Rotates a refresh token of guildhall's own API, optionally switching organisation.
    pub async fn refresh(&self, refresh_token: &str, organization: Option<&str>) -> Result<Grant> {
        self.refresh_for(refresh_token, organization, None).await
    }

    /// Rotates a refresh token issued to `client` (`None`: guildhall's own API; an application's
    /// tokens are refreshed by that application only, at the token endpoint). Spending the old
    /// token and storing the new one are one transaction (or one part of a grouped one): a
    /// refused switch, another client's token or an ended session rolls the spend back, so the
    /// rightful client's next refresh still works.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn refresh_for(
        &self,
        refresh_token: &str,
        organization: Option<&str>,
        client: Option<&str>,
    ) -> Result<Grant> {
        let next = crypto::random_token().map_err(no_randomness)?;
        let rotation = Rotation {
            presented: crypto::token_digest(refresh_token),
            next: crypto::token_digest(&next),
            organization: organization.map(str::to_owned),
            client: client.map(str::to_owned),
            authn: Arc::clone(&self.authn),
            default_ttl: self.config.refresh_token_ttl,
        };
        match self.rotations.run(rotation).await? {
            Rotated::Issued(issued) => self.grant(issued.context, issued.session, next),
            Rotated::Reused { session } => {
                tracing::warn!(%session, "refresh token reuse; session revoked");
                Err(REUSED)
            }
        }
    }
}

/// One rotation, run as a part of a grouped change.
pub(super) struct Rotation {
    /// The digest of the presented refresh token.
    presented: String,
    /// The digest of the refresh token that replaces it.
    next: String,
    organization: Option<String>,
    client: Option<String>,
    authn: Arc<Authenticator>,
    default_ttl: chrono::Duration,
}

/// What a rotation committed.
pub(super) enum Rotated {
    /// The token was spent and its successor stored: the access token is signed next.
    Issued(Box<Issued>),
    /// The token had been spent before: its session is revoked (an error to the caller, but a
    /// change that stands).
    Reused { session: uuid::Uuid },
}

/// The session (in the organisation of its new tokens) and its user's context there.
pub(super) struct Issued {
    context: MembershipContext,
    session: Session,
}

#[async_trait::async_trait]
impl Work for Rotation {
    type Output = Rotated;

    async fn run(self, change: &mut Change) -> Result<Rotated> {
        let now = change.now();
        let Some(spent) = store::sessions::spend_refresh(change.tx(), &self.presented, now).await? else {
            return match store::sessions::find_refresh(change.tx(), &self.presented).await? {
                Some(stored) => reused(change, stored.session_id).await,
                None => Err(ServiceError::InvalidGrant("the refresh token is invalid")),
            };
        };
        let session = store::sessions::use_now(change.tx(), spent.session_id, now)
            .await?
            .filter(|s| s.is_live(now) && spent.expires_at > now)
            .ok_or(ServiceError::InvalidGrant(
                "the refresh token has expired or its session has ended",
            ))?;
        if session.client_id != self.client {
            return Err(ServiceError::InvalidGrant(
                "the refresh token was issued to another client",
            ));
        }
        let org_id = match &self.organization {
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
            Err(Denial::NotAMember) if self.organization.is_some() => return Err(NOT_A_MEMBER),
            Err(_) => {
                return Err(ServiceError::InvalidGrant(
                    "the account or its organisation is no longer active",
                ));
            }
        };
        if org_id != session.org_id {
            // A switch: the session's tokens are for the new organisation from now on, and the
            // next login goes to the organisation used last. A plain refresh is no login, and
            // writing the user's row on every one cost a statement per refresh.
            store::sessions::touch(change.tx(), session.id, org_id, now).await?;
            store::users::record_login(change.tx(), session.user_id, org_id, now).await?;
        }
        let session = Session { org_id, ..session };
        let expires_at = refresh_expiry(&session, now, self.default_ttl);
        store::sessions::insert_refresh(change.tx(), session.id, self.next, now, expires_at).await?;
        Ok(Rotated::Issued(Box::new(Issued { context, session })))
    }
}

/// A spent refresh token came back: the session ends, in the change that noticed.
async fn reused(change: &mut Change, session_id: uuid::Uuid) -> Result<Rotated> {
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
    Ok(Rotated::Reused { session: session_id })
}
