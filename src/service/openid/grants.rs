//! The token endpoint's grants (authorization code, refresh token, client credentials, device
//! code), the ID token, userinfo (OIDC Core §5.3), revocation (RFC 7009) and introspection
//! (RFC 7662) for clients.
//!
//! An authorization code works once, within a minute, for the client, redirect URI and PKCE
//! verifier it was issued for; presented again, it ends the session its tokens belong to
//! (RFC 6749 §4.1.2, RFC 9700 §4.2.4). Refresh tokens rotate with reuse detection
//! (`AuthService::refresh_for`) and only the client they were issued to may refresh them.
use super::client_auth::Client;
use super::{OAuthError, OAuthResult, OpenIdProvider};
use crate::crypto;
use crate::model::{Application, ClientInfo, GrantType, MembershipContext, Session, TokenGrant};
use crate::service::auth::{Grant, SessionStart};
use crate::service::authn::{Introspected, Subject};
use crate::service::change::SessionsOf;
use crate::service::{Result, ServiceError};
use crate::store;
use crate::token::id_token::{self, IdClaims};
use crate::token::{AccessClaims, OrgClaim};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use uuid::Uuid;

/// What a code (or an approved device authorization) stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CodeGrant {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub browser_session_id: Option<Uuid>,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scopes: Vec<String>,
    pub resource: Option<String>,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: String,
}

/// A token request's parameters (RFC 6749 §4.1.3, §6, §4.4; RFC 8628 §3.4; RFC 8707).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub device_code: Option<String>,
}

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Clone, Serialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The answer to revoking a client-credentials access token (RFC 7009 §2.2.1).
const UNREVOCABLE: OAuthError = OAuthError::Refused {
    error: "unsupported_token_type",
    description: Cow::Borrowed(
        "access tokens of the client-credentials grant have no session and cannot be revoked; they expire with their lifetime",
    ),
};

/// Userinfo's claims (OIDC Core §5.3.2).
pub type UserInfo = Map<String, Value>;

fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed && URL_SAFE_NO_PAD.encode(crypto::sha256(verifier.as_bytes())) == challenge
}

impl OpenIdProvider {
    /// `POST /oauth2/token`.
    pub async fn token(&self, client: Client, request: TokenRequest, from: ClientInfo) -> OAuthResult<TokenAnswer> {
        let grant_type = request
            .grant_type
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
        let grant = GrantType::parse(grant_type)
            .ok_or_else(|| OAuthError::new("unsupported_grant_type", "the grant type is not supported"))?;
        let app = match (&client, grant) {
            (Client::Service(account), GrantType::ClientCredentials) => {
                let issued = self.accounts.token_for(account).await?;
                return Ok(TokenAnswer {
                    access_token: issued.access_token,
                    token_type: "Bearer",
                    expires_in: issued.expires_in,
                    refresh_token: None,
                    id_token: None,
                    scope: Some(issued.scope),
                });
            }
            (Client::Service(_), _) => {
                return Err(OAuthError::new(
                    "unauthorized_client",
                    "service accounts use the client_credentials grant",
                ));
            }
            (Client::App(app), grant) if app.allows(grant) => app,
            (Client::App(_), _) => {
                return Err(OAuthError::new(
                    "unauthorized_client",
                    "this application may not use this grant type",
                ));
            }
        };
        match grant {
            GrantType::AuthorizationCode => self.code_grant(app, request, from).await,
            GrantType::RefreshToken => self.refresh_grant(app, request).await,
            GrantType::ClientCredentials => self.app_credentials(app, request).await,
            GrantType::DeviceCode => self.device_grant(app, request, from).await,
        }
    }

