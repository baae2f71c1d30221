//! Domains and domain assignments. Every query is filtered by organisation.
use super::{Conn, Result};
use crate::model::Domain;
use chrono::{DateTime, Utc};
use entity::{domain, domain_user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

impl From<domain::Model> for Domain {
    fn from(m: domain::Model) -> Self {
        Self {
            id: m.id,
            org_id: m.org_id,
            key: m.key,
            name: m.name,
            parent_id: m.parent_id,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

pub struct NewDomain {
    pub id: Option<Uuid>,
    pub key: String,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub active: bool,
}

pub async fn insert<C: Conn>(c: &C, org_id: Uuid, new: NewDomain, now: DateTime<Utc>) -> Result<Domain> {
    Ok(domain::ActiveModel {
        id: Set(new.id.unwrap_or_else(Uuid::now_v7)),
        org_id: Set(org_id),
        key: Set(new.key),
        name: Set(new.name),
        parent_id: Set(new.parent_id),
        active: Set(new.active),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(c)
    .await?
    .into())
}

/// Every domain of the organisation.
pub async fn list<C: Conn>(c: &C, org_id: Uuid) -> Result<Vec<Domain>> {
    Ok(domain::Entity::find()
        .filter(domain::Column::OrgId.eq(org_id))
        .order_by_asc(domain::Column::Key)
        .all(c)
        .await?
        .into_iter()
        .map(Domain::from)
        .collect())
}

pub async fn find<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<Option<Domain>> {
    Ok(domain::Entity::find_by_id(id)
        .filter(domain::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(Domain::from))
}

pub struct DomainChanges {
    pub key: Option<String>,
    pub name: Option<String>,
    pub parent_id: Option<Option<Uuid>>,
    pub active: Option<bool>,
}

pub async fn update<C: Conn>(c: &C, id: Uuid, changes: DomainChanges, now: DateTime<Utc>) -> Result<Domain> {
    let mut model = domain::ActiveModel {
        id: Set(id),
        ..Default::default()
    };
    if let Some(key) = changes.key {
        model.key = Set(key);
    }
    if let Some(name) = changes.name {
        model.name = Set(name);
    }
    if let Some(parent) = changes.parent_id {
        model.parent_id = Set(parent);
    }
    if let Some(active) = changes.active {
        model.active = Set(active);
    }
    model.updated_at = Set(now);
    Ok(model.update(c).await?.into())
}

/// Deletes domains (a subtree, children first) and their assignments.
pub async fn delete_many<C: Conn>(c: &C, org_id: Uuid, ids_children_first: &[Uuid]) -> Result<()> {
    domain_user::Entity::delete_many()
        .filter(domain_user::Column::OrgId.eq(org_id))
        .filter(domain_user::Column::DomainId.is_in(ids_children_first.iter().copied()))
        .exec(c)
        .await?;
    for id in ids_children_first {
        domain::Entity::delete_many()
            .filter(domain::Column::OrgId.eq(org_id))
            .filter(domain::Column::Id.eq(*id))
            .exec(c)
            .await?;
    }
    Ok(())
}

/// The domains a user is assigned to in an organisation.
pub async fn assigned<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(domain_user::Entity::find()
        .filter(domain_user::Column::OrgId.eq(org_id))
        .filter(domain_user::Column::UserId.eq(user_id))
        .all(c)
        .await?
        .into_iter()
        .map(|a| a.domain_id)
        .collect())
}

/// Users assigned to any of the given domains, or to any domain of the organisation when `None`.
pub async fn assigned_users<C: Conn>(c: &C, org_id: Uuid, domains: Option<&[Uuid]>) -> Result<Vec<Uuid>> {
    let mut query = domain_user::Entity::find().filter(domain_user::Column::OrgId.eq(org_id));
    if let Some(ids) = domains {
        query = query.filter(domain_user::Column::DomainId.is_in(ids.iter().copied()));
    }
    let mut users: Vec<Uuid> = query.all(c).await?.into_iter().map(|a| a.user_id).collect();
    users.sort();
    users.dedup();
    Ok(users)
}

/// Assigns; false if the assignment existed.
pub async fn assign<C: Conn>(c: &C, org_id: Uuid, domain_id: Uuid, user_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    if domain_user::Entity::find_by_id((domain_id, user_id))
        .one(c)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    domain_user::ActiveModel {
        domain_id: Set(domain_id),
        user_id: Set(user_id),
        org_id: Set(org_id),
        created_at: Set(now),
    }
    .insert(c)
    .await?;
    Ok(true)
}

pub async fn unassign<C: Conn>(c: &C, org_id: Uuid, domain_id: Uuid, user_id: Uuid) -> Result<bool> {
    let done = domain_user::Entity::delete_many()
        .filter(domain_user::Column::OrgId.eq(org_id))
        .filter(domain_user::Column::DomainId.eq(domain_id))
        .filter(domain_user::Column::UserId.eq(user_id))
        .exec(c)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Removes every assignment of the user in the organisation.
pub async fn remove_user<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<()> {
    domain_user::Entity::delete_many()
        .filter(domain_user::Column::OrgId.eq(org_id))
        .filter(domain_user::Column::UserId.eq(user_id))
        .exec(c)
        .await?;
    Ok(())
}

/// Every domain assignment in an organisation, by user (one query).
pub async fn assignments_in_org<C: Conn>(c: &C, org_id: Uuid) -> Result<HashMap<Uuid, Vec<Uuid>>> {
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for a in domain_user::Entity::find()
        .filter(domain_user::Column::OrgId.eq(org_id))
        .all(c)
        .await?
    {
        out.entry(a.user_id).or_default().push(a.domain_id);
    }
    Ok(out)
}

/// Adds assignments (domain id, user id) that do not exist yet, in multi-row inserts.
pub async fn assign_many<C: Conn>(c: &C, org_id: Uuid, assignments: &[(Uuid, Uuid)], now: DateTime<Utc>) -> Result<()> {
    let rows: Vec<_> = assignments
        .iter()
        .map(|(domain_id, user_id)| domain_user::ActiveModel {
            domain_id: Set(*domain_id),
            user_id: Set(*user_id),
            org_id: Set(org_id),
            created_at: Set(now),
        })
        .collect();
    super::insert_rows(c, rows).await
}
