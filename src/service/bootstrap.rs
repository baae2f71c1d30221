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
    let hash = hasher.hash(password.clone()).await?;
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
    let hash = hasher.hash(user.password.clone()).await?;
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
