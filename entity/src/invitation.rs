//! An invitation to an organisation: an address, what accepting grants (`roles`, `teams` and
//! `domains` as JSON), and a single-use token stored only as its SHA-256.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    /// JSON array of role keys.
    #[sea_orm(column_type = "Text")]
    pub roles: String,
    /// JSON object: team slug → team role.
    #[sea_orm(column_type = "Text")]
    pub teams: String,
    /// JSON array of domain keys.
    #[sea_orm(column_type = "Text")]
    pub domains: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub invited_by: Option<Uuid>,
    pub inviter_name: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub sent_at: DateTimeUtc,
    pub accepted_at: Option<DateTimeUtc>,
    pub accepted_by: Option<Uuid>,
    pub revoked_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
