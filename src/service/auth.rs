//! Accounts and sessions: registration, login, refresh rotation with reuse detection, logout,
//! and turning a bearer token into a `Principal`.
use super::validate::{self, Problems};
use super::{Result, ServiceError};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::{
    self,
    password::{self, Hasher},
};
use crate::model::{ClientInfo, MembershipContext, Organisation, Session, User};
use crate::store::{self, Conn, Db, StoreError};
use crate::token::claims::Issuance;
use crate::token::{AccessClaims, KeyStore, Verifier, VerifyError};
use secrecy::SecretString;
use std::sync::Arc;
use uuid::Uuid;

/// Who is calling: a verified access token whose session is live.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub org_id: Uuid,
    pub claims: AccessClaims,
}

pub struct Registration {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
    pub username: Option<String>,
    pub organization: Option<String>,
}

pub struct Login {
    pub login: String,
    pub password: String,
    pub organization: Option<String>,
}

/// Tokens for one session in one organisation.
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub context: MembershipContext,
}

pub struct AuthService {
    db: Db,
    config: Arc<Config>,
    clock: SharedClock,
    keys: Arc<KeyStore>,
    verifier: Verifier,
    hasher: Arc<Hasher>,
}

impl AuthService {
    pub fn new(
        db: Db,
        config: Arc<Config>,
        clock: SharedClock,
        keys: Arc<KeyStore>,
        hasher: Arc<Hasher>,
    ) -> Self {
        let verifier = Verifier::new(&config.issuer, &config.audience);
        Self {
            db,
            config,
            clock,
            keys,
            verifier,
            hasher,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    pub async fn ready(&self) -> Result<()> {
        store::ping(&self.db)
            .await
            .map_err(|e| ServiceError::Unavailable(e.into()))
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn register(&self, input: Registration, client: ClientInfo) -> Result<Grant> {
        if !self.config.allow_registration {
            return Err(ServiceError::Forbidden(
                "registration_disabled",
                "self-registration is disabled",
            ));
        }
        let mut problems = Problems::default();
        let email = problems.check("email", validate::email(&input.email));
        problems.check(
            "password",
            password::check_policy(&self.config.password_policy, &input.password),
        );
        let username = match input.username.as_deref() {
            Some(raw) => problems
                .check("username", validate::username(raw))
                .map(Some),
            None => Some(None),
        };
        let default_name = email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .unwrap_or_default()
            .to_owned();
        let name = problems.check(
            "name",
            validate::display_name(input.name.as_deref().unwrap_or(&default_name)),
        );
        problems.finish()?;
        let (Some(email), Some(username), Some(name)) = (email, username, name) else {
            return Err(ServiceError::Internal(anyhow::anyhow!(
                "validated fields missing"
            )));
        };
        let slug = input
            .organization
            .unwrap_or_else(|| self.config.default_org.clone());
        if slug != self.config.default_org {
            return Err(ServiceError::Forbidden(
                "registration_closed",
                "self-registration is open only for the default organisation",
            ));
        }
        let org = self
            .active_org(&slug)
            .await?
            .ok_or(ServiceError::Forbidden(
                "registration_closed",
                "self-registration is open only for the default organisation",
            ))?;
        let hash = self.hasher.hash(SecretString::from(input.password)).await?;
        let now = self.clock.now();
        let tx = store::begin(&self.db).await?;
        let new = store::users::NewUser {
            email,
            username,
            display_name: name,
            password_hash: Some(hash),
            superuser: false,
            default_org_id: Some(org.id),
        };
        let user = store::users::insert(&tx, new, now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::Conflict(
                    "user_exists",
                    "a user with this email or username already exists",
                ),
                e => e.into(),
            })?;
        store::orgs::add_member(&tx, org.id, user.id, &["member"], now).await?;
        let grant = self.start_session(&tx, user, org, client).await?;
        store::commit(tx).await?;
        Ok(grant)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn login(&self, input: Login, client: ClientInfo) -> Result<Grant> {
        let mut problems = Problems::default();
        if input.login.trim().is_empty() {
            problems.add("email", "is required");
        }
        if input.password.is_empty() {
            problems.add("password", "is required");
        } else if input.password.chars().count() > password::MAX_PASSWORD_CHARS {
            problems.add(
                "password",
                format!(
                    "must be at most {} characters",
                    password::MAX_PASSWORD_CHARS
                ),
            );
        }
        problems.finish()?;
        let login = input.login.trim().to_lowercase();
        let found = store::users::find_credentials(&self.db, &login).await?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let matches = self
            .hasher
            .verify(SecretString::from(input.password), hash)
            .await?;
        let user = match user {
            Some(user) if matches && user.active => user,
            _ => return Err(ServiceError::InvalidCredentials),
        };
        let org = self
            .org_for_login(&user, input.organization.as_deref())
            .await?;
        let tx = store::begin(&self.db).await?;
        let grant = self.start_session(&tx, user, org, client).await?;
        store::commit(tx).await?;
        Ok(grant)
    }

    /// Rotates a refresh token. A token presented a second time is reuse: the whole session is
    /// revoked (RFC 9700 §4.14), whoever presented it first.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn refresh(&self, refresh_token: &str, organization: Option<&str>) -> Result<Grant> {
        let now = self.clock.now();
        let digest = crypto::token_digest(refresh_token);
        let stored = store::sessions::find_refresh(&self.db, &digest)
            .await?
            .ok_or(ServiceError::InvalidGrant("the refresh token is invalid"))?;
        if !store::sessions::spend_refresh(&self.db, stored.id, now).await? {
            store::sessions::revoke(&self.db, stored.session_id, "refresh_token_reuse", now)
                .await?;
            tracing::warn!(session = %stored.session_id, "refresh token reuse; session revoked");
            return Err(ServiceError::InvalidGrant(
                "the refresh token was already used; the session is revoked",
            ));
        }
        let session = store::sessions::find(&self.db, stored.session_id)
            .await?
            .filter(|s| s.is_live(now) && stored.expires_at > now)
            .ok_or(ServiceError::InvalidGrant(
                "the refresh token has expired or its session has ended",
            ))?;
        let user = store::users::find(&self.db, session.user_id)
            .await?
            .filter(|u| u.active)
            .ok_or(ServiceError::InvalidGrant("the account is disabled"))?;
        let org = match organization {
            Some(slug) => self.active_org(slug).await?.ok_or(ServiceError::Forbidden(
                "not_a_member",
                "not a member of this organisation",
            ))?,
            None => store::orgs::find(&self.db, session.org_id)
                .await?
                .filter(|o| o.active)
                .ok_or(ServiceError::InvalidGrant(
                    "the session's organisation is no longer active",
                ))?,
        };
        let tx = store::begin(&self.db).await?;
        let context = self.context(&tx, user, org).await?;
        store::sessions::touch(&tx, session.id, context.org.id, now).await?;
        let grant = self.issue(&tx, context, &session).await?;
        store::commit(tx).await?;
        Ok(grant)
    }

    /// Ends the caller's session.
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        store::sessions::revoke(&self.db, principal.session_id, "logout", self.clock.now()).await?;
        Ok(())
    }

    /// Ends the session a refresh token belongs to; unknown tokens are ignored (RFC 7009 §2.2).
    pub async fn logout_with_refresh(&self, refresh_token: &str) -> Result<()> {
        let digest = crypto::token_digest(refresh_token);
        if let Some(stored) = store::sessions::find_refresh(&self.db, &digest).await? {
            store::sessions::revoke(&self.db, stored.session_id, "logout", self.clock.now())
                .await?;
        }
        Ok(())
    }

    /// Ends every session of the caller; returns how many.
    pub async fn logout_all(&self, principal: &Principal) -> Result<u64> {
        Ok(store::sessions::revoke_all_of_user(
            &self.db,
            principal.user_id,
            "logout_all",
            self.clock.now(),
        )
        .await?)
    }

    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<Session>> {
        Ok(store::sessions::list_live(&self.db, principal.user_id, self.clock.now()).await?)
    }

    /// Revokes one of the caller's own sessions; another user's session is "not found".
    pub async fn revoke_session(&self, principal: &Principal, id: Uuid) -> Result<()> {
        let now = self.clock.now();
        match store::sessions::find(&self.db, id).await? {
            Some(s) if s.user_id == principal.user_id && s.is_live(now) => {
                store::sessions::revoke(&self.db, id, "revoked_by_user", now).await?;
                Ok(())
            }
            _ => Err(ServiceError::NotFound("session not found")),
        }
    }

    /// The caller as the database has it now.
    pub async fn me(&self, principal: &Principal) -> Result<MembershipContext> {
        let user = store::users::find(&self.db, principal.user_id)
            .await?
            .filter(|u| u.active)
            .ok_or(ServiceError::InvalidToken(VerifyError::SessionRevoked))?;
        let org = store::orgs::find(&self.db, principal.org_id)
            .await?
            .ok_or(ServiceError::InvalidToken(VerifyError::SessionRevoked))?;
        self.context(&self.db, user, org).await
    }

    /// Verifies a bearer token and checks that its session is live.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        let now = self.clock.now();
        let ring = self.keys.current();
        let claims = self.verifier.verify(&ring, token, now.timestamp())?;
        let live = store::sessions::find(&self.db, claims.sid)
            .await?
            .is_some_and(|s| s.user_id == claims.sub && s.is_live(now));
        if !live {
            return Err(VerifyError::SessionRevoked.into());
        }
        Ok(Principal {
            user_id: claims.sub,
            session_id: claims.sid,
            org_id: claims.org.id,
            claims,
        })
    }

