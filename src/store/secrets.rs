//! Every column that holds a sealed secret (`crypto::seal`), read and written as stored: for the
//! start-up pass that seals what was stored before a master key was set, and for `guildhall keys
//! rewrap`. Everything else reaches these columns through `keys` and `identity_providers`, which
//! seal and open.
use super::{Conn, Result};
use crate::crypto::seal::Purpose;
use entity::{identity_provider, signing_key};
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
}

impl Location {
    /// The column's purpose, bound to what is sealed there.
    pub fn purpose(&self) -> Purpose {
        match self {
            Self::SigningKey { .. } => Purpose::SigningKey,
            Self::ProviderSecret { .. } => Purpose::IdpClientSecret,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SigningKey { kid } => write!(f, "signing key {kid}"),
            Self::ProviderSecret { slug, .. } => write!(f, "the client secret of identity provider {slug}"),
        }
    }
}

/// A secret as stored: sealed, or plaintext from before a master key was set.
pub struct StoredSecret {
    pub at: Location,
    pub stored: String,
}

/// Every stored secret: the signing keys, then the providers' client secrets.
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
    Ok(keys.chain(providers).collect())
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
    };
    Ok(done.rows_affected == 1)
}
