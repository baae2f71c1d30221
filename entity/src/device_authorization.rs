//! A device authorization (RFC 8628): the device polls with its code while the user enters the
//! user code on the hosted page.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "device_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub device_code_hash: String,
    #[sea_orm(unique)]
    pub user_code: String,
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub scopes: String,
    /// `pending`, `approved`, `denied` or `used`.
    pub status: String,
    /// Who approved it and for which organisation, as JSON.
    #[sea_orm(column_type = "Text", nullable)]
    pub grant: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub interval: i32,
    pub last_polled_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
