//! Sessions: starting one (and minting its tokens), ending them (logout by access or refresh
//! token, logout everywhere, revoking one of one's own), listing them. Every revocation goes
//! through `Change::end_sessions`, so every replica refuses the session's tokens at once.
use super::{AuthService, Grant};
use crate::crypto;
use crate::model::{Authentication, ClientInfo, MembershipContext, Page, PageRequest, Session, SessionId, TokenGrant};
use crate::service::authz::Caller;
use crate::service::change::{Actor, Audit, Change, Event, SessionsOf};
use crate::service::mfa::{API_FLOW, Purpose};
use crate::service::{Result, SecondFactor, ServiceError, no_randomness};
use crate::store::{self, Conn};
use serde_json::json;
use uuid::Uuid;

/// What a new session is: who asked for it from where, how the user authenticated, and (for an
/// application's session) its client, browser session and token grant.
#[derive(Debug, Default)]
pub struct SessionStart {
    pub client: ClientInfo,
    pub methods: Vec<String>,
    /// When the user authenticated (a browser session's login); now when unset.
    pub auth_time: Option<chrono::DateTime<chrono::Utc>>,
    pub client_id: Option<String>,
    pub browser_session_id: Option<Uuid>,
    pub grant: TokenGrant,
}

impl SessionStart {
    /// A session of guildhall's own API, started by `methods` (`pwd`, `fed`).
    pub fn api(client: ClientInfo, methods: &[&str]) -> Self {
        Self {
            client,
            methods: methods.iter().map(|m| m.to_string()).collect(),
            ..Self::default()
        }
    }
}

/// When a refresh token issued for `session` now expires: its grant's lifetime, or `default`,
/// and never after the session.
pub(super) fn refresh_expiry(
    session: &Session,
    now: chrono::DateTime<chrono::Utc>,
    default: chrono::Duration,
) -> chrono::DateTime<chrono::Utc> {
    let ttl = session.grant.refresh_ttl.map_or(default, chrono::Duration::seconds);
    (now + ttl).min(session.expires_at)
}

impl AuthService {
    /// Starts a session for `context` inside a change, with its first tokens.
    pub(crate) async fn start_session(
        &self,
        change: &mut Change,
        context: MembershipContext,
        start: SessionStart,
    ) -> Result<Grant> {
        let now = change.now();
        let session = Session {
            id: Uuid::now_v7(),
            user_id: context.user.id,
            org_id: context.org.id,
            user_agent: start.client.user_agent.map(|ua| ua.chars().take(255).collect()),
            ip: start.client.ip,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.config.session_max_lifetime,
            revoked_at: None,
            client_id: start.client_id,
            browser_session_id: start.browser_session_id,
            auth: Authentication {
                time: Some(start.auth_time.unwrap_or(now)),
                methods: start.methods,
            },
            grant: start.grant,
        };
        let cap = self.config.limits.max_sessions_per_user;
        let live = store::sessions::count_live(change.tx(), session.user_id, now).await?;
        if live >= cap {
            // The oldest make room (AUTH_MAX_SESSIONS_PER_USER).
            let oldest = store::sessions::oldest_live(change.tx(), session.user_id, now, live + 1 - cap).await?;
            for id in oldest {
                change.end_sessions(SessionsOf::Session(id), "session_limit").await?;
            }
        }
        store::sessions::insert(change.tx(), &session).await?;
        store::users::record_login(change.tx(), context.user.id, context.org.id, now).await?;
        let grant = self.issue(change.tx(), context, &session).await?;
        change.event(
            session.org_id,
            Event::SessionCreated {
                session: session.clone(),
            },
        );
        Ok(grant)
    }

    /// Mints an access token and a new refresh token for `session`; neither outlives it.
    pub(super) async fn issue<C: Conn>(&self, c: &C, context: MembershipContext, session: &Session) -> Result<Grant> {
        let now = self.changes.now();
        let refresh_token = crypto::random_token().map_err(no_randomness)?;
        let expires_at = refresh_expiry(session, now, self.config.refresh_token_ttl);
        let digest = crypto::token_digest(&refresh_token);
        store::sessions::insert_refresh(c, session.id, digest, now, expires_at).await?;
        self.grant(context, session.clone(), refresh_token)
    }

