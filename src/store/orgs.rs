//! Organisations, their roles and memberships.
use super::{Conn, Result};
use crate::model::Organisation;
use chrono::{DateTime, Utc};
use entity::{member_role, org_member, organisation, role, role_permission};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

/// Built-in roles of every organisation and the permissions they start with.
pub const BUILTIN_ROLES: &[(&str, &str, &[&str])] = &[
    ("owner", "Owner", &["*"]),
    ("admin", "Administrator", &["*"]),
    ("member", "Member", &[]),
];

impl From<organisation::Model> for Organisation {
    fn from(m: organisation::Model) -> Self {
        Self {
            id: m.id,
            slug: m.slug,
            name: m.name,
            active: m.active,
            created_at: m.created_at,
        }
    }
}

/// Creates an organisation with its built-in roles.
pub async fn insert<C: Conn>(
    c: &C,
    slug: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Organisation> {
    let org = organisation::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(slug.to_owned()),
        name: Set(name.to_owned()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(c)
    .await?;
    for (key, name, permissions) in BUILTIN_ROLES {
        let role = role::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org.id),
            key: Set((*key).to_owned()),
            name: Set((*name).to_owned()),
            builtin: Set(true),
            created_at: Set(now),
        }
        .insert(c)
        .await?;
        for permission in *permissions {
            role_permission::ActiveModel {
                role_id: Set(role.id),
                permission: Set((*permission).to_owned()),
            }
            .insert(c)
            .await?;
        }
    }
    Ok(org.into())
}

pub async fn find_by_slug<C: Conn>(c: &C, slug: &str) -> Result<Option<Organisation>> {
    Ok(organisation::Entity::find()
        .filter(organisation::Column::Slug.eq(slug))
        .one(c)
        .await?
        .map(Organisation::from))
}

pub async fn find<C: Conn>(c: &C, id: Uuid) -> Result<Option<Organisation>> {
    Ok(organisation::Entity::find_by_id(id)
        .one(c)
        .await?
        .map(Organisation::from))
}

/// Makes `user_id` a member of `org_id` with the roles named by `role_keys` (unknown keys are
/// ignored).
pub async fn add_member<C: Conn>(
    c: &C,
    org_id: Uuid,
    user_id: Uuid,
    role_keys: &[&str],
    now: DateTime<Utc>,
) -> Result<()> {
    let member = org_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        user_id: Set(user_id),
        mv: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(c)
    .await?;
    let roles = role::Entity::find()
        .filter(role::Column::OrgId.eq(org_id))
        .filter(role::Column::Key.is_in(role_keys.iter().copied()))
        .all(c)
        .await?;
    for role in roles {
        member_role::ActiveModel {
            member_id: Set(member.id),
            role_id: Set(role.id),
        }
        .insert(c)
        .await?;
    }
    Ok(())
}

/// A membership's roles (sorted), the union of their permissions (sorted) and its version.
pub struct Membership {
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub mv: i64,
}

pub async fn membership<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<Option<Membership>> {
    let Some(member) = org_member::Entity::find()
        .filter(org_member::Column::OrgId.eq(org_id))
        .filter(org_member::Column::UserId.eq(user_id))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    let role_ids: Vec<Uuid> = member_role::Entity::find()
        .filter(member_role::Column::MemberId.eq(member.id))
        .all(c)
        .await?
        .into_iter()
        .map(|r| r.role_id)
        .collect();
    let mut roles: Vec<String> = role::Entity::find()
        .filter(role::Column::OrgId.eq(org_id))
        .filter(role::Column::Id.is_in(role_ids.clone()))
        .all(c)
        .await?
        .into_iter()
        .map(|r| r.key)
        .collect();
    roles.sort();
    let mut permissions: Vec<String> = role_permission::Entity::find()
        .filter(role_permission::Column::RoleId.is_in(role_ids))
        .all(c)
        .await?
        .into_iter()
        .map(|p| p.permission)
        .collect();
    permissions.sort();
    permissions.dedup();
    Ok(Some(Membership {
        roles,
        permissions,
        mv: member.mv,
    }))
}

/// The organisation a user joined first, for users without a default.
pub async fn first_org_of<C: Conn>(c: &C, user_id: Uuid) -> Result<Option<Uuid>> {
    Ok(org_member::Entity::find()
        .filter(org_member::Column::UserId.eq(user_id))
        .order_by_asc(org_member::Column::CreatedAt)
        .one(c)
        .await?
        .map(|m| m.org_id))
}
