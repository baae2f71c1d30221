//! A permission granted directly to one organisation membership (besides its roles' permissions):
//! seed 002's per-user permissions.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_permissions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub permission: String,
}

impl ActiveModelBehavior for ActiveModel {}