    /// Signs the access token of a grant whose refresh token is stored already.
    pub(super) fn grant(&self, context: MembershipContext, session: Session, refresh_token: String) -> Result<Grant> {
        let access = self.tokens.user_token(&context, &session)?;
        Ok(Grant {
            access_token: access.token,
            refresh_token,
            expires_in: access.expires_in,
            context,
            session,
        })
    }

    /// `POST /auth/oidc/exchange`: an external login's one-time code for a session's tokens.
    pub async fn exchange_oidc_code(&self, code: &str, client: ClientInfo) -> Result<Grant> {
        let now = self.changes.now();
        let grant = store::oidc::take_code(&self.db, &crypto::token_digest(code), now)
            .await?
            .ok_or(ServiceError::InvalidGrant(
                "the code is unknown, expired or already used",
            ))?;
        let context = (*self.authn.current(grant.user_id, grant.org_id).await?).clone();
        // The provider's login is one factor here: an account with its own second factor (or
        // a member of an organisation that requires one) takes the same second step as after
        // a password (`mfa_required` / `mfa_enrollment_required`).
        let status = self.mfa.status(grant.user_id).await?;
        if status.any() || context.org.require_mfa {
            let purpose = if status.any() { Purpose::Verify } else { Purpose::Enroll };
            let org = Some(context.org.slug.clone());
            let token = self
                .mfa
                .challenge(grant.user_id, purpose, API_FLOW, org, &["fed"])
                .await?;
            return Err(ServiceError::SecondFactor(match purpose {
                Purpose::Verify => SecondFactor::Required {
                    token,
                    methods: status.methods(),
                },
                Purpose::Enroll => SecondFactor::EnrollmentRequired { token },
            }));
        }
        let mut change = self.changes.begin().await?;
        let actor = Actor::user(grant.user_id, &context.user.email, client.ip.clone());
        change.audit(
            Audit::new(&actor, "login")
                .org(grant.org_id)
                .detail(json!({"method": "oidc", "provider": grant.provider_slug})),
        );
        let issued = self
            .start_session(&mut change, context, SessionStart::api(client, &["fed"]))
            .await?;
        change.commit().await?;
        Ok(issued)
    }

    /// Ends the caller's session.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        self.end(SessionsOf::Session(caller.session_id), "logout")
            .await
            .map(|_| ())
    }

    /// Ends the session a refresh token belongs to; unknown tokens are ignored (RFC 7009 §2.2).
    pub async fn logout_with_refresh(&self, refresh_token: &str) -> Result<()> {
        let digest = crypto::token_digest(refresh_token);
        if let Some(stored) = store::sessions::find_refresh(&self.db, &digest).await? {
            self.end(SessionsOf::Session(stored.session_id), "logout").await?;
        }
        Ok(())
    }

    /// Ends every session of the caller; returns how many.
    pub async fn logout_all(&self, caller: &Caller) -> Result<u64> {
        self.end(SessionsOf::User(caller.user_id), "logout_all").await
    }

    /// The caller's live sessions, newest first.
    pub async fn sessions(&self, caller: &Caller, page: PageRequest) -> Result<Page<Session>> {
        Ok(store::sessions::list_live(&self.db, caller.user_id, self.changes.now(), page).await?)
    }

    /// Revokes one of the caller's own sessions; another user's session is "not found".
    pub async fn revoke_session(&self, caller: &Caller, id: SessionId) -> Result<()> {
        match store::sessions::find(&self.db, id.uuid()).await? {
            Some(s) if s.user_id == caller.user_id && s.is_live(self.changes.now()) => {
                self.end(SessionsOf::Session(s.id), "revoked_by_user").await.map(|_| ())
            }
            _ => Err(ServiceError::NotFound("session not found")),
        }
    }

    /// Ends sessions in a change of their own.
    async fn end(&self, whose: SessionsOf, reason: &str) -> Result<u64> {
        let mut change = self.changes.begin().await?;
        let count = change.end_sessions(whose, reason).await?;
        change.commit().await?;
        Ok(count)
    }
}
