//! An external OpenID Connect provider of one organisation. `mappings` is JSON: claim value →
//! roles, teams and domains granted.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identity_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub client_secret: Option<String>,
    pub scopes: String,
    #[sea_orm(column_type = "Text")]
    pub email_domains: String,
    pub jit: bool,
    pub link_by_email: bool,
    pub groups_claim: String,
    #[sea_orm(column_type = "Text")]
    pub mappings: String,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
