//! A login through an external provider that has left for the provider and not come back yet.
//! Keyed by the SHA-256 of its `state`; deleted when the callback claims it.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_logins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_digest: String,
    pub provider_slug: String,
    pub browser_digest: String,
    pub pkce_verifier: String,
    pub nonce: String,
    #[sea_orm(column_type = "Text")]
    pub callback_url: String,
    #[sea_orm(column_type = "Text")]
    pub redirect_uri: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub client_state: Option<String>,
    pub expires_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
