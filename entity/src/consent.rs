//! The scopes a user granted an application (third-party clients ask once).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// Space-separated.
    #[sea_orm(column_type = "Text")]
    pub scopes: String,
    pub granted_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
