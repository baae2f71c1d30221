//! Every column that holds a sealed secret (`crypto::seal`), read and written as stored: for the
//! start-up pass that seals what was stored before a master key was set, and for `guildhall keys
//! rewrap`. Everything else reaches these columns through `keys`, `identity_providers` and
//! `webhooks`, which seal and open.
use super::{Conn, Result};
use crate::crypto::seal::Purpose;
use entity::{identity_provider, mfa_totp, signing_key, webhook};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::fmt;
use uuid::Uuid;

/// Where a secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `signing_keys.private_key`
    SigningKey { kid: String },
    /// `identity_providers.client_secret`
    ProviderSecret { id: Uuid, slug: String },
    /// `webhooks.secret`
    WebhookSecret { id: Uuid },
    /// `mfa_totp.secret`
    TotpSecret { user_id: Uuid },
}

impl Location {
    /// The column's purpose, bound to what is sealed there.
    pub fn purpose(&self) -> Purpose {
        match self {
            Self::SigningKey { .. } => Purpose::SigningKey,
            Self::ProviderSecret { .. } => Purpose::IdpClientSecret,
            Self::WebhookSecret { .. } => Purpose::WebhookSecret,
            Self::TotpSecret { .. } => Purpose::TotpSecret,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SigningKey { kid } => write!(f, "signing key {kid}"),
            Self::ProviderSecret { slug, .. } => write!(f, "the client secret of identity provider {slug}"),
            Self::WebhookSecret { id } => write!(f, "the signing secret of webhook {id}"),
            Self::TotpSecret { user_id } => write!(f, "the authenticator-app secret of user {user_id}"),
        }
    }
}

/// A secret as stored: sealed, or plaintext from before a master key was set.
pub struct StoredSecret {
    pub at: Location,
    pub stored: String,
}

/// Every stored secret: the signing keys, the providers' client secrets, the webhooks' secrets.
pub async fn all<C: Conn>(c: &C) -> Result<Vec<StoredSecret>> {
    let keys = signing_key::Entity::find()
        .all(c)
        .await?
        .into_iter()
        .map(|m| StoredSecret {
            at: Location::SigningKey { kid: m.kid },
            stored: m.private_key,
        });
    let providers = identity_provider::Entity::find()
        .filter(identity_provider::Column::ClientSecret.is_not_null())
        .all(c)
        .await?
        .into_iter()
        .filter_map(|m| {
            Some(StoredSecret {
                stored: m.client_secret?,
                at: Location::ProviderSecret { id: m.id, slug: m.slug },
            })
        });
    let webhooks = webhook::Entity::find().all(c).await?.into_iter().map(|m| StoredSecret {
        at: Location::WebhookSecret { id: m.id },
        stored: m.secret,
    });
    let totp = mfa_totp::Entity::find()
        .all(c)
        .await?
        .into_iter()
        .map(|m| StoredSecret {
            at: Location::TotpSecret { user_id: m.user_id },
            stored: m.secret,
        });
    Ok(keys.chain(providers).chain(webhooks).chain(totp).collect())
}

/// Stores `new` in place of `secret` if the row still holds what was read (another replica may
/// have replaced it meanwhile); whether it did.
pub async fn replace<C: Conn>(c: &C, secret: &StoredSecret, new: &str) -> Result<bool> {
    let done = match &secret.at {
        Location::SigningKey { kid } => {
            signing_key::Entity::update_many()
                .col_expr(signing_key::Column::PrivateKey, Expr::value(new))
                .filter(signing_key::Column::Kid.eq(kid.as_str()))
                .filter(signing_key::Column::PrivateKey.eq(secret.stored.as_str()))
                .exec(c)
                .await?
        }
        Location::ProviderSecret { id, .. } => {
            identity_provider::Entity::update_many()
                .col_expr(identity_provider::Column::ClientSecret, Expr::value(new))
                .filter(identity_provider::Column::Id.eq(*id))
                .filter(identity_provider::Column::ClientSecret.eq(secret.stored.as_str()))
                .exec(c)
                .await?
        }
        Location::WebhookSecret { id } => {
            webhook::Entity::update_many()
                .col_expr(webhook::Column::Secret, Expr::value(new))
                .filter(webhook::Column::Id.eq(*id))
                .filter(webhook::Column::Secret.eq(secret.stored.as_str()))
                .exec(c)
                .await?
        }
        Location::TotpSecret { user_id } => {
            mfa_totp::Entity::update_many()
                .col_expr(mfa_totp::Column::Secret, Expr::value(new))
                .filter(mfa_totp::Column::UserId.eq(*user_id))
                .filter(mfa_totp::Column::Secret.eq(secret.stored.as_str()))
                .exec(c)
                .await?
        }
    };
    Ok(done.rows_affected == 1)
}
