//! One login: the refresh-token family, with the organisation its tokens are for.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_reason: Option<String>,
    /// The application the session's tokens were issued to (none: guildhall's own API).
    pub client_id: Option<String>,
    /// The browser session (single sign-on) it was started from.
    pub browser_session_id: Option<Uuid>,
    /// When and how the user authenticated (OpenID Connect `auth_time`, `amr`).
    pub auth_time: Option<DateTimeUtc>,
    pub amr: Option<String>,
    /// What an application's tokens may do (space-separated scopes) and for whom (`aud`).
    #[sea_orm(column_type = "Text", nullable)]
    pub scope: Option<String>,
    pub audience: Option<String>,
    /// The application's token lifetimes, in seconds, when it sets its own.
    pub access_ttl: Option<i32>,
    pub refresh_ttl: Option<i32>,
}

impl ActiveModelBehavior for ActiveModel {}
