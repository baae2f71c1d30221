//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and back-channel logout
//! (OpenID Connect Back-Channel Logout 1.0). Logging out ends the browser session and every
//! application session started from it; each application that registered a
//! `backchannel_logout_uri` is sent a logout token naming the user and the OP session (`sid`).
//!
//! An application may send the browser back only to one of its registered
//! `post_logout_redirect_uris`. Without a valid `id_token_hint` naming the browser's current
//! session the user confirms first (so a link on another site cannot log them out).
use super::OpenIdProvider;
use crate::model::Session;
use crate::service::Result;
use crate::token::id_token;
use serde::Deserialize;

#[derive(Debug, Default, Clone, Deserialize)]
pub struct LogoutQuery {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
    pub logout_hint: Option<String>,
    pub ui_locales: Option<String>,
}

#[derive(Debug)]
pub enum LogoutStep {
    /// Ask the user first; the form may lead to `targets` (the redirect's origin).
    Confirm {
        client_name: Option<String>,
        targets: Vec<String>,
    },
    /// Logged out: back to the application.
    Redirect(String),
    /// Logged out (or was not logged in), nowhere to go back to.
    LoggedOut,
    Error {
        title: &'static str,
        message: String,
    },
}

/// A checked logout request: where to go afterwards, and whether the hint names the session.
struct Checked {
    redirect: Option<String>,
    targets: Vec<String>,
    client_name: Option<String>,
    hinted_sid: Option<uuid::Uuid>,
}

impl OpenIdProvider {
    async fn check_logout(&self, q: &LogoutQuery) -> Result<std::result::Result<Checked, LogoutStep>> {
        let bad = |message: &str| {
            Ok(Err(LogoutStep::Error {
                title: "Cannot log out from here",
                message: message.to_owned(),
            }))
        };
        let hint = match q.id_token_hint.as_deref() {
            Some(token) => match id_token::read_hint(&self.keys.current(), &self.config.issuer, token) {
                Some(claims) => Some(claims),
                None => return bad("The application sent an ID token that guildhall did not issue."),
            },
            None => None,
        };
        let client_id = match (hint.as_ref().map(|h| h.aud.clone()), q.client_id.clone()) {
            (Some(a), Some(b)) if a != b => return bad("The ID token was issued to another application."),
            (a, b) => a.or(b),
        };
        let app = match client_id.as_deref() {
            Some(id) => self.app(id).await?,
            None => None,
        };
        let redirect = match (q.post_logout_redirect_uri.as_deref(), &app) {
            (None, _) => None,
            (Some(uri), Some(app)) if app.post_logout_redirect_uris.iter().any(|r| r == uri) => {
                let mut params = vec![];
                if let Some(state) = q.state.as_deref() {
                    params.push(("state", state));
                }
                Some(if params.is_empty() {
                    uri.to_owned()
                } else {
                    crate::service::with_query(uri, &params)
                })
            }
            (Some(_), _) => {
                return bad(
                    "The application asked to send you to an address it has not registered. You were not logged out.",
                );
            }
        };
        let targets = redirect.iter().map(|r| super::form_origin(r)).collect();
        Ok(Ok(Checked {
            redirect,
            targets,
            client_name: app.map(|a| a.name),
            hinted_sid: hint.map(|h| h.sid),
        }))
    }

    /// `GET|POST /oauth2/logout`: logs out at once when the hint names this browser's session,
    /// else asks.
    pub async fn logout_request(&self, q: &LogoutQuery, browser: Option<&str>) -> Result<LogoutStep> {
        let checked = match self.check_logout(q).await? {
            Ok(c) => c,
            Err(step) => return Ok(step),
        };
        let session = self.browser_session(browser).await?;
        match session {
            // No cookie came, but the hint names a live session: a cross-site POST, which the
            // browser sends without the SameSite=Lax cookie. The confirmation page's form is
            // same-site, so it carries the cookie and the logout happens there.
            None if self.hinted_session_is_live(checked.hinted_sid).await? => Ok(LogoutStep::Confirm {
                client_name: checked.client_name,
                targets: checked.targets,
            }),
            None => Ok(checked.redirect.map_or(LogoutStep::LoggedOut, LogoutStep::Redirect)),
            Some(s) if checked.hinted_sid == Some(s.id) => {
                self.log_out(&s).await?;
                Ok(checked.redirect.map_or(LogoutStep::LoggedOut, LogoutStep::Redirect))
            }
            Some(_) => Ok(LogoutStep::Confirm {
                client_name: checked.client_name,
                targets: checked.targets,
            }),
        }
    }

    /// The confirmation form: logs out.
    pub async fn logout_confirmed(&self, q: &LogoutQuery, browser: Option<&str>) -> Result<LogoutStep> {
        let checked = match self.check_logout(q).await? {
            Ok(c) => c,
            Err(step) => return Ok(step),
        };
        if let Some(session) = self.browser_session(browser).await? {
            self.log_out(&session).await?;
        }
        Ok(checked.redirect.map_or(LogoutStep::LoggedOut, LogoutStep::Redirect))
    }

    async fn hinted_session_is_live(&self, sid: Option<uuid::Uuid>) -> Result<bool> {
        Ok(match sid {
            Some(sid) => crate::store::provider::browser_session_is_live(&self.db, sid, self.changes.now()).await?,
            None => false,
        })
    }

    async fn log_out(&self, session: &crate::model::BrowserSession) -> Result<()> {
        let ended = self.end_browser_session(session, "logout").await?;
        self.notify_logout(session.user_id, session.id, ended).await;
        Ok(())
    }

    /// Sends a logout token to every application of the ended sessions that registered a
    /// back-channel URI; in the background, so a slow application does not hold the browser.
    async fn notify_logout(&self, user_id: uuid::Uuid, sid: uuid::Uuid, ended: Vec<Session>) {
        let mut clients: Vec<String> = ended.into_iter().filter_map(|s| s.client_id).collect();
        clients.sort();
        clients.dedup();
        let ring = self.keys.current();
        let now = self.changes.now().timestamp();
        for client_id in clients {
            let Ok(Some(app)) = self.app(&client_id).await else {
                continue;
            };
            let Some(uri) = app.backchannel_logout_uri.clone() else {
                continue;
            };
            let key = id_token::key_for(&ring, app.id_token_alg.as_deref());
            let token = match id_token::logout_token(&key, &self.config.issuer, &client_id, user_id, sid, now) {
                Ok(token) => token,
                Err(e) => {
                    tracing::error!(error = %e, "cannot sign a logout token");
                    continue;
                }
            };
            let http = self.http.clone();
            tokio::spawn(async move {
                let sent = http.post(&uri).form(&[("logout_token", token)]).send().await;
                match sent {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => tracing::warn!(client = client_id, status = %r.status(), "back-channel logout refused"),
                    Err(e) => tracing::warn!(client = client_id, error = %e, "back-channel logout failed"),
                }
            });
        }
    }
}
