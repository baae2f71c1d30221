//! Accounts and sessions: registration, login, refresh rotation with reuse detection, logout,
//! `/auth/me`, `/auth/validate`, and turning a bearer token into a `Caller`.
use super::core::{Core, denied, load_context};
use super::journal::{Actor, Journal};
use super::throttle::LoginThrottle;
use serde_json::{Value, json};

use super::validate::{self, Problems};
use super::{Result, ServiceError};
use crate::crypto::{self, password};
use crate::model::{ClientInfo, MembershipContext, Organisation, Session, User};
use crate::store::{self, Conn, StoreError};
use crate::token::claims::Issuance;
use crate::token::{AccessClaims, Verifier};
use secrecy::SecretString;
use std::sync::Arc;
use uuid::Uuid;

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

const NOT_A_MEMBER: ServiceError = ServiceError::Forbidden("not_a_member", "not a member of this organisation");

pub struct AuthService {
    pub(super) core: Arc<Core>,
    /// Every password login goes through `login`, so this one guard covers them all (ours, the
    /// OAuth password grant and the seed services' routes).
    throttle: LoginThrottle,
}

impl AuthService {
    pub fn new(core: Arc<Core>) -> Self {
        let throttle = LoginThrottle::new(core.config.login_throttle);
        Self { core, throttle }
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    pub async fn ready(&self) -> Result<()> {
        store::ping(&self.core.db)
            .await
            .map_err(|e| ServiceError::Unavailable(e.into()))
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn register(&self, input: Registration, client: ClientInfo) -> Result<Grant> {
        let config = &self.core.config;
        if !config.allow_registration {
            return Err(ServiceError::Forbidden(
                "registration_disabled",
                "self-registration is disabled",
            ));
        }
        let mut problems = Problems::default();
        let email = problems.check("email", validate::email(&input.email));
        problems.check(
            "password",
            password::check_policy(&config.password_policy, &input.password),
        );
        let username = match input.username.as_deref() {
            Some(raw) => problems.check("username", validate::username(raw)).map(Some),
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
            return Err(ServiceError::Internal(anyhow::anyhow!("validated fields missing")));
        };
        let closed = ServiceError::Forbidden(
            "registration_closed",
            "self-registration is open only for the default organisation",
        );
        let slug = input.organization.unwrap_or_else(|| config.default_org.clone());
        if slug != config.default_org {
            return Err(closed);
        }
        let org = self.active_org(&slug).await?.ok_or(closed)?;
        let hash = self.core.hasher.hash(SecretString::from(input.password)).await?;
        let now = self.core.clock.now();
        let tx = store::begin(&self.core.db).await?;
        let new = store::users::NewUser {
            id: None,
            email,
            username,
            display_name: name,
            password_hash: Some(hash),
            superuser: false,
            default_org_id: Some(org.id),
        };
        let user = store::users::insert(&tx, new, now).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                ServiceError::Conflict("user_exists", "a user with this email or username already exists")
            }
            e => e.into(),
        })?;
        store::orgs::add_member(&tx, org.id, user.id, &["member"], now).await?;
        let context = load_context(&tx, user.id, org.id).await?.map_err(denied)?;
        let mut journal = self.core.journal();
        let actor = Actor {
            id: Some(user.id),
            name: Some(user.email.clone()),
            ip: client.ip.clone(),
        };
        journal.event(
            Some(org.id),
            "user",
            user.id,
            "created",
            "UserCreated",
            user_data(&user),
        );
        journal.event(
            Some(org.id),
            "org",
            org.id,
            "membership.changed",
            "MembershipChanged",
            json!({"user_id": user.id, "action": "added", "roles_added": ["member"], "roles_removed": []}),
        );
        journal.audit(
            Some(org.id),
            &actor,
            "user.register",
            Some(("user", user.id.to_string())),
            None,
        );
        let grant = self.start_session(&tx, &mut journal, context, client).await?;
        self.core.commit(tx, journal).await?;
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
                format!("must be at most {} characters", password::MAX_PASSWORD_CHARS),
            );
        }
        problems.finish()?;
        let login = input.login.trim().to_lowercase();
        self.throttle
            .check(&login, self.core.clock.now())
            .map_err(ServiceError::TooManyAttempts)?;
        let (user, hash) = match store::users::find_credentials(&self.core.db, &login).await? {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let matches = self
            .core
            .hasher
            .verify(SecretString::from(input.password), hash)
            .await?;
        let user = match user {
            Some(user) if matches && user.active => user,
            other => {
                let mut journal = self.core.journal();
                let actor = Actor {
                    id: other.as_ref().map(|u| u.id),
                    name: Some(login.clone()),
                    ip: client.ip.clone(),
                };
                journal.audit_outcome(None, &actor, "login", None, "failure", None);
                self.core.record(journal).await?;
                if let Some(seconds) = self.throttle.failed(&login, self.core.clock.now()) {
                    tracing::warn!(
                        seconds,
                        ip = client.ip.as_deref(),
                        "a login name is locked after repeated failed logins"
                    );
                }
                return Err(ServiceError::InvalidCredentials);
            }
        };
        self.throttle.succeeded(&login);
        let org = self.org_for_login(&user, input.organization.as_deref()).await?;
        let context = self.current_context(user.id, org.id).await?;
        let mut journal = self.core.journal();
        let actor = Actor {
            id: Some(user.id),
            name: Some(user.email.clone()),
            ip: client.ip.clone(),
        };
        journal.audit(Some(org.id), &actor, "login", None, None);
        let tx = store::begin(&self.core.db).await?;
        let grant = self.start_session(&tx, &mut journal, context, client).await?;
        self.core.commit(tx, journal).await?;
        Ok(grant)
    }

    /// Rotates a refresh token, optionally switching organisation. A token presented a second
    /// time is reuse: the whole session is revoked (RFC 9700 §4.14), whoever presented it first.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn refresh(&self, refresh_token: &str, organization: Option<&str>) -> Result<Grant> {
        let db = &self.core.db;
        let now = self.core.clock.now();
        let stored = store::sessions::find_refresh(db, &crypto::token_digest(refresh_token))
            .await?
            .ok_or(ServiceError::InvalidGrant("the refresh token is invalid"))?;
        if !store::sessions::spend_refresh(db, stored.id, now).await? {
            let mut journal = self.core.journal();
            let tx = store::begin(db).await?;
            if let Some(session) = store::sessions::find(&tx, stored.session_id).await? {
                let actor = Actor {
                    id: Some(session.user_id),
                    ..Actor::default()
                };
                let target = Some(("session", session.id.to_string()));
                journal.audit_outcome(
                    Some(session.org_id),
                    &actor,
                    "refresh_token.reuse",
                    target,
                    "failure",
                    None,
                );
            }
            self.core
                .end_sessions(&tx, &mut journal, vec![stored.session_id], "refresh_token_reuse")
                .await?;
            self.core.commit(tx, journal).await?;
            tracing::warn!(session = %stored.session_id, "refresh token reuse; session revoked");
            return Err(ServiceError::InvalidGrant(
                "the refresh token was already used; the session is revoked",
            ));
        }
        let session = store::sessions::find(db, stored.session_id)
            .await?
            .filter(|s| s.is_live(now) && stored.expires_at > now)
            .ok_or(ServiceError::InvalidGrant(
                "the refresh token has expired or its session has ended",
            ))?;
        let org_id = match organization {
            Some(slug) => self.active_org(slug).await?.ok_or(NOT_A_MEMBER)?.id,
            None => session.org_id,
        };
        let context = match self.core.context(session.user_id, org_id).await? {
            Ok(context) => (*context).clone(),
            Err(super::cache::Denial::NotAMember) if organization.is_some() => return Err(NOT_A_MEMBER),
            Err(_) => {
                return Err(ServiceError::InvalidGrant(
                    "the account or its organisation is no longer active",
                ));
            }
        };
        let tx = store::begin(db).await?;
        store::sessions::touch(&tx, session.id, org_id, now).await?;
        store::users::record_login(&tx, session.user_id, org_id, now).await?;
        let session = Session { org_id, ..session };
        let grant = self.issue(&tx, context, &session).await?;
        store::commit(tx).await?;
        Ok(grant)
    }

    async fn current_context(&self, user_id: Uuid, org_id: Uuid) -> Result<MembershipContext> {
        Ok((*self.core.context(user_id, org_id).await?.map_err(denied)?).clone())
    }

    async fn active_org(&self, slug: &str) -> Result<Option<Organisation>> {
        Ok(store::orgs::find_by_slug(&self.core.db, slug)
            .await?
            .filter(|o| o.active))
    }

    /// The organisation a login is for: the one asked for, else the last used, else the first.
    pub(crate) async fn org_for_login(&self, user: &User, requested: Option<&str>) -> Result<Organisation> {
        let db = &self.core.db;
        if let Some(slug) = requested {
            let org = self.active_org(slug).await?.ok_or(NOT_A_MEMBER)?;
            return if store::orgs::is_member(db, org.id, user.id).await? {
                Ok(org)
            } else {
                Err(NOT_A_MEMBER)
            };
        }
        let mut candidates = Vec::new();
        candidates.extend(user.default_org_id);
        candidates.extend(store::orgs::first_org_of(db, user.id).await?);
        for org_id in candidates {
            let Some(org) = store::orgs::find(db, org_id).await?.filter(|o| o.active) else {
                continue;
            };
            if store::orgs::is_member(db, org.id, user.id).await? {
                return Ok(org);
            }
        }
        Err(ServiceError::Forbidden(
            "no_organisation",
            "the account belongs to no active organisation",
        ))
    }

    pub(crate) async fn start_session<C: Conn>(
        &self,
        c: &C,
        journal: &mut Journal,
        context: MembershipContext,
        client: ClientInfo,
    ) -> Result<Grant> {
        let now = self.core.clock.now();
        let session = Session {
            id: Uuid::now_v7(),
            user_id: context.user.id,
            org_id: context.org.id,
            user_agent: client.user_agent.map(|ua| ua.chars().take(255).collect()),
            ip: client.ip,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.core.config.session_max_lifetime,
            revoked_at: None,
        };
        store::sessions::insert(c, &session).await?;
        journal.event(Some(session.org_id), "session", session.id, "created", "SessionCreated",
            json!({"session_id": session.id, "user_id": session.user_id, "org_id": session.org_id, "ip": session.ip, "user_agent": session.user_agent}));
        store::users::record_login(c, context.user.id, context.org.id, now).await?;
        self.issue(c, context, &session).await
    }

    /// Mints an access token and a new refresh token for `session`; neither outlives it.
    async fn issue<C: Conn>(&self, c: &C, context: MembershipContext, session: &Session) -> Result<Grant> {
        let config = &self.core.config;
        let now = self.core.clock.now();
        let refresh_token =
            crypto::random_token().map_err(|_| ServiceError::Internal(anyhow::anyhow!("no randomness")))?;
        let refresh_expires = (now + config.refresh_token_ttl).min(session.expires_at);
        store::sessions::insert_refresh(
            c,
            session.id,
            crypto::token_digest(&refresh_token),
            now,
            refresh_expires,
        )
        .await?;
        let expires_at = (now + config.access_token_ttl).min(session.expires_at);
        let verifier = &self.core.verifier;
        let issuance = Issuance {
            issuer: verifier.issuer(),
            audience: verifier.audience(),
            now,
            expires_at,
        };
        let claims = AccessClaims::for_user(&context, session, &issuance, config.claim_budget);
        let access_token = sign(&self.core, &claims)?;
        Ok(Grant {
            access_token,
            refresh_token,
            expires_in: (expires_at - now).num_seconds(),
            context,
        })
    }
}

/// Signs claims with the current key.
pub fn sign(core: &Core, claims: &AccessClaims) -> Result<String> {
    let ring = core.keys.current();
    jsonwebtoken::encode(&Verifier::header(&ring), claims, &ring.signing().encoding)
        .map_err(|e| ServiceError::Internal(e.into()))
}

/// What events say about a user.
pub fn user_data(user: &User) -> Value {
    json!({
        "user_id": user.id, "email": user.email, "username": user.username, "name": user.display_name,
        "is_active": user.active, "is_superuser": user.superuser,
    })
}
