//! Sessions and their refresh tokens.
use super::{Conn, Result};
use crate::model::{Authentication, Page, PageRequest, Session, TokenGrant};
use chrono::{DateTime, Utc};
use entity::{refresh_token, session};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

impl From<session::Model> for Session {
    fn from(m: session::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            org_id: m.org_id,
            user_agent: m.user_agent,
            ip: m.ip,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            client_id: m.client_id,
            browser_session_id: m.browser_session_id,
            auth: Authentication {
                time: m.auth_time,
                methods: m
                    .amr
                    .map(|a| a.split_whitespace().map(String::from).collect())
                    .unwrap_or_default(),
            },
            grant: TokenGrant {
                scope: m.scope,
                audience: m.audience,
                access_ttl: m.access_ttl.map(i64::from),
                refresh_ttl: m.refresh_ttl.map(i64::from),
            },
        }
    }
}

pub async fn insert<C: Conn>(c: &C, s: &Session) -> Result<()> {
    session::ActiveModel {
        id: Set(s.id),
        user_id: Set(s.user_id),
        org_id: Set(s.org_id),
        user_agent: Set(s.user_agent.clone()),
        ip: Set(s.ip.clone()),
        created_at: Set(s.created_at),
        last_used_at: Set(s.last_used_at),
        expires_at: Set(s.expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        client_id: Set(s.client_id.clone()),
        browser_session_id: Set(s.browser_session_id),
        auth_time: Set(s.auth.time),
        amr: Set((!s.auth.methods.is_empty()).then(|| s.auth.methods.join(" "))),
        scope: Set(s.grant.scope.clone()),
        audience: Set(s.grant.audience.clone()),
        access_ttl: Set(s.grant.access_ttl.and_then(|t| i32::try_from(t).ok())),
        refresh_ttl: Set(s.grant.refresh_ttl.and_then(|t| i32::try_from(t).ok())),
    }
    .insert(c)
    .await?;
    Ok(())
}

pub async fn find<C: Conn>(c: &C, id: Uuid) -> Result<Option<Session>> {
    Ok(session::Entity::find_by_id(id).one(c).await?.map(Session::from))
}

/// One page of the user's sessions that are neither revoked nor expired, newest first (by id:
/// UUIDv7, so by creation); the total on the first page.
pub async fn list_live<C: Conn>(
    c: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
    request: PageRequest,
) -> Result<Page<Session>> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    let base = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now));
    let total = match request.after {
        None => Some(base.clone().count(c).await?),
        Some(_) => None,
    };
    let mut query = base.order_by_desc(session::Column::Id).limit(request.limit + 1);
    if let Some(after) = request.after {
        query = query.filter(session::Column::Id.lt(after));
    }
    let items = query.all(c).await?.into_iter().map(Session::from).collect();
    Ok(super::page::finish(items, request, total, |s: &Session| s.id))
}

/// Marks a session used now and returns it, whatever its state (one statement: the caller
/// decides, in the same transaction, whether it may be used).
pub async fn use_now<C: Conn>(c: &C, id: Uuid, now: DateTime<Utc>) -> Result<Option<Session>> {
    Ok(session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .filter(session::Column::Id.eq(id))
        .exec_with_returning(c)
        .await?
        .into_iter()
        .next()
        .map(Session::from))
}

