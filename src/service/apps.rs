//! Applications: the OAuth 2.0 / OpenID Connect clients an organisation registers, managed by
//! its admins (`/orgs/{id}/clients`) and by seed documents. A confidential client's secret is
//! shown once and stored as a SHA-256; deleting or deactivating an application ends its
//! sessions. Only a superuser may make an application `multi_org` (tokens for organisations
//! other than its own carry those organisations' memberships).
use super::authz::Caller;
use super::change::{Audit, Change, Changes, Event, SessionsOf};
use super::orgs::OrgService;
use super::{Result, ServiceError, no_randomness};
use crate::config::Config;
use crate::crypto;
use crate::model::{AppDraft, AppId, AppRules, AppSpec, Application, OrgId};
use crate::store::{self, Db};
use std::sync::Arc;
use uuid::Uuid;

/// What drafts are validated against under this configuration.
pub fn rules(config: &Config) -> AppRules {
    AppRules {
        development: config.environment == crate::config::Environment::Development,
        access_algorithm: config.algorithm,
    }
}

const NOT_FOUND: ServiceError = ServiceError::NotFound("application not found");

pub struct AppService {
    db: Db,
    changes: Changes,
    orgs: Arc<OrgService>,
    config: Arc<Config>,
}

impl AppService {
    pub fn new(db: Db, changes: Changes, orgs: Arc<OrgService>, config: Arc<Config>) -> Self {
        Self {
            db,
            changes,
            orgs,
            config,
        }
    }

    /// What drafts are validated against.
    pub fn rules(&self) -> AppRules {
        rules(&self.config)
    }

    pub async fn list(&self, caller: &Caller, org: OrgId) -> Result<Vec<Application>> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        Ok(store::apps::list_of_org(&self.db, admin.org_id()).await?)
    }

    pub async fn get(&self, caller: &Caller, org: OrgId, id: AppId) -> Result<Application> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        store::apps::find(&self.db, admin.org_id(), id.uuid())
            .await?
            .ok_or(NOT_FOUND)
    }

    fn check_multi_org(caller: &Caller, spec: &AppSpec) -> Result<()> {
        if spec.multi_org && !caller.superuser {
            return Err(ServiceError::Forbidden(
                "forbidden",
                "only a superuser may let an application get tokens for other organisations",
            ));
        }
        Ok(())
    }

    /// Registers an application; returns it with its secret (secret methods only), which is
    /// never shown again.
    pub async fn create(&self, caller: &Caller, org: OrgId, draft: AppDraft) -> Result<(Application, Option<String>)> {
        let spec = draft.validate(&self.rules())?;
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        Self::check_multi_org(caller, &spec)?;
        let client_id = format!("app_{}", &crypto::random_token().map_err(no_randomness)?[..22]);
        let mut change = self.changes.begin().await?;
        let (app, secret) = register(&mut change, admin.org_id(), client_id, spec, None)?;
        store::apps::insert(change.tx(), &app).await?;
        change.audit(
            Audit::new(&caller.actor(), "application.create")
                .org(app.org_id)
                .target("application", app.id),
        );
        change.event(app.org_id, Event::ApplicationCreated { app: app.clone() });
        change.commit().await?;
        Ok((app, secret))
    }

    /// Replaces an application's settings. Switching to a secret method issues a secret
    /// (returned); deactivating it ends its sessions.
    pub async fn replace(
        &self,
        caller: &Caller,
        org: OrgId,
        id: AppId,
        draft: AppDraft,
    ) -> Result<(Application, Option<String>)> {
        let spec = draft.validate(&self.rules())?;
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        let mut change = self.changes.begin().await?;
        let before = store::apps::find(change.tx(), admin.org_id(), id.uuid())
            .await?
            .ok_or(NOT_FOUND)?;
        if spec.multi_org != before.multi_org {
            Self::check_multi_org(caller, &spec)?;
        }
        let (app, secret) = update(&mut change, before, spec).await?;
        change.audit(
            Audit::new(&caller.actor(), "application.update")
                .org(app.org_id)
                .target("application", app.id),
        );
        change.commit().await?;
        Ok((app, secret))
    }

    /// A new secret for a confidential client using a secret method; the old one stops working.
    pub async fn rotate_secret(&self, caller: &Caller, org: OrgId, id: AppId) -> Result<(Application, String)> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        let mut change = self.changes.begin().await?;
        let app = store::apps::find(change.tx(), admin.org_id(), id.uuid())
            .await?
            .ok_or(NOT_FOUND)?;
        if !app.auth_method.uses_secret() {
            return Err(ServiceError::Conflict(
                "no_secret",
                "this application does not authenticate with a secret",
            ));
        }
        let secret = crypto::random_token().map_err(no_randomness)?;
        store::apps::set_secret(change.tx(), app.id, crypto::token_digest(&secret), change.now()).await?;
        change.audit(
            Audit::new(&caller.actor(), "application.secret_rotate")
                .org(app.org_id)
                .target("application", app.id),
        );
        change.commit().await?;
        Ok((app, secret))
    }

    /// Deletes an application: its sessions end, its consents are forgotten.
    pub async fn delete(&self, caller: &Caller, org: OrgId, id: AppId) -> Result<()> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        let mut change = self.changes.begin().await?;
        let app = store::apps::find(change.tx(), admin.org_id(), id.uuid())
            .await?
            .ok_or(NOT_FOUND)?;
        remove(&mut change, &app).await?;
        change.audit(
            Audit::new(&caller.actor(), "application.delete")
                .org(app.org_id)
                .target("application", app.id),
        );
        change.commit().await
    }
}