    async fn active_org(&self, slug: &str) -> Result<Option<Organisation>> {
        Ok(store::orgs::find_by_slug(&self.db, slug)
            .await?
            .filter(|o| o.active))
    }

    /// The organisation a login is for: the one asked for, else the last used, else the first.
    async fn org_for_login(&self, user: &User, requested: Option<&str>) -> Result<Organisation> {
        let not_member =
            ServiceError::Forbidden("not_a_member", "not a member of this organisation");
        if let Some(slug) = requested {
            let org = self.active_org(slug).await?.ok_or(not_member)?;
            return match store::orgs::membership(&self.db, org.id, user.id).await? {
                Some(_) => Ok(org),
                None => Err(ServiceError::Forbidden(
                    "not_a_member",
                    "not a member of this organisation",
                )),
            };
        }
        let mut candidates = Vec::new();
        candidates.extend(user.default_org_id);
        candidates.extend(store::orgs::first_org_of(&self.db, user.id).await?);
        for org_id in candidates {
            let Some(org) = store::orgs::find(&self.db, org_id)
                .await?
                .filter(|o| o.active)
            else {
                continue;
            };
            if store::orgs::membership(&self.db, org.id, user.id)
                .await?
                .is_some()
            {
                return Ok(org);
            }
        }
        Err(ServiceError::Forbidden(
            "no_organisation",
            "the account belongs to no active organisation",
        ))
    }