/// Marks a session used now, for the organisation its new tokens are for.
pub async fn touch<C: Conn>(c: &C, id: Uuid, org_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .col_expr(session::Column::OrgId, Expr::value(org_id))
        .filter(session::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Whose sessions a revocation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionsOf {
    Session(Uuid),
    User(Uuid),
    /// Every session of the user but one (theirs, as they change their password).
    UserExcept {
        user: Uuid,
        keep: Uuid,
    },
    UserInOrg {
        user: Uuid,
        org: Uuid,
    },
    Org(Uuid),
    /// Every session started from a browser session (single sign-on logout).
    Browser(Uuid),
}

/// Revokes every unrevoked session of `whose` in one statement; returns the ids it revoked.
pub async fn revoke<C: Conn>(c: &C, whose: SessionsOf, reason: &str, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .col_expr(session::Column::RevokedReason, Expr::value(reason))
        .filter(session::Column::RevokedAt.is_null());
    update = match whose {
        SessionsOf::Session(id) => update.filter(session::Column::Id.eq(id)),
        SessionsOf::User(user) => update.filter(session::Column::UserId.eq(user)),
        SessionsOf::UserExcept { user, keep } => update
            .filter(session::Column::UserId.eq(user))
            .filter(session::Column::Id.ne(keep)),
        SessionsOf::UserInOrg { user, org } => update
            .filter(session::Column::UserId.eq(user))
            .filter(session::Column::OrgId.eq(org)),
        SessionsOf::Org(org) => update.filter(session::Column::OrgId.eq(org)),
        SessionsOf::Browser(id) => update.filter(session::Column::BrowserSessionId.eq(id)),
    };
    Ok(update.exec_with_returning(c).await?.into_iter().map(|s| s.id).collect())
}

/// A stored refresh token.
pub struct RefreshToken {
    pub id: Uuid,
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

pub async fn insert_refresh<C: Conn>(
    c: &C,
    session_id: Uuid,
    digest: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let new = NewRefresh {
        session_id,
        digest,
        expires_at,
    };
    insert_refresh_many(c, vec![new], now).await
}

pub async fn find_refresh<C: Conn>(c: &C, digest: &str) -> Result<Option<RefreshToken>> {
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(digest))
        .one(c)
        .await?
        .map(|m| RefreshToken {
            id: m.id,
            session_id: m.session_id,
            expires_at: m.expires_at,
            used_at: m.used_at,
        }))
}

/// A refresh token spent just now.
pub struct Spent {
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

impl From<&refresh_token::Model> for Spent {
    fn from(m: &refresh_token::Model) -> Self {
        Self {
            session_id: m.session_id,
            expires_at: m.expires_at,
        }
    }
}

/// Spends the refresh token with this digest, in one statement: `Some` for exactly one caller
/// however many race for it; `None` when it is unknown or was spent already (`find_refresh`
/// tells which).
pub async fn spend_refresh<C: Conn>(c: &C, digest: &str, now: DateTime<Utc>) -> Result<Option<Spent>> {
    Ok(refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::TokenHash.eq(digest))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec_with_returning(c)
        .await?
        .first()
        .map(Spent::from))
}

/// The unspent refresh tokens among these digests (a group of rotations reads them at once):
/// digest, session and expiry.
pub async fn unspent_refresh<C: Conn>(c: &C, digests: &[&str]) -> Result<Vec<(String, Spent)>> {
    let mut found = Vec::with_capacity(digests.len());
    for chunk in digests.chunks(super::ROWS_PER_STATEMENT) {
        let rows = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.is_in(chunk.iter().copied()))
            .filter(refresh_token::Column::UsedAt.is_null())
            .all(c)
            .await?;
        found.extend(rows.into_iter().map(|m| {
            let spent = Spent::from(&m);
            (m.token_hash, spent)
        }));
    }
    Ok(found)
}

/// Spends the unspent refresh tokens among these digests in one statement per thousand; the
/// digests it spent (a token another writer spent first is not among them).
pub async fn spend_many<C: Conn>(c: &C, digests: &[&str], now: DateTime<Utc>) -> Result<Vec<String>> {
    let mut spent = Vec::with_capacity(digests.len());
    for chunk in digests.chunks(super::ROWS_PER_STATEMENT) {
        let rows = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
            .filter(refresh_token::Column::TokenHash.is_in(chunk.iter().copied()))
            .filter(refresh_token::Column::UsedAt.is_null())
            .exec_with_returning(c)
            .await?;
        spent.extend(rows.into_iter().map(|m| m.token_hash));
    }
    Ok(spent)
}

