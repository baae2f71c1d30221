//! A one-time code the frontend exchanges for tokens after an external login; keyed by its
//! SHA-256 and deleted when exchanged.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_digest: String,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub provider_slug: String,
    pub expires_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
