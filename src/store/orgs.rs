//! Organisations, their roles and memberships.
use super::{Conn, Result, page};
use crate::model::{OrgMember, Organisation, Page, PageRequest, Role};
use chrono::{DateTime, Utc};
use entity::{
    domain, domain_user, member_role, org_member, organisation, role, role_permission, service_account, session, team,
    team_member, user,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
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
    id: Option<Uuid>,
    slug: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Organisation> {
    let org = organisation::ActiveModel {
        id: Set(id.unwrap_or_else(Uuid::now_v7)),
        slug: Set(slug.to_owned()),
        name: Set(name.to_owned()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(c)
    .await?;
    for (key, name, permissions) in BUILTIN_ROLES {
        let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
        insert_role(c, org.id, key, name, &permissions, true, now).await?;
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

/// A membership's roles (sorted), the union of their permissions and those granted to the
/// membership directly (sorted), and its version.
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
    permissions.extend(super::compat::direct_permissions(c, member.id).await?);
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

pub async fn list<C: Conn>(c: &C, only: Option<&[Uuid]>, request: PageRequest) -> Result<Page<Organisation>> {
    let mut base = organisation::Entity::find();
    if let Some(ids) = only {
        base = base.filter(organisation::Column::Id.is_in(ids.iter().copied()));
    }
    page::paginate(c, base, organisation::Column::Id, request, Organisation::from, |o| o.id).await
}

pub async fn update<C: Conn>(
    c: &C,
    id: Uuid,
    name: Option<String>,
    active: Option<bool>,
    now: DateTime<Utc>,
) -> Result<Organisation> {
    let mut model = organisation::ActiveModel {
        id: Set(id),
        ..Default::default()
    };
    if let Some(name) = name {
        model.name = Set(name);
    }
    if let Some(active) = active {
        model.active = Set(active);
    }
    model.updated_at = Set(now);
    Ok(model.update(c).await?.into())
}

/// Deletes an organisation and everything in it (its users stay: they are global).
pub async fn delete<C: Conn>(c: &C, id: Uuid) -> Result<()> {
    let members: Vec<Uuid> = org_member::Entity::find()
        .filter(org_member::Column::OrgId.eq(id))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    member_role::Entity::delete_many()
        .filter(member_role::Column::MemberId.is_in(members))
        .exec(c)
        .await?;
    org_member::Entity::delete_many()
        .filter(org_member::Column::OrgId.eq(id))
        .exec(c)
        .await?;
    let roles: Vec<Uuid> = role::Entity::find()
        .filter(role::Column::OrgId.eq(id))
        .all(c)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    role_permission::Entity::delete_many()
        .filter(role_permission::Column::RoleId.is_in(roles))
        .exec(c)
        .await?;
    role::Entity::delete_many()
        .filter(role::Column::OrgId.eq(id))
        .exec(c)
        .await?;
    team_member::Entity::delete_many()
        .filter(team_member::Column::OrgId.eq(id))
        .exec(c)
        .await?;
    team::Entity::delete_many()
        .filter(team::Column::OrgId.eq(id))
        .exec(c)
        .await?;
    domain_user::Entity::delete_many()
        .filter(domain_user::Column::OrgId.eq(id))
        .exec(c)
        .await?;
    domain::Entity::update_many()
        .col_expr(domain::Column::ParentId, Expr::value(Option::<Uuid>::None))
        .filter(domain::Column::OrgId.eq(id))
        .exec(c)
        .await?;
    domain::Entity::delete_many()
        .filter(domain::Column::OrgId.eq(id))
        .exec(c)
        .await?;
    service_account::Entity::delete_many()
        .filter(service_account::Column::OrgId.eq(id))
        .exec(c)
        .await?;
    session::Entity::delete_many()
        .filter(session::Column::OrgId.eq(id))
        .exec(c)
        .await?;
    user::Entity::update_many()
        .col_expr(user::Column::DefaultOrgId, Expr::value(Option::<Uuid>::None))
        .filter(user::Column::DefaultOrgId.eq(id))
        .exec(c)
        .await?;
    organisation::Entity::delete_by_id(id).exec(c).await?;
    Ok(())
}

/// The organisations a user belongs to.
pub async fn orgs_of<C: Conn>(c: &C, user_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(org_member::Entity::find()
        .filter(org_member::Column::UserId.eq(user_id))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.org_id)
        .collect())
}

async fn member_row<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<Option<org_member::Model>> {
    Ok(org_member::Entity::find()
        .filter(org_member::Column::OrgId.eq(org_id))
        .filter(org_member::Column::UserId.eq(user_id))
        .one(c)
        .await?)
}

pub async fn is_member<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<bool> {
    Ok(member_row(c, org_id, user_id).await?.is_some())
}

/// Members of an organisation with their roles, ordered by user id.
pub async fn members<C: Conn>(c: &C, org_id: Uuid, request: PageRequest) -> Result<Page<OrgMember>> {
    let base = org_member::Entity::find().filter(org_member::Column::OrgId.eq(org_id));
    let total = match request.after {
        None => Some(base.clone().count(c).await?),
        Some(_) => None,
    };
    let mut query = base.order_by_asc(org_member::Column::UserId).limit(request.limit + 1);
    if let Some(after) = request.after {
        query = query.filter(org_member::Column::UserId.gt(after));
    }
    let rows = query.all(c).await?;
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(rows.iter().map(|r| r.user_id)))
        .all(c)
        .await?;
    let links = member_role::Entity::find()
        .filter(member_role::Column::MemberId.is_in(rows.iter().map(|r| r.id)))
        .all(c)
        .await?;
    let roles = role::Entity::find()
        .filter(role::Column::OrgId.eq(org_id))
        .all(c)
        .await?;
    let items = rows
        .into_iter()
        .filter_map(|row| {
            let user = users.iter().find(|u| u.id == row.user_id)?.clone();
            let mut keys: Vec<String> = links
                .iter()
                .filter(|l| l.member_id == row.id)
                .filter_map(|l| roles.iter().find(|r| r.id == l.role_id).map(|r| r.key.clone()))
                .collect();
            keys.sort();
            Some(OrgMember {
                user: user.into(),
                roles: keys,
                joined_at: row.created_at,
            })
        })
        .collect();
    Ok(page::finish(items, request, total, |m: &OrgMember| m.user.id))
}

/// Replaces a member's roles with those named (all must exist); false if not a member.
pub async fn set_member_roles<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid, role_ids: &[Uuid]) -> Result<bool> {
    let Some(member) = member_row(c, org_id, user_id).await? else {
        return Ok(false);
    };
    member_role::Entity::delete_many()
        .filter(member_role::Column::MemberId.eq(member.id))
        .exec(c)
        .await?;
    for role_id in role_ids {
        member_role::ActiveModel {
            member_id: Set(member.id),
            role_id: Set(*role_id),
        }
        .insert(c)
        .await?;
    }
    Ok(true)
}

/// Removes a membership with its roles; false if there was none.
pub async fn remove_member<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<bool> {
    let Some(member) = member_row(c, org_id, user_id).await? else {
        return Ok(false);
    };
    member_role::Entity::delete_many()
        .filter(member_role::Column::MemberId.eq(member.id))
        .exec(c)
        .await?;
    org_member::Entity::delete_by_id(member.id).exec(c).await?;
    Ok(true)
}

/// Increments the membership version of the given users in the organisation.
pub async fn bump_mv<C: Conn>(c: &C, org_id: Uuid, user_ids: &[Uuid], now: DateTime<Utc>) -> Result<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    org_member::Entity::update_many()
        .col_expr(org_member::Column::Mv, Expr::col(org_member::Column::Mv).add(1))
        .col_expr(org_member::Column::UpdatedAt, Expr::value(now))
        .filter(org_member::Column::OrgId.eq(org_id))
        .filter(org_member::Column::UserId.is_in(user_ids.iter().copied()))
        .exec(c)
        .await?;
    Ok(())
}

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

pub async fn roles<C: Conn>(c: &C, org_id: Uuid) -> Result<Vec<Role>> {
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

pub async fn insert_role<C: Conn>(
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
    set_role_permissions(c, model.id, permissions).await?;
    Ok(Role {
        id: model.id,
        org_id,
        key: model.key,
        name: model.name,
        builtin,
        permissions: permissions.to_vec(),
    })
}

pub async fn set_role_permissions<C: Conn>(c: &C, role_id: Uuid, permissions: &[String]) -> Result<()> {
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

pub async fn rename_role<C: Conn>(c: &C, role_id: Uuid, name: &str) -> Result<()> {
    role::Entity::update_many()
        .col_expr(role::Column::Name, Expr::value(name))
        .filter(role::Column::Id.eq(role_id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn delete_role<C: Conn>(c: &C, org_id: Uuid, role_id: Uuid) -> Result<()> {
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
pub async fn role_holders<C: Conn>(c: &C, org_id: Uuid, role_id: Uuid) -> Result<Vec<Uuid>> {
    let member_ids: Vec<Uuid> = member_role::Entity::find()
        .filter(member_role::Column::RoleId.eq(role_id))
        .all(c)
        .await?
        .into_iter()
        .map(|l| l.member_id)
        .collect();
    Ok(org_member::Entity::find()
        .filter(org_member::Column::OrgId.eq(org_id))
        .filter(org_member::Column::Id.is_in(member_ids))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect())
}
