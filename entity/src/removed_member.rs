//! A membership an admin removed: just-in-time provisioning does not bring it back; only an admin
//! (or an invitation) does, which clears the row.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "removed_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub removed_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
