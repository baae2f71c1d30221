//! Service accounts. The secret is kept only as its SHA-256 (it is 256 random bits, so a slow
//! hash buys nothing and would put argon2 on the introspection path).
use super::{Conn, Result};
use crate::model::ServiceAccount;
use chrono::{DateTime, Utc};
use entity::service_account;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

fn from_model(m: service_account::Model) -> (ServiceAccount, String) {
    let account = ServiceAccount {
        id: m.id,
        org_id: m.org_id,
        client_id: m.client_id,
        name: m.name,
        permissions: m.permissions.split_whitespace().map(String::from).collect(),
        active: m.active,
        created_at: m.created_at,
    };
    (account, m.secret_hash)
}

pub async fn insert<C: Conn>(
    c: &C,
    org_id: Uuid,
    client_id: &str,
    secret_digest: String,
    name: &str,
    permissions: &[String],
    now: DateTime<Utc>,
) -> Result<ServiceAccount> {
    let model = service_account::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        client_id: Set(client_id.to_owned()),
        secret_hash: Set(secret_digest),
        name: Set(name.to_owned()),
        permissions: Set(permissions.join(" ")),
        active: Set(true),
        created_at: Set(now),
    }
    .insert(c)
    .await?;
    Ok(from_model(model).0)
}

pub async fn list<C: Conn>(c: &C, org_id: Uuid) -> Result<Vec<ServiceAccount>> {
    Ok(service_account::Entity::find()
        .filter(service_account::Column::OrgId.eq(org_id))
        .order_by_asc(service_account::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(|m| from_model(m).0)
        .collect())
}

pub async fn find<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<Option<ServiceAccount>> {
    Ok(service_account::Entity::find_by_id(id)
        .filter(service_account::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(|m| from_model(m).0))
}

/// The account with this client id, with its secret digest.
pub async fn by_client_id<C: Conn>(c: &C, client_id: &str) -> Result<Option<(ServiceAccount, String)>> {
    Ok(service_account::Entity::find()
        .filter(service_account::Column::ClientId.eq(client_id))
        .one(c)
        .await?
        .map(from_model))
}

pub async fn by_id<C: Conn>(c: &C, id: Uuid) -> Result<Option<ServiceAccount>> {
    Ok(service_account::Entity::find_by_id(id)
        .one(c)
        .await?
        .map(|m| from_model(m).0))
}

pub async fn delete<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<bool> {
    let done = service_account::Entity::delete_many()
        .filter(service_account::Column::OrgId.eq(org_id))
        .filter(service_account::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Renames an account, replaces its permissions and, when given, its secret's digest.
pub async fn update<C: Conn>(
    c: &C,
    id: Uuid,
    name: &str,
    permissions: &[String],
    secret_digest: Option<String>,
) -> Result<()> {
    let mut model = service_account::ActiveModel {
        id: Set(id),
        name: Set(name.to_owned()),
        permissions: Set(permissions.join(" ")),
        ..Default::default()
    };
    if let Some(digest) = secret_digest {
        model.secret_hash = Set(digest);
    }
    model.update(c).await?;
    Ok(())
}