    async fn code_grant(&self, app: &Application, request: TokenRequest, from: ClientInfo) -> OAuthResult<TokenAnswer> {
        let code = request
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        let digest = crypto::token_digest(code);
        let now = self.changes.now();
        let stored = store::provider::find_code(&self.db, &digest)
            .await?
            .filter(|c| c.client_id == app.client_id)
            .ok_or_else(|| OAuthError::invalid_grant("the code is unknown, expired or another client's"))?;
        if stored.used_at.is_some() {
            self.replayed(&digest).await?;
            return Err(OAuthError::invalid_grant(
                "the code was already used; the tokens issued from it are revoked",
            ));
        }
        if stored.expires_at <= now {
            return Err(OAuthError::invalid_grant("the code has expired"));
        }
        let grant: CodeGrant = serde_json::from_str(&stored.grant).map_err(|e| ServiceError::Internal(e.into()))?;
        if request.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri must be the one the code was issued for",
            ));
        }
        match (&grant.code_challenge, &request.code_verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
            (Some(_), Some(_)) => return Err(OAuthError::invalid_grant("the code_verifier does not match")),
            (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "code_verifier sent, but the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        let context = self.context_for(&grant).await?;
        let mut change = self.changes.begin().await?;
        let start = self.session_start(app, &grant, from);
        let issued = self.auth.start_session(&mut change, context, start).await?;
        if !store::provider::spend_code(change.tx(), &digest, issued.session.id, now).await? {
            drop(change);
            self.replayed(&digest).await?;
            return Err(OAuthError::invalid_grant(
                "the code was already used; the tokens issued from it are revoked",
            ));
        }
        change.commit().await?;
        self.answer(app, issued, grant.nonce).map_err(OAuthError::from)
    }

    /// A spent code came back: the session its tokens belong to ends.
    async fn replayed(&self, digest: &str) -> Result<()> {
        if let Some(session) = store::provider::find_code(&self.db, digest)
            .await?
            .and_then(|c| c.session_id)
        {
            let mut change = self.changes.begin().await?;
            change
                .end_sessions(SessionsOf::Session(session), "authorization_code_replay")
                .await?;
            change.commit().await?;
            tracing::warn!(session = %session, "authorization code replayed; its session is revoked");
        }
        Ok(())
    }

    /// The user's context for a code's organisation; gone memberships refuse the grant.
    async fn context_for(&self, grant: &CodeGrant) -> OAuthResult<MembershipContext> {
        match self.authn.context(grant.user_id, grant.org_id).await? {
            Ok(context) => Ok((*context).clone()),
            Err(_) => Err(OAuthError::invalid_grant(
                "the account, its membership or its organisation is no longer active",
            )),
        }
    }

    fn session_start(&self, app: &Application, grant: &CodeGrant, from: ClientInfo) -> SessionStart {
        SessionStart {
            client: from,
            methods: grant.amr.clone(),
            auth_time: DateTime::<Utc>::from_timestamp(grant.auth_time, 0),
            client_id: Some(app.client_id.clone()),
            browser_session_id: grant.browser_session_id,
            grant: TokenGrant {
                scope: (!grant.scopes.is_empty()).then(|| grant.scopes.join(" ")),
                audience: grant.resource.clone(),
                access_ttl: app.access_token_ttl,
                refresh_ttl: app.refresh_token_ttl,
            },
        }
    }

    /// The token response for a session's new tokens.
    fn answer(&self, app: &Application, issued: Grant, nonce: Option<String>) -> Result<TokenAnswer> {
        let scopes: Vec<&str> = issued
            .session
            .grant
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let id_token = if scopes.contains(&"openid") {
            Some(self.id_token(
                app,
                &issued.session,
                &issued.context,
                nonce,
                &issued.access_token,
                &scopes,
            )?)
        } else {
            None
        };
        Ok(TokenAnswer {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            refresh_token: app.allows(GrantType::RefreshToken).then_some(issued.refresh_token),
            id_token,
            scope: issued.session.grant.scope.clone(),
        })
    }

    fn id_token(
        &self,
        app: &Application,
        session: &Session,
        context: &MembershipContext,
        nonce: Option<String>,
        access_token: &str,
        scopes: &[&str],
    ) -> Result<String> {
        let ring = self.keys.current();
        let key = id_token::key_for(&ring, app.id_token_alg.as_deref());
        let now = self.changes.now().timestamp();
        let ttl = app
            .access_token_ttl
            .unwrap_or(self.config.access_token_ttl.num_seconds());
        let user = &context.user;
        let profile = scopes.contains(&"profile");
        let email = scopes.contains(&"email");
        let claims = IdClaims {
            iss: self.config.issuer.clone(),
            sub: user.id,
            aud: app.client_id.clone(),
            azp: app.client_id.clone(),
            exp: now + ttl,
            iat: now,
            auth_time: session.auth.time.map(|t| t.timestamp()),
            nonce,
            acr: Some(session.auth.acr().to_owned()),
            amr: session.auth.methods.clone(),
            sid: session.browser_session_id.unwrap_or(session.id),
            at_hash: Some(id_token::at_hash(key.algorithm, access_token)),
            email: email.then(|| user.email.clone()),
            email_verified: email.then_some(user.email_verified),
            name: profile.then(|| user.display_name.clone()),
            preferred_username: if profile { user.username.clone() } else { None },
            org: OrgClaim {
                id: context.org.id,
                slug: context.org.slug.clone(),
            },
        };
        Ok(id_token::sign(&key, &claims)?)
    }

    async fn refresh_grant(&self, app: &Application, request: TokenRequest) -> OAuthResult<TokenAnswer> {
        let token = request
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        let issued = self.auth.refresh_for(token, None, Some(&app.client_id)).await?;
        if let Some(asked) = request.scope.as_deref() {
            let granted: Vec<&str> = issued
                .session
                .grant
                .scope
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            if asked.split_whitespace().any(|s| !granted.contains(&s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "a refresh cannot widen the scopes granted",
                ));
            }
        }
        self.answer(app, issued, None).map_err(OAuthError::from)
    }

    /// An application's own token (client credentials): `sub` is the application, there is no
    /// user and no session; its organisation's id and slug are in `org`.
    async fn app_credentials(&self, app: &Application, request: TokenRequest) -> OAuthResult<TokenAnswer> {
        let asked: Vec<&str> = request
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let allowed = app.allowed_scopes();
        if asked.iter().any(|s| !allowed.contains(s) || *s == "openid") {
            return Err(OAuthError::new(
                "invalid_scope",
                "a scope is not allowed for this application",
            ));
        }
        if request
            .resource
            .as_deref()
            .is_some_and(|r| !app.resources.iter().any(|x| x == r))
        {
            return Err(OAuthError::new(
                "invalid_target",
                "the resource is not registered for this application",
            ));
        }
        let org = store::orgs::find(&self.db, app.org_id)
            .await?
            .filter(|o| o.active)
            .ok_or_else(OAuthError::invalid_client)?;
        let scope = (!asked.is_empty()).then(|| asked.join(" "));
        let access = self
            .tokens
            .app_token(app, &org.slug, scope.clone(), request.resource.clone())
            .map_err(ServiceError::from)?;
        Ok(TokenAnswer {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
            refresh_token: None,
            id_token: None,
            scope,
        })
    }

    async fn device_grant(
        &self,
        app: &Application,
        request: TokenRequest,
        from: ClientInfo,
    ) -> OAuthResult<TokenAnswer> {
        let code = request
            .device_code
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
        let digest = crypto::token_digest(code);
        let now = self.changes.now();
        let device = store::provider::device_by_code(&self.db, &digest)
            .await?
            .filter(|d| d.client_id == app.client_id)
            .ok_or_else(|| OAuthError::invalid_grant("the device code is unknown or another client's"))?;
        if device.expires_at <= now {
            return Err(OAuthError::new("expired_token", "the device code has expired"));
        }
        match device.status.as_str() {
            "pending" => {
                let too_soon = device
                    .last_polled_at
                    .is_some_and(|at| (now - at).num_seconds() < device.interval);
                store::provider::polled(&self.db, &digest, now).await?;
                if too_soon {
                    store::provider::slow_down(&self.db, &digest, device.interval + 5).await?;
                    return Err(OAuthError::new("slow_down", "poll less often"));
                }
                return Err(OAuthError::new(
                    "authorization_pending",
                    "the user has not answered yet",
                ));
            }
            "denied" => return Err(OAuthError::new("access_denied", "the user refused")),
            "approved" => {}
            _ => return Err(OAuthError::invalid_grant("the device code was already used")),
        }
        let grant: CodeGrant = device
            .grant
            .as_deref()
            .and_then(|g| serde_json::from_str(g).ok())
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("an approved device authorization has no grant")))?;
        let context = self.context_for(&grant).await?;
        let mut change = self.changes.begin().await?;
        if !store::provider::settle_device(change.tx(), &digest, "approved", "used", None).await? {
            return Err(OAuthError::invalid_grant("the device code was already used"));
        }
        let start = self.session_start(app, &grant, from);
        let issued = self.auth.start_session(&mut change, context, start).await?;
        change.commit().await?;
        self.answer(app, issued, None).map_err(OAuthError::from)
    }

    /// `GET|POST /oauth2/userinfo`: the claims the token's scopes allow (all of them for a token
    /// of guildhall's own API, which has no scopes).
    pub async fn userinfo(&self, token: &str) -> Result<UserInfo> {
        let principal = self.authn.principal_for_any_audience(token).await?;
        let Subject::User { user_id, .. } = principal.subject else {
            return Err(ServiceError::Forbidden(
                "user_token_required",
                "userinfo needs a user's token",
            ));
        };
        let context = self.authn.current(user_id, principal.org_id).await?;
        let claims = jsonwebtoken::dangerous::insecure_decode_claims::<AccessClaims>(token)
            .map_err(|_| ServiceError::InvalidToken(crate::token::VerifyError::Malformed))?;
        let scopes: Option<Vec<&str>> = claims.scope.as_deref().map(|s| s.split_whitespace().collect());
        let allows = |scope: &str| scopes.as_ref().is_none_or(|s| s.contains(&scope));
        let user = &context.user;
        let mut info = Map::new();
        info.insert("sub".into(), json!(user.id));
        if allows("profile") {
            info.insert("name".into(), json!(user.display_name));
            if let Some(username) = &user.username {
                info.insert("preferred_username".into(), json!(username));
            }
            info.insert("updated_at".into(), json!(user.updated_at.timestamp()));
        }
        if allows("email") {
            info.insert("email".into(), json!(user.email));
            info.insert("email_verified".into(), json!(user.email_verified));
        }
        info.insert("org".into(), json!({"id": context.org.id, "slug": context.org.slug}));
        info.insert("roles".into(), json!(context.roles));
        Ok(info)
    }

    /// `POST /oauth2/revoke` (RFC 7009): a refresh or access token the client holds ends its
    /// session. Unknown tokens and other clients' tokens are answered the same (200, nothing
    /// done), so the endpoint tells nobody anything.
    /// An access token of the client-credentials grant has no session to end: revoking one of
    /// the client's own is answered `unsupported_token_type` (RFC 7009 §2.2.1) rather than a
    /// 200 that changes nothing; it expires with its short lifetime.
    pub async fn revoke(&self, client: &Client, token: &str) -> OAuthResult<()> {
        let client_id = client.client_id();
        let mut session = None;
        if let Some(stored) = store::sessions::find_refresh(&self.db, &crypto::token_digest(token)).await? {
            session = store::sessions::find(&self.db, stored.session_id).await?;
        } else if let Ok(principal) = self.authn.principal_for_any_audience(token).await {
            match principal.subject {
                Subject::User { session_id, .. } => session = store::sessions::find(&self.db, session_id).await?,
                Subject::Application { app_id } if matches!(client, Client::App(app) if app.id == app_id) => {
                    return Err(UNREVOCABLE);
                }
                Subject::Service { account_id } if matches!(client, Client::Service(a) if a.id == account_id) => {
                    return Err(UNREVOCABLE);
                }
                _ => {}
            }
        }
        if let Some(session) = session.filter(|s| s.client_id.as_deref() == Some(client_id)) {
            let mut change = self.changes.begin().await?;
            change
                .end_sessions(SessionsOf::Session(session.id), "revoked_by_client")
                .await?;
            change.commit().await?;
        }
        Ok(())
    }

    /// `POST /oauth2/introspect` (RFC 7662) for confidential clients: tokens of the client's
    /// organisation only. Service accounts need the `introspect` permission (as on
    /// `/auth/introspect`).
    pub async fn introspect(&self, client: &Client, token: &str) -> OAuthResult<Option<Introspected>> {
        match client {
            Client::App(app) if app.is_public() => {
                return Err(OAuthError::new(
                    "unauthorized_client",
                    "public clients cannot introspect tokens",
                ));
            }
            Client::Service(account) if !account.permissions.iter().any(|p| p == "introspect" || p == "*") => {
                return Err(OAuthError::new(
                    "unauthorized_client",
                    "introspection needs a service account with the introspect permission",
                ));
            }
            _ => {}
        }
        Ok(self.authn.introspect_any_audience(token, Some(client.org_id())).await?)
    }
}
