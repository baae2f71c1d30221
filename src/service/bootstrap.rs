//! First start: the default organisation and a superuser. Idempotent, and safe when several
//! replicas start at once (a unique-constraint loss means another replica did it).
use super::Result;
use super::change::{Changes, Event};
use crate::config::Config;
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
    if store::users::find_by_email(db, &config.admin_email).await?.is_some() {
        return Ok(org);
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
        Err(StoreError::Conflict(_)) => return Ok(org),
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
    Ok(org)
}
