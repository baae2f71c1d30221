//! Passkeys: a user's WebAuthn credentials (webauthn-rs's `Passkey`, kept as its JSON: a public
//! key and a signature counter, nothing secret) and the ceremonies between the request that hands
//! out a challenge and the one that answers it. A ceremony is spent by one conditional DELETE, so
//! of two requests answering the same challenge only one wins.
use super::{Conn, Result};
use chrono::{DateTime, Utc};
use entity::{webauthn_ceremony, webauthn_credential};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub use entity::webauthn_credential::Model as Credential;

/// The user's passkeys, oldest first.
pub async fn of_user<C: Conn>(c: &C, user_id: Uuid) -> Result<Vec<Credential>> {
    Ok(webauthn_credential::Entity::find()
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .order_by_asc(webauthn_credential::Column::CreatedAt)
        .order_by_asc(webauthn_credential::Column::Id)
        .all(c)
        .await?)
}

/// How many passkeys the user has.
pub async fn count<C: Conn>(c: &C, user_id: Uuid) -> Result<u64> {
    Ok(webauthn_credential::Entity::find()
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .count(c)
        .await?)
}

/// The user's passkey with this id.
pub async fn find<C: Conn>(c: &C, user_id: Uuid, id: Uuid) -> Result<Option<Credential>> {
    Ok(webauthn_credential::Entity::find_by_id(id)
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .one(c)
        .await?)
}

/// The passkey with this credential id (base64url), whoever's it is.
pub async fn by_credential_id<C: Conn>(c: &C, credential_id: &str) -> Result<Option<Credential>> {
    Ok(webauthn_credential::Entity::find()
        .filter(webauthn_credential::Column::CredentialId.eq(credential_id))
        .one(c)
        .await?)
}

pub async fn insert<C: Conn>(c: &C, new: Credential) -> Result<()> {
    webauthn_credential::ActiveModel {
        id: Set(new.id),
        user_id: Set(new.user_id),
        credential_id: Set(new.credential_id),
        name: Set(new.name),
        passkey: Set(new.passkey),
        created_at: Set(new.created_at),
        last_used_at: Set(new.last_used_at),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Renames the user's passkey: whether it exists.
pub async fn rename<C: Conn>(c: &C, user_id: Uuid, id: Uuid, name: &str) -> Result<bool> {
    let done = webauthn_credential::Entity::update_many()
        .col_expr(webauthn_credential::Column::Name, name.into())
        .filter(webauthn_credential::Column::Id.eq(id))
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records a use: the credential's new state (its counter) and when.
pub async fn used<C: Conn>(c: &C, id: Uuid, passkey: Option<String>, now: DateTime<Utc>) -> Result<()> {
    let mut update = webauthn_credential::Entity::update_many()
        .col_expr(webauthn_credential::Column::LastUsedAt, now.into())
        .filter(webauthn_credential::Column::Id.eq(id));
    if let Some(passkey) = passkey {
        update = update.col_expr(webauthn_credential::Column::Passkey, passkey.into());
    }
    update.exec(c).await?;
    Ok(())
}

/// Removes the user's passkey: whether it existed.
pub async fn delete<C: Conn>(c: &C, user_id: Uuid, id: Uuid) -> Result<bool> {
    Ok(webauthn_credential::Entity::delete_many()
        .filter(webauthn_credential::Column::Id.eq(id))
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .exec(c)
        .await?
        .rows_affected
        == 1)
}

/// Removes every passkey of the user: how many there were.
pub async fn delete_all<C: Conn>(c: &C, user_id: Uuid) -> Result<u64> {
    Ok(webauthn_credential::Entity::delete_many()
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .exec(c)
        .await?
        .rows_affected)
}

pub use entity::webauthn_ceremony::Model as Ceremony;

pub async fn insert_ceremony<C: Conn>(c: &C, new: Ceremony) -> Result<()> {
    webauthn_ceremony::ActiveModel {
        id: Set(new.id),
        user_id: Set(new.user_id),
        kind: Set(new.kind),
        flow: Set(new.flow),
        state: Set(new.state),
        expires_at: Set(new.expires_at),
        created_at: Set(new.created_at),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Takes the live ceremony with this id and kind out of the table: it is returned once.
pub async fn take_ceremony<C: Conn>(c: &C, id: Uuid, kind: &str, now: DateTime<Utc>) -> Result<Option<Ceremony>> {
    let Some(found) = webauthn_ceremony::Entity::find_by_id(id)
        .filter(webauthn_ceremony::Column::Kind.eq(kind))
        .filter(webauthn_ceremony::Column::ExpiresAt.gt(now))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    let done = webauthn_ceremony::Entity::delete_by_id(id).exec(c).await?;
    Ok((done.rows_affected == 1).then_some(found))
}

/// Deletes ceremonies that expired before `cutoff` (housekeeping).
pub async fn prune_ceremonies<C: Conn>(c: &C, cutoff: DateTime<Utc>) -> Result<u64> {
    Ok(webauthn_ceremony::Entity::delete_many()
        .filter(webauthn_ceremony::Column::ExpiresAt.lt(cutoff))
        .exec(c)
        .await?
        .rows_affected)
}
