//! A user's stable integer number: seed 001's and 002's clients address users by integer id.
//! Assigned when the account is created and never reused.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_numbers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub number: i32,
    #[sea_orm(unique)]
    pub user_id: Uuid,
}

impl ActiveModelBehavior for ActiveModel {}
