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
//!   queued meanwhile in one transaction, and each caller is answered after the commit. The
//!   group's plain rotations share five statements (`Rotation::run_group`: read the unspent
//!   tokens, read the sessions, spend the admitted tokens, mark their sessions used, insert the
//!   successors), so a group of 64 costs what one rotation did; a refused one (another
//!   client's token, an ended session) spends nothing, and the rightful client's next refresh
//!   still works. A switch, a reuse and the second presentation of a token in the same group
//!   run after them, each alone in a savepoint of its own (their statements as above).
use super::sessions::refresh_expiry;
use super::{AuthService, Grant};
use crate::crypto;
use crate::model::{MembershipContext, Session};
use crate::service::authn::Authenticator;
use crate::service::cache::Denial;
use crate::service::change::{Actor, Audit, Change, SessionsOf, Work};
use crate::service::{Result, ServiceError, no_randomness};
use crate::store;
use crate::store::sessions::{NewRefresh, Spent};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

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

const ENDED: ServiceError = ServiceError::InvalidGrant("the refresh token has expired or its session has ended");
const OTHER_CLIENT: ServiceError = ServiceError::InvalidGrant("the refresh token was issued to another client");

impl Rotation {
    /// What a spent token's rotation needs of its session: live, with the token unexpired, and
    /// the token's own client presenting it.
    fn admit(&self, spent: &Spent, session: Option<Session>, now: DateTime<Utc>) -> Result<Session> {
        let session = session
            .filter(|s| s.is_live(now) && spent.expires_at > now)
            .ok_or(ENDED)?;
        if session.client_id != self.client {
            return Err(OTHER_CLIENT);
        }
        Ok(session)
    }

    /// The user's context in the organisation the new tokens are for.
    async fn context(&self, user_id: Uuid, org_id: Uuid) -> Result<MembershipContext> {
        match self.authn.context(user_id, org_id).await? {
            Ok(context) => Ok((*context).clone()),
            Err(Denial::NotAMember) if self.organization.is_some() => Err(NOT_A_MEMBER),
            Err(_) => Err(ServiceError::InvalidGrant(
                "the account or its organisation is no longer active",
            )),
        }
    }
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
        let session = store::sessions::use_now(change.tx(), spent.session_id, now).await?;
        let session = self.admit(&spent, session, now)?;
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
        let context = self.context(session.user_id, org_id).await?;
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

    /// A group's plain rotations (no switch of organisation) in five statements however many
    /// there are: their unspent tokens and their sessions are read, each rotation is checked in
    /// memory as `run` checks it, and the admitted ones are spent, their sessions marked used
    /// and their successors inserted, each in one statement. A refused rotation spends nothing
    /// (as `run`'s rolled-back part). Everything else runs alone, each a part of its own, after
    /// them: a switch, a token spent before (reuse) or unknown, the second presentation of a
    /// token in the same group (it is reuse, as if it had come second), and a token another
    /// writer spent between the read and the spend (on SQLite the write lock rules that out).
    async fn run_group(group: Vec<Self>, change: &mut Change) -> Result<Vec<Result<Rotated>>> {
        let now = change.now();
        let digests: Vec<&str> = group
            .iter()
            .filter(|rotation| rotation.organization.is_none())
            .map(|rotation| rotation.presented.as_str())
            .collect();
        let mut unspent: HashMap<String, Spent> = store::sessions::unspent_refresh(change.tx(), &digests)
            .await?
            .into_iter()
            .collect();
        let ids: HashSet<Uuid> = unspent.values().map(|spent| spent.session_id).collect();
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let sessions: HashMap<Uuid, Session> = store::sessions::find_many(change.tx(), &ids)
            .await?
            .into_iter()
            .map(|session| (session.id, session))
            .collect();

        let mut answers: Vec<Option<Result<Rotated>>> = std::iter::repeat_with(|| None).take(group.len()).collect();
        let mut alone = Vec::new();
        let mut admitted = Vec::new();
        for (i, rotation) in group.into_iter().enumerate() {
            // `remove`: a second presentation of the same token in this group runs alone.
            let spent = match rotation.organization {
                None => unspent.remove(&rotation.presented),
                Some(_) => None,
            };
            let Some(spent) = spent else {
                alone.push((i, rotation));
                continue;
            };
            let session = sessions.get(&spent.session_id).cloned();
            let checked = match rotation.admit(&spent, session, now) {
                Ok(session) => rotation
                    .context(session.user_id, session.org_id)
                    .await
                    .map(|c| (session, c)),
                Err(e) => Err(e),
            };
            match checked {
                Ok((session, context)) => admitted.push((i, rotation, session, context)),
                Err(e) => answers[i] = Some(Err(e)),
            }
        }

        let presented: Vec<&str> = admitted
            .iter()
            .map(|(_, rotation, ..)| rotation.presented.as_str())
            .collect();
        let spent: HashSet<String> = store::sessions::spend_many(change.tx(), &presented, now)
            .await?
            .into_iter()
            .collect();
        let mut used = Vec::with_capacity(admitted.len());
        let mut successors = Vec::with_capacity(admitted.len());
        for (i, rotation, session, context) in admitted {
            if !spent.contains(&rotation.presented) {
                alone.push((i, rotation));
                continue;
            }
            used.push(session.id);
            successors.push(NewRefresh {
                session_id: session.id,
                digest: rotation.next,
                expires_at: refresh_expiry(&session, now, rotation.default_ttl),
            });
            let session = Session {
                last_used_at: now,
                ..session
            };
            answers[i] = Some(Ok(Rotated::Issued(Box::new(Issued { context, session }))));
        }
        store::sessions::use_many(change.tx(), &used, now).await?;
        store::sessions::insert_refresh_many(change.tx(), successors, now).await?;

        alone.sort_by_key(|(i, _)| *i);
        for (i, rotation) in alone {
            answers[i] = Some(change.part(rotation).await?);
        }
        Ok(answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| Err(ServiceError::Internal(anyhow::anyhow!("a rotation went unanswered"))))
            })
            .collect())
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
