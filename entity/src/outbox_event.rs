//! An event waiting to be (or already) published: the whole CloudEvent as JSON.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub subject: String,
    pub event_type: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub created_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
    pub attempts: i32,
    /// When the event was fanned out to the organisation's webhooks (deliveries made).
    pub webhooks_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
