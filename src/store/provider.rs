//! guildhall as an OpenID Provider: browser sessions, authorization requests in progress,
//! authorization codes, consents, device authorizations and spent client assertions. Secrets
//! (cookies, handles, codes, device codes) are kept as SHA-256 digests only. Requests, codes and
//! device codes carry their details as JSON the service layer writes and reads.
use super::{Conn, Result};
use crate::model::BrowserSession;
use chrono::{DateTime, Utc};
use entity::{
    authorization_code, authorization_request, browser_session, client_assertion, consent, device_authorization,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

impl From<browser_session::Model> for BrowserSession {
    fn from(m: browser_session::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            auth_time: m.auth_time,
            amr: m.amr.split_whitespace().map(String::from).collect(),
            acr: m.acr,
            expires_at: m.expires_at,
        }
    }
}

pub async fn insert_browser_session<C: Conn>(
    c: &C,
    session: &BrowserSession,
    token_digest: String,
    now: DateTime<Utc>,
) -> Result<()> {
    browser_session::ActiveModel {
        id: Set(session.id),
        user_id: Set(session.user_id),
        token_hash: Set(token_digest),
        auth_time: Set(session.auth_time),
        amr: Set(session.amr.join(" ")),
        acr: Set(session.acr.clone()),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(session.expires_at),
        revoked_at: Set(None),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// The live browser session a cookie's digest names.
pub async fn browser_session<C: Conn>(c: &C, token_digest: &str, now: DateTime<Utc>) -> Result<Option<BrowserSession>> {
    Ok(browser_session::Entity::find()
        .filter(browser_session::Column::TokenHash.eq(token_digest))
        .filter(browser_session::Column::RevokedAt.is_null())
        .filter(browser_session::Column::ExpiresAt.gt(now))
        .one(c)
        .await?
        .map(BrowserSession::from))
}

/// Whether the browser session `id` is live.
pub async fn browser_session_is_live<C: Conn>(c: &C, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    Ok(browser_session::Entity::find_by_id(id)
        .filter(browser_session::Column::RevokedAt.is_null())
        .filter(browser_session::Column::ExpiresAt.gt(now))
        .count(c)
        .await?
        > 0)
}

/// Ends a browser session; true if it was live.
pub async fn end_browser_session<C: Conn>(c: &C, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let done = browser_session::Entity::update_many()
        .col_expr(browser_session::Column::RevokedAt, Expr::value(now))
        .filter(browser_session::Column::Id.eq(id))
        .filter(browser_session::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Ends every browser session of a user (logout everywhere, a password set by an admin).
pub async fn end_browser_sessions_of<C: Conn>(c: &C, user_id: Uuid, now: DateTime<Utc>) -> Result<u64> {
    Ok(browser_session::Entity::update_many()
        .col_expr(browser_session::Column::RevokedAt, Expr::value(now))
        .filter(browser_session::Column::UserId.eq(user_id))
        .filter(browser_session::Column::RevokedAt.is_null())
        .exec(c)
        .await?
        .rows_affected)
}

/// An authorization request waiting for the user (login, organisation, consent).
pub struct PendingRequest {
    pub client_id: String,
    pub params: String,
    pub org_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_request<C: Conn>(
    c: &C,
    handle_digest: String,
    request: &PendingRequest,
    now: DateTime<Utc>,
) -> Result<()> {
    authorization_request::ActiveModel {
        handle_hash: Set(handle_digest),
        client_id: Set(request.client_id.clone()),
        params: Set(request.params.clone()),
        org_id: Set(request.org_id),
        created_at: Set(now),
        expires_at: Set(request.expires_at),
    }
    .insert(c)
    .await?;
    Ok(())
}

pub async fn find_request<C: Conn>(c: &C, handle_digest: &str, now: DateTime<Utc>) -> Result<Option<PendingRequest>> {
    Ok(authorization_request::Entity::find_by_id(handle_digest.to_owned())
        .one(c)
        .await?
        .filter(|m| m.expires_at > now)
        .map(|m| PendingRequest {
            client_id: m.client_id,
            params: m.params,
            org_id: m.org_id,
            expires_at: m.expires_at,
        }))
}

/// Claims a request as it is answered: true for exactly one caller.
pub async fn take_request<C: Conn>(c: &C, handle_digest: &str) -> Result<bool> {
    let done = authorization_request::Entity::delete_by_id(handle_digest.to_owned())
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// An authorization code as issued.
pub struct StoredCode {
    pub client_id: String,
    pub grant: String,
    pub expires_at: DateTime<Utc>,
    /// Set once it has been spent.
    pub used_at: Option<DateTime<Utc>>,
    /// The session its tokens belong to, once spent.
    pub session_id: Option<Uuid>,
}

pub async fn insert_code<C: Conn>(
    c: &C,
    code_digest: String,
    client_id: &str,
    grant: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    authorization_code::ActiveModel {
        code_hash: Set(code_digest),
        client_id: Set(client_id.to_owned()),
        grant: Set(grant),
        session_id: Set(None),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(c)
    .await?;
    Ok(())
}

pub async fn find_code<C: Conn>(c: &C, code_digest: &str) -> Result<Option<StoredCode>> {
    Ok(authorization_code::Entity::find_by_id(code_digest.to_owned())
        .one(c)
        .await?
        .map(|m| StoredCode {
            client_id: m.client_id,
            grant: m.grant,
            expires_at: m.expires_at,
            used_at: m.used_at,
            session_id: m.session_id,
        }))
}

/// Spends a code for the session its tokens start: true for exactly one caller.
pub async fn spend_code<C: Conn>(c: &C, code_digest: &str, session_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    let done = authorization_code::Entity::update_many()
        .col_expr(authorization_code::Column::UsedAt, Expr::value(now))
        .col_expr(authorization_code::Column::SessionId, Expr::value(session_id))
        .filter(authorization_code::Column::CodeHash.eq(code_digest))
        .filter(authorization_code::Column::UsedAt.is_null())
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// The scopes the user has granted the client, if any.
pub async fn consent<C: Conn>(c: &C, user_id: Uuid, client_id: &str) -> Result<Option<Vec<String>>> {
    Ok(consent::Entity::find_by_id((user_id, client_id.to_owned()))
        .one(c)
        .await?
        .map(|m| m.scopes.split_whitespace().map(String::from).collect()))
}

/// Remembers (or widens) a consent.
pub async fn grant_consent<C: Conn>(
    c: &C,
    user_id: Uuid,
    client_id: &str,
    scopes: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    consent::Entity::insert(consent::ActiveModel {
        user_id: Set(user_id),
        client_id: Set(client_id.to_owned()),
        scopes: Set(scopes.join(" ")),
        granted_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([consent::Column::UserId, consent::Column::ClientId])
            .update_columns([consent::Column::Scopes, consent::Column::GrantedAt])
            .to_owned(),
    )
    .exec(c)
    .await?;
    Ok(())
}

/// The user's consents: client ids, scopes and when.
pub async fn consents_of<C: Conn>(c: &C, user_id: Uuid) -> Result<Vec<(String, Vec<String>, DateTime<Utc>)>> {
    Ok(consent::Entity::find()
        .filter(consent::Column::UserId.eq(user_id))
        .all(c)
        .await?
        .into_iter()
        .map(|m| {
            (
                m.client_id,
                m.scopes.split_whitespace().map(String::from).collect(),
                m.granted_at,
            )
        })
        .collect())
}

/// Forgets a consent; true if there was one.
pub async fn revoke_consent<C: Conn>(c: &C, user_id: Uuid, client_id: &str) -> Result<bool> {
    let done = consent::Entity::delete_by_id((user_id, client_id.to_owned()))
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// A device authorization (RFC 8628) as stored.
pub struct DeviceGrant {
    pub device_code_hash: String,
    pub user_code: String,
    pub client_id: String,
    pub scopes: String,
    pub status: String,
    pub grant: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub interval: i64,
    pub last_polled_at: Option<DateTime<Utc>>,
}

impl From<device_authorization::Model> for DeviceGrant {
    fn from(m: device_authorization::Model) -> Self {
        Self {
            device_code_hash: m.device_code_hash,
            user_code: m.user_code,
            client_id: m.client_id,
            scopes: m.scopes,
            status: m.status,
            grant: m.grant,
            expires_at: m.expires_at,
            interval: i64::from(m.interval),
            last_polled_at: m.last_polled_at,
        }
    }
}

pub async fn insert_device<C: Conn>(c: &C, d: &DeviceGrant, now: DateTime<Utc>) -> Result<()> {
    device_authorization::ActiveModel {
        device_code_hash: Set(d.device_code_hash.clone()),
        user_code: Set(d.user_code.clone()),
        client_id: Set(d.client_id.clone()),
        scopes: Set(d.scopes.clone()),
        status: Set(d.status.clone()),
        grant: Set(d.grant.clone()),
        created_at: Set(now),
        expires_at: Set(d.expires_at),
        interval: Set(i32::try_from(d.interval).unwrap_or(5)),
        last_polled_at: Set(None),
    }
    .insert(c)
    .await?;
    Ok(())
}

pub async fn device_by_user_code<C: Conn>(c: &C, user_code: &str, now: DateTime<Utc>) -> Result<Option<DeviceGrant>> {
    Ok(device_authorization::Entity::find()
        .filter(device_authorization::Column::UserCode.eq(user_code))
        .filter(device_authorization::Column::ExpiresAt.gt(now))
        .one(c)
        .await?
        .map(DeviceGrant::from))
}

pub async fn device_by_code<C: Conn>(c: &C, device_code_digest: &str) -> Result<Option<DeviceGrant>> {
    Ok(device_authorization::Entity::find_by_id(device_code_digest.to_owned())
        .one(c)
        .await?
        .map(DeviceGrant::from))
}

/// Moves a device authorization from `from` to `to` (with the approval's details): true for
/// exactly one caller.
pub async fn settle_device<C: Conn>(
    c: &C,
    device_code_digest: &str,
    from: &str,
    to: &str,
    grant: Option<String>,
) -> Result<bool> {
    let mut update = device_authorization::Entity::update_many()
        .col_expr(device_authorization::Column::Status, Expr::value(to))
        .filter(device_authorization::Column::DeviceCodeHash.eq(device_code_digest))
        .filter(device_authorization::Column::Status.eq(from));
    if let Some(grant) = grant {
        update = update.col_expr(device_authorization::Column::Grant, Expr::value(grant));
    }
    Ok(update.exec(c).await?.rows_affected == 1)
}

/// Records a poll; answers when the previous one was.
pub async fn polled<C: Conn>(c: &C, device_code_digest: &str, now: DateTime<Utc>) -> Result<()> {
    device_authorization::Entity::update_many()
        .col_expr(device_authorization::Column::LastPolledAt, Expr::value(now))
        .filter(device_authorization::Column::DeviceCodeHash.eq(device_code_digest))
        .exec(c)
        .await?;
    Ok(())
}

/// Slows a device down (RFC 8628 §3.5 `slow_down`: the interval grows by five seconds).
pub async fn slow_down<C: Conn>(c: &C, device_code_digest: &str, interval: i64) -> Result<()> {
    device_authorization::Entity::update_many()
        .col_expr(
            device_authorization::Column::Interval,
            Expr::value(i32::try_from(interval).unwrap_or(60)),
        )
        .filter(device_authorization::Column::DeviceCodeHash.eq(device_code_digest))
        .exec(c)
        .await?;
    Ok(())
}

/// Records a client assertion's `jti`: false if it was presented before.
pub async fn spend_assertion<C: Conn>(c: &C, jti_digest: String, expires_at: DateTime<Utc>) -> Result<bool> {
    let inserted = client_assertion::ActiveModel {
        jti_hash: Set(jti_digest),
        expires_at: Set(expires_at),
    }
    .insert(c)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(e) => match super::StoreError::from(e) {
            super::StoreError::Conflict(_) => Ok(false),
            other => Err(other),
        },
    }
}

/// Deletes what has expired before `before`: requests, codes, device authorizations, assertions
/// and ended browser sessions.
pub async fn prune<C: Conn>(c: &C, before: DateTime<Utc>) -> Result<u64> {
    let mut removed = 0;
    removed += authorization_request::Entity::delete_many()
        .filter(authorization_request::Column::ExpiresAt.lt(before))
        .exec(c)
        .await?
        .rows_affected;
    removed += authorization_code::Entity::delete_many()
        .filter(authorization_code::Column::ExpiresAt.lt(before))
        .exec(c)
        .await?
        .rows_affected;
    removed += device_authorization::Entity::delete_many()
        .filter(device_authorization::Column::ExpiresAt.lt(before))
        .exec(c)
        .await?
        .rows_affected;
    removed += client_assertion::Entity::delete_many()
        .filter(client_assertion::Column::ExpiresAt.lt(before))
        .exec(c)
        .await?
        .rows_affected;
    use sea_orm::Condition;
    removed += browser_session::Entity::delete_many()
        .filter(
            Condition::any()
                .add(browser_session::Column::ExpiresAt.lt(before))
                .add(browser_session::Column::RevokedAt.lt(before)),
        )
        .exec(c)
        .await?
        .rows_affected;
    Ok(removed)
}

/// Forgets what a deleted client leaves behind: consents, pending requests, device
/// authorizations (its codes expire within a minute).
pub async fn forget_client<C: Conn>(c: &C, client_id: &str) -> Result<()> {
    consent::Entity::delete_many()
        .filter(consent::Column::ClientId.eq(client_id))
        .exec(c)
        .await?;
    authorization_request::Entity::delete_many()
        .filter(authorization_request::Column::ClientId.eq(client_id))
        .exec(c)
        .await?;
    device_authorization::Entity::delete_many()
        .filter(device_authorization::Column::ClientId.eq(client_id))
        .exec(c)
        .await?;
    Ok(())
}

/// Writes a request's progress (its parameters and chosen organisation).
pub async fn update_request<C: Conn>(c: &C, handle_digest: &str, params: String, org_id: Option<Uuid>) -> Result<()> {
    authorization_request::Entity::update_many()
        .col_expr(authorization_request::Column::Params, Expr::value(params))
        .col_expr(authorization_request::Column::OrgId, Expr::value(org_id))
        .filter(authorization_request::Column::HandleHash.eq(handle_digest))
        .exec(c)
        .await?;
    Ok(())
}
