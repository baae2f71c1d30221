//! An email domain an organisation claims, with the TXT challenge that proves it; once proven,
//! `verified_domain` is the domain (unique: one organisation per verified domain).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub domain: String,
    pub challenge: String,
    pub verified_at: Option<DateTimeUtc>,
    #[sea_orm(unique)]
    pub verified_domain: Option<String>,
    /// `invite_only` or `auto_join`.
    pub join_policy: String,
    /// JSON array of the role keys `auto_join` grants.
    #[sea_orm(column_type = "Text")]
    pub join_roles: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
