//! A global user account. `email` and `username` are stored lower-cased, which makes them
//! unique case-insensitively.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    #[sea_orm(unique)]
    pub username: Option<String>,
    pub display_name: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub password_hash: Option<String>,
    pub active: bool,
    pub superuser: bool,
    pub default_org_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    /// The address is proven (a verification mail, an invitation, a provider's assertion, an
    /// operator or superuser), not merely claimed.
    pub email_verified: bool,
    /// The username's confusable skeleton (UTS #39), unique: look-alike names are refused.
    #[sea_orm(unique)]
    pub username_skeleton: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
