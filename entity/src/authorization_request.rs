//! An authorization request in progress (login, organisation, consent), by the SHA-256 of the
//! handle the hosted pages carry.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authorization_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub handle_hash: String,
    pub client_id: String,
    /// The validated request, as JSON.
    #[sea_orm(column_type = "Text")]
    pub params: String,
    /// The organisation chosen for it, once chosen.
    pub org_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
