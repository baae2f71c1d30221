//! What a password step leaves for the second one: a single-use token (its digest), whose user,
//! what it allows (`verify` a second factor, or only `enroll` one), the flow it belongs to (`api`,
//! or a hosted login request), the organisation asked for, and the methods used so far.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mfa_challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub user_id: Uuid,
    pub purpose: String,
    pub flow: String,
    pub organization: Option<String>,
    pub methods: String,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
