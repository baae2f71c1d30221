//! Roles of an organisation and their permissions.
use super::{Conn, Result};
use crate::model::Role;
use chrono::{DateTime, Utc};
use entity::{member_role, org_member, role, role_permission};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// Built-in roles of every organisation and the permissions they start with.
pub const BUILTIN_ROLES: &[(&str, &str, &[&str])] = &[
    ("owner", "Owner", &["*"]),
    ("admin", "Administrator", &["*"]),
    ("member", "Member", &[]),
];

fn role_from(m: role::Model, permissions: &[role_permission::Model]) -> Role {
    let mut perms: Vec<String> = permissions
        .iter()
        .filter(|p| p.role_id == m.id)
        .map(|p| p.permission.clone())
        .collect();
    perms.sort();
    Role {
        id: m.id,
        org_id: m.org_id,
        key: m.key,
        name: m.name,
        builtin: m.builtin,
        permissions: perms,
    }
}

pub async fn list<C: Conn>(c: &C, org_id: Uuid) -> Result<Vec<Role>> {
    let roles = role::Entity::find()
        .filter(role::Column::OrgId.eq(org_id))
        .order_by_asc(role::Column::Key)
        .all(c)
        .await?;
    let perms = role_permission::Entity::find()
        .filter(role_permission::Column::RoleId.is_in(roles.iter().map(|r| r.id)))
        .all(c)
        .await?;
    Ok(roles.into_iter().map(|r| role_from(r, &perms)).collect())
}

pub async fn insert<C: Conn>(
    c: &C,
    org_id: Uuid,
    key: &str,
    name: &str,
    permissions: &[String],
    builtin: bool,
    now: DateTime<Utc>,
) -> Result<Role> {
    let model = role::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org_id),
        key: Set(key.to_owned()),
        name: Set(name.to_owned()),
        builtin: Set(builtin),
        created_at: Set(now),
    }
    .insert(c)
    .await?;
    set_permissions(c, model.id, permissions).await?;
    Ok(Role {
        id: model.id,
        org_id,
        key: model.key,
        name: model.name,
        builtin,
        permissions: permissions.to_vec(),
    })
}

pub async fn set_permissions<C: Conn>(c: &C, role_id: Uuid, permissions: &[String]) -> Result<()> {
    role_permission::Entity::delete_many()
        .filter(role_permission::Column::RoleId.eq(role_id))
        .exec(c)
        .await?;
    let mut unique: Vec<&String> = permissions.iter().collect();
    unique.sort();
    unique.dedup();
    for permission in unique {
        role_permission::ActiveModel {
            role_id: Set(role_id),
            permission: Set(permission.clone()),
        }
        .insert(c)
        .await?;
    }
    Ok(())
}

pub async fn rename<C: Conn>(c: &C, role_id: Uuid, name: &str) -> Result<()> {
    role::Entity::update_many()
        .col_expr(role::Column::Name, Expr::value(name))
        .filter(role::Column::Id.eq(role_id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn delete<C: Conn>(c: &C, org_id: Uuid, role_id: Uuid) -> Result<()> {
    member_role::Entity::delete_many()
        .filter(member_role::Column::RoleId.eq(role_id))
        .exec(c)
        .await?;
    role_permission::Entity::delete_many()
        .filter(role_permission::Column::RoleId.eq(role_id))
        .exec(c)
        .await?;
    role::Entity::delete_many()
        .filter(role::Column::Id.eq(role_id))
        .filter(role::Column::OrgId.eq(org_id))
        .exec(c)
        .await?;
    Ok(())
}

/// Users holding a role.
pub async fn holders<C: Conn>(c: &C, org_id: Uuid, role_id: Uuid) -> Result<Vec<Uuid>> {
    use sea_orm::{QuerySelect, QueryTrait};
    // A subquery, not a list of member ids: a role may be held by more members than a
    // statement can bind parameters (32,766 on SQLite, 65,535 on PostgreSQL).
    let member_ids = member_role::Entity::find()
        .select_only()
        .column(member_role::Column::MemberId)
        .filter(member_role::Column::RoleId.eq(role_id))
        .into_query();
    Ok(org_member::Entity::find()
        .select_only()
        .column(org_member::Column::UserId)
        .filter(org_member::Column::OrgId.eq(org_id))
        .filter(org_member::Column::Id.in_subquery(member_ids))
        .into_tuple::<Uuid>()
        .all(c)
        .await?)
}