/// These sessions (those that exist).
pub async fn find_many<C: Conn>(c: &C, ids: &[Uuid]) -> Result<Vec<Session>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(super::ROWS_PER_STATEMENT) {
        let rows = session::Entity::find()
            .filter(session::Column::Id.is_in(chunk.iter().copied()))
            .all(c)
            .await?;
        found.extend(rows.into_iter().map(Session::from));
    }
    Ok(found)
}

/// Marks these sessions used now.
pub async fn use_many<C: Conn>(c: &C, ids: &[Uuid], now: DateTime<Utc>) -> Result<()> {
    for chunk in ids.chunks(super::ROWS_PER_STATEMENT) {
        session::Entity::update_many()
            .col_expr(session::Column::LastUsedAt, Expr::value(now))
            .filter(session::Column::Id.is_in(chunk.iter().copied()))
            .exec(c)
            .await?;
    }
    Ok(())
}

/// A refresh token to store: its session, digest and expiry.
pub struct NewRefresh {
    pub session_id: Uuid,
    pub digest: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores refresh tokens issued now, in one multi-row insert per thousand.
pub async fn insert_refresh_many<C: Conn>(c: &C, new: Vec<NewRefresh>, now: DateTime<Utc>) -> Result<()> {
    let rows: Vec<_> = new
        .into_iter()
        .map(|new| refresh_token::ActiveModel {
            id: Set(Uuid::now_v7()),
            session_id: Set(new.session_id),
            token_hash: Set(new.digest),
            created_at: Set(now),
            expires_at: Set(new.expires_at),
            used_at: Set(None),
        })
        .collect();
    super::insert_rows(c, rows).await
}

/// Sessions revoked since `since` (their access tokens may still be unexpired).
pub async fn revoked_since<C: Conn>(c: &C, since: DateTime<Utc>) -> Result<Vec<(Uuid, DateTime<Utc>)>> {
    Ok(session::Entity::find()
        .filter(session::Column::RevokedAt.gt(since))
        .all(c)
        .await?
        .into_iter()
        .filter_map(|s| Some((s.id, s.revoked_at?)))
        .collect())
}

/// Deletes sessions (with their refresh tokens) that ended or expired before `before`.
pub async fn prune<C: Conn>(c: &C, before: DateTime<Utc>) -> Result<u64> {
    use sea_orm::Condition;
    let ended = Condition::any()
        .add(session::Column::ExpiresAt.lt(before))
        .add(session::Column::RevokedAt.lt(before));
    let ids: Vec<Uuid> = session::Entity::find()
        .filter(ended.clone())
        .all(c)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    for chunk in ids.chunks(500) {
        refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::SessionId.is_in(chunk.iter().copied()))
            .exec(c)
            .await?;
    }
    Ok(session::Entity::delete_many()
        .filter(ended)
        .exec(c)
        .await?
        .rows_affected)
}

/// The ids of a user's live sessions, oldest first, at most `limit`.
pub async fn oldest_live<C: Conn>(c: &C, user_id: Uuid, now: DateTime<Utc>, limit: u64) -> Result<Vec<Uuid>> {
    use sea_orm::QuerySelect;
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_asc(session::Column::CreatedAt)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect())
}

/// How many live sessions a user has.
pub async fn count_live<C: Conn>(c: &C, user_id: Uuid, now: DateTime<Utc>) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .count(c)
        .await?)
}

/// The ids of the live sessions of an application.
pub async fn live_of_client<C: Conn>(c: &C, client_id: &str, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
    Ok(session::Entity::find()
        .filter(session::Column::ClientId.eq(client_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .all(c)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect())
}

/// The ids of the live sessions of a user with an application.
pub async fn live_of_user_client<C: Conn>(
    c: &C,
    user_id: Uuid,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>> {
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::ClientId.eq(client_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .all(c)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect())
}

/// The live sessions started from a browser session.
pub async fn live_of_browser<C: Conn>(c: &C, browser_session_id: Uuid, now: DateTime<Utc>) -> Result<Vec<Session>> {
    Ok(session::Entity::find()
        .filter(session::Column::BrowserSessionId.eq(browser_session_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .all(c)
        .await?
        .into_iter()
        .map(Session::from)
        .collect())
}
