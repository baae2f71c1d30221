//! An organisation (tenant).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub active: bool,
    /// Shown on the organisation's hosted pages.
    pub logo_url: Option<String>,
    /// Members must log in with a second factor.
    pub require_mfa: bool,
    /// Moves when one of its roles changes; part of every membership's `mv`.
    pub roles_version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