    async fn context<C: Conn>(
        &self,
        c: &C,
        user: User,
        org: Organisation,
    ) -> Result<MembershipContext> {
        let membership =
            store::orgs::membership(c, org.id, user.id)
                .await?
                .ok_or(ServiceError::Forbidden(
                    "not_a_member",
                    "not a member of this organisation",
                ))?;
        Ok(MembershipContext {
            user,
            org,
            roles: membership.roles,
            permissions: membership.permissions,
            mv: membership.mv,
        })
    }

    async fn start_session<C: Conn>(
        &self,
        c: &C,
        user: User,
        org: Organisation,
        client: ClientInfo,
    ) -> Result<Grant> {
        let now = self.clock.now();
        let context = self.context(c, user, org).await?;
        let session = Session {
            id: Uuid::now_v7(),
            user_id: context.user.id,
            org_id: context.org.id,
            user_agent: client.user_agent.map(|ua| ua.chars().take(255).collect()),
            ip: client.ip,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.config.session_max_lifetime,
            revoked_at: None,
        };
        store::sessions::insert(c, &session).await?;
        store::users::record_login(c, context.user.id, context.org.id, now).await?;
        self.issue(c, context, &session).await
    }

    /// Mints an access token and a new refresh token for `session`.
    async fn issue<C: Conn>(
        &self,
        c: &C,
        context: MembershipContext,
        session: &Session,
    ) -> Result<Grant> {
        let now = self.clock.now();
        let refresh_token = crypto::random_token()
            .map_err(|_| ServiceError::Internal(anyhow::anyhow!("no randomness")))?;
        let refresh_expires = (now + self.config.refresh_token_ttl).min(session.expires_at);
        store::sessions::insert_refresh(
            c,
            session.id,
            crypto::token_digest(&refresh_token),
            now,
            refresh_expires,
        )
        .await?;
        let expires_at = now + self.config.access_token_ttl;
        let issuance = Issuance {
            issuer: self.verifier.issuer(),
            audience: self.verifier.audience(),
            now,
            expires_at,
        };
        let claims = AccessClaims::build(&context, session, &issuance);
        let ring = self.keys.current();
        let access_token =
            jsonwebtoken::encode(&Verifier::header(&ring), &claims, &ring.signing().encoding)
                .map_err(|e| ServiceError::Internal(e.into()))?;
        Ok(Grant {
            access_token,
            refresh_token,
            expires_in: self.config.access_token_ttl.num_seconds(),
            context,
        })
    }
}