/// A new application of `org` from `spec`, with `secret` (a seed document's) or a fresh one for
/// the secret methods.
pub fn register(
    change: &mut Change,
    org: Uuid,
    client_id: String,
    spec: AppSpec,
    secret: Option<String>,
) -> Result<(Application, Option<String>)> {
    let now = change.now();
    let secret = match (spec.auth_method.uses_secret(), secret) {
        (true, Some(given)) => Some(given),
        (true, None) => Some(crypto::random_token().map_err(no_randomness)?),
        (false, _) => None,
    };
    let app = Application {
        id: Uuid::now_v7(),
        org_id: org,
        client_id,
        name: String::new(),
        kind: spec.kind,
        auth_method: spec.auth_method,
        secret_hash: secret.as_deref().map(crypto::token_digest),
        jwks: None,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![],
        scopes: vec![],
        resources: vec![],
        first_party: false,
        multi_org: false,
        access_token_ttl: None,
        refresh_token_ttl: None,
        backchannel_logout_uri: None,
        id_token_alg: None,
        active: true,
        created_at: now,
        updated_at: now,
    }
    .with_spec(spec, now);
    Ok((app, secret))
}

/// Writes `spec` over `before`; a secret is issued when the application starts using one, and
/// its sessions end when it is deactivated.
pub async fn update(change: &mut Change, before: Application, spec: AppSpec) -> Result<(Application, Option<String>)> {
    let now = change.now();
    let needs_secret = spec.auth_method.uses_secret() && before.secret_hash.is_none();
    let was_active = before.active;
    let mut app = before.with_spec(spec, now);
    let secret = if needs_secret {
        let secret = crypto::random_token().map_err(no_randomness)?;
        app.secret_hash = Some(crypto::token_digest(&secret));
        Some(secret)
    } else {
        None
    };
    store::apps::update(change.tx(), &app).await?;
    if was_active && !app.active {
        end_sessions_of(change, &app.client_id, "application_deactivated").await?;
    }
    change.event(app.org_id, Event::ApplicationUpdated { app: app.clone() });
    Ok((app, secret))
}

/// Deletes `app` in `change`: its sessions end, its consents go.
pub async fn remove(change: &mut Change, app: &Application) -> Result<()> {
    end_sessions_of(change, &app.client_id, "application_deleted").await?;
    store::provider::forget_client(change.tx(), &app.client_id).await?;
    store::apps::delete(change.tx(), app.id).await?;
    change.event(app.org_id, Event::ApplicationDeleted { app: app.clone() });
    Ok(())
}

async fn end_sessions_of(change: &mut Change, client_id: &str, reason: &str) -> Result<u64> {
    let ids = store::sessions::live_of_client(change.tx(), client_id, change.now()).await?;
    let mut ended = 0;
    for id in ids {
        ended += change.end_sessions(SessionsOf::Session(id), reason).await?;
    }
    Ok(ended)
}
