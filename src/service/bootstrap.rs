//! First start: the default organisation and a superuser (and seed 001's default user, when
//! configured). Idempotent, and safe when several replicas start at once (a unique-constraint
//! loss means another replica did it).
use super::Result;
use super::change::{Changes, Event, MembershipAction};
use crate::config::{Config, DefaultUser};
use crate::crypto::password::Hasher;
use crate::model::Organisation;
use crate::store::{self, Db, StoreError};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

pub async fn run(db: &Db, changes: &Changes, config: &Config, hasher: &Arc<Hasher>) -> Result<Organisation> {
    let org = match store::orgs::find_by_slug(db, &config.default_org).await? {
        Some(org) => org,
        None => {
            let change = changes.begin().await?;
            match store::orgs::insert(
                change.tx(),
                None,
                &config.default_org,
                "Default organisation",
                change.now(),
            )
            .await
            {
                Ok(org) => {
                    change.commit().await?;
                    org
                }
                Err(StoreError::Conflict(_)) => {
                    drop(change);
                    store::orgs::find_by_slug(db, &config.default_org)
                        .await?
                        .ok_or_else(|| {
                            super::ServiceError::Internal(anyhow::anyhow!("default organisation vanished"))
                        })?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    superuser(db, changes, config, hasher, &org).await?;
    console_app(changes, config, &org).await?;
    if let Some(user) = &config.default_user {
        default_user(db, changes, hasher, &org, user).await?;
    }
    Ok(org)
}

async fn superuser(
    db: &Db,
    changes: &Changes,
    config: &Config,
    hasher: &Arc<Hasher>,
    org: &Organisation,
) -> Result<()> {
    if store::users::find_by_email(db, &config.admin_email).await?.is_some() {
        return Ok(());
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.clone(), false),
        None => {
            let token = crate::crypto::random_token()
                .map_err(|_| super::ServiceError::Internal(anyhow::anyhow!("no randomness")))?;
            (SecretString::from(token[..24].to_owned()), true)
        }
    };
    let hash = hasher.hash_unhurried(password.clone()).await?;
    let mut change = changes.begin().await?;
    let now = change.now();
    let new = store::users::NewUser {
        id: None,
        email: config.admin_email.clone(),
        username: Some(config.admin_username.clone()),
        display_name: "Administrator".into(),
        password_hash: Some(hash),
        superuser: true,
        email_verified: true,
        default_org_id: Some(org.id),
    };
    let admin = match store::users::insert(change.tx(), new, now).await {
        Ok(user) => user,
        Err(StoreError::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    store::members::add(change.tx(), org.id, admin.id, &["owner"], now).await?;
    change.event(org.id, Event::UserCreated { user: admin.clone() });
    change.commit().await?;
    tracing::info!(email = %admin.email, org = %org.slug, "bootstrapped the superuser");
    if generated {
        eprintln!(
            "guildhall: created superuser {} (username {}) with generated password: {}\nguildhall: it is shown only this once; set AUTH_ADMIN_PASSWORD to choose it yourself",
            admin.email,
            config.admin_username,
            password.expose_secret()
        );
    }
    Ok(())
}

/// The client id of the web console (`/console`, `/account`): a first-party client of guildhall
/// itself, in the default organisation.
pub const CONSOLE_CLIENT_ID: &str = "guildhall-console";

/// Where the console's authorization responses go, under the public URL.
pub fn console_callback(config: &Config) -> String {
    format!("{}/console/callback", config.oidc.public_url)
}

/// The console's application: public (PKCE, no secret), first-party (no consent screen),
/// multi-organisation (the organisation picker chooses which one to manage), code grant only.
/// Created on first start; its redirect URI follows the public URL when that changes.
async fn console_app(changes: &Changes, config: &Config, org: &Organisation) -> Result<()> {
    use crate::model::{Application, ClientAuth, ClientKind, GrantType};
    let redirect = console_callback(config);
    let landing = format!("{}/console", config.oidc.public_url);
    let change = changes.begin().await?;
    let now = change.now();
    match store::apps::by_client_id(change.tx(), CONSOLE_CLIENT_ID).await? {
        Some(app) if app.redirect_uris == [redirect.clone()] => return Ok(()),
        Some(mut app) => {
            app.redirect_uris = vec![redirect];
            app.post_logout_redirect_uris = vec![landing];
            app.updated_at = now;
            store::apps::update(change.tx(), &app).await?;
        }
        None => {
            let app = Application {
                id: uuid::Uuid::now_v7(),
                org_id: org.id,
                client_id: CONSOLE_CLIENT_ID.into(),
                name: "guildhall console".into(),
                kind: ClientKind::Public,
                auth_method: ClientAuth::None,
                secret_hash: None,
                jwks: None,
                redirect_uris: vec![redirect],
                post_logout_redirect_uris: vec![landing],
                grant_types: vec![GrantType::AuthorizationCode],
                scopes: vec!["openid".into(), "profile".into(), "email".into()],
                resources: vec![],
                first_party: true,
                multi_org: true,
                access_token_ttl: None,
                refresh_token_ttl: None,
                backchannel_logout_uri: None,
                id_token_alg: None,
                active: true,
                created_at: now,
                updated_at: now,
            };
            match store::apps::insert(change.tx(), &app).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }
    change.commit().await
}

/// Seed 001's `DEFAULT_USERNAME`: created once as a member of the default organisation with
/// `DEFAULT_PASSWORD`; an existing account of that name is left as it is. A name with an `@` is
/// the email; a plain username gets the undeliverable `<username>@users.invalid` (as seed 002's).
async fn default_user(
    db: &Db,
    changes: &Changes,
    hasher: &Arc<Hasher>,
    org: &Organisation,
    user: &DefaultUser,
) -> Result<()> {
    if store::users::find_credentials(db, &user.name).await?.is_some() {
        return Ok(());
    }
    let (email, username) = if user.name.contains('@') {
        (user.name.clone(), None)
    } else {
        let domain = super::compat::cl::NO_EMAIL_DOMAIN;
        (format!("{}@{domain}", user.name), Some(user.name.clone()))
    };
    let hash = hasher.hash_unhurried(user.password.clone()).await?;
    let mut change = changes.begin().await?;
    let now = change.now();
    let new = store::users::NewUser {
        id: None,
        display_name: user.name.clone(),
        email,
        username,
        password_hash: Some(hash),
        superuser: false,
        email_verified: true,
        default_org_id: Some(org.id),
    };
    let created = match store::users::insert(change.tx(), new, now).await {
        Ok(created) => created,
        Err(StoreError::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    store::members::add(change.tx(), org.id, created.id, &["member"], now).await?;
    change.event(org.id, Event::UserCreated { user: created.clone() });
    let roles = ["member".to_owned()];
    let joined = Event::membership(org.id, created.id, MembershipAction::Added, &[], &roles);
    change.event(org.id, joined);
    change.commit().await?;
    tracing::info!(name = %user.name, org = %org.slug, "created the default user (DEFAULT_USERNAME)");
    Ok(())
}
