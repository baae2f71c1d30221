//! The browser session: after one login on the hosted pages the browser holds the
//! `guildhall_session` cookie (a random token; the database keeps its SHA-256), and every
//! application it is sent to logs in without a password until the session ends or expires
//! (`AUTH_BROWSER_SESSION_TTL`). A login always starts a new one (the cookie is rotated, the old
//! session ends), so a cookie planted before the login is worthless after it.
use super::OpenIdProvider;
use crate::crypto;
use crate::model::BrowserSession;
use crate::service::change::{Actor, Audit, SessionsOf};
use crate::service::{Result, no_randomness};
use crate::store;
use uuid::Uuid;

/// What the response does to the browser's session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieChange {
    Keep,
    /// A new session: set the cookie to this value.
    Set(String),
    Clear,
}

impl OpenIdProvider {
    /// The live browser session the cookie names.
    pub async fn browser_session(&self, cookie: Option<&str>) -> Result<Option<BrowserSession>> {
        let Some(cookie) = cookie.filter(|c| !c.is_empty() && c.len() <= 128) else {
            return Ok(None);
        };
        Ok(store::provider::browser_session(&self.db, &crypto::token_digest(cookie), self.changes.now()).await?)
    }

    /// Starts a browser session for `user_id` authenticated by `methods`, ending `previous`.
    pub(super) async fn start_browser_session(
        &self,
        user_id: Uuid,
        methods: &[&str],
        previous: Option<&BrowserSession>,
        ip: Option<String>,
    ) -> Result<(BrowserSession, String)> {
        let now = self.changes.now();
        let token = crypto::random_token().map_err(no_randomness)?;
        let session = BrowserSession {
            id: Uuid::now_v7(),
            user_id,
            auth_time: now,
            amr: methods.iter().map(|m| m.to_string()).collect(),
            acr: crate::model::AuthMethods::from_names(methods.iter().copied())
                .acr()
                .to_owned(),
            expires_at: now + self.config.limits.browser_session_ttl,
        };
        let mut change = self.changes.begin().await?;
        if let Some(previous) = previous {
            store::provider::end_browser_session(change.tx(), previous.id, now).await?;
        }
        store::provider::insert_browser_session(change.tx(), &session, crypto::token_digest(&token), now).await?;
        let actor = Actor {
            id: Some(user_id),
            name: None,
            ip,
        };
        change.audit(
            Audit::new(&actor, "browser_session.start")
                .target("browser_session", session.id)
                .detail(serde_json::json!({"amr": session.amr})),
        );
        change.commit().await?;
        Ok((session, token))
    }

    /// Ends a browser session and every application session started from it.
    pub(super) async fn end_browser_session(
        &self,
        session: &BrowserSession,
        reason: &str,
    ) -> Result<Vec<crate::model::Session>> {
        let now = self.changes.now();
        let mut change = self.changes.begin().await?;
        store::provider::end_browser_session(change.tx(), session.id, now).await?;
        let ended = store::sessions::live_of_browser(change.tx(), session.id, now).await?;
        change.end_sessions(SessionsOf::Browser(session.id), reason).await?;
        change.commit().await?;
        Ok(ended)
    }
}
