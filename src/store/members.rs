//! Memberships: who belongs to which organisation, with which roles and directly granted
//! permissions, and each membership's version (`mv`).
use super::{Conn, Result, page};
use crate::model::{OrgMember, Page, PageRequest, User};
use chrono::{DateTime, Utc};
use entity::{member_permission, member_role, org_member, removed_member, role, role_permission, user};
use sea_orm::sea_query::{Expr, Func, JoinType, Query, QueryStatementBuilder};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, ExprTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Makes `user_id` a member of `org_id` with the roles named by `role_keys` (unknown keys are
/// ignored).
pub async fn add<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid, role_keys: &[&str], now: DateTime<Utc>) -> Result<()> {
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
    /// Its roles' permissions and its own, sorted, each once.
    pub permissions: Vec<String>,
    /// The permissions granted to the membership itself (not through a role), sorted.
    pub direct: Vec<String>,
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
    let mut direct: Vec<String> = member_permission::Entity::find()
        .filter(member_permission::Column::MemberId.eq(member.id))
        .all(c)
        .await?
        .into_iter()
        .map(|p| p.permission)
        .collect();
    direct.sort();
    direct.dedup();
    permissions.extend(direct.iter().cloned());
    permissions.sort();
    permissions.dedup();
    Ok(Some(Membership {
        roles,
        permissions,
        direct,
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
pub async fn list<C: Conn>(c: &C, org_id: Uuid, request: PageRequest) -> Result<Page<OrgMember>> {
    list_matching(c, org_id, None, request).await
}

/// The members whose email or display name contains `search` (case-insensitive), a page.
pub async fn list_matching<C: Conn>(
    c: &C,
    org_id: Uuid,
    search: Option<&str>,
    request: PageRequest,
) -> Result<Page<OrgMember>> {
    let mut base = org_member::Entity::find().filter(org_member::Column::OrgId.eq(org_id));
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", super::like_literal(&search.to_lowercase()));
        let like = |col: user::Column| {
            Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(col)))
                .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
        };
        let matching = sea_orm::sea_query::Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .cond_where(
                sea_orm::Condition::any()
                    .add(like(user::Column::Email))
                    .add(like(user::Column::DisplayName)),
            )
            .to_owned();
        base = base.filter(org_member::Column::UserId.in_subquery(matching));
    }
    let total = match request.after {
        None => Some(base.clone().count(c).await?),
        Some(_) => None,
    };
    // One statement a page: the members, their accounts and their role keys.
    let account = org_member::Entity::belongs_to(user::Entity)
        .from(org_member::Column::UserId)
        .to(user::Column::Id)
        .into();
    let mut query = base
        .select_only()
        .column_as(org_member::Column::CreatedAt, "joined_at")
        .columns([
            user::Column::Id,
            user::Column::Email,
            user::Column::Username,
            user::Column::DisplayName,
            user::Column::Active,
            user::Column::Superuser,
            user::Column::EmailVerified,
            user::Column::DefaultOrgId,
            user::Column::CreatedAt,
            user::Column::UpdatedAt,
            user::Column::LastLoginAt,
        ])
        .expr_as(role_keys_of_member(c.get_database_backend()), "role_keys")
        .join(JoinType::InnerJoin, account)
        .order_by_asc(org_member::Column::UserId)
        .limit(request.limit + 1);
    if let Some(after) = request.after {
        query = query.filter(org_member::Column::UserId.gt(after));
    }
    let items = query
        .into_model::<MemberRow>()
        .all(c)
        .await?
        .into_iter()
        .map(OrgMember::from)
        .collect();
    Ok(page::finish(items, request, total, |m: &OrgMember| m.user.id))
}

/// One member of a page as the page's one statement returns it: the membership's date, the
/// account's columns (not its password hash) and the role keys, which the database joins into
/// one string (role keys never hold a comma, `seed::rules::key`).
#[derive(FromQueryResult)]
struct MemberRow {
    joined_at: DateTime<Utc>,
    id: Uuid,
    email: String,
    username: Option<String>,
    display_name: String,
    active: bool,
    superuser: bool,
    email_verified: bool,
    default_org_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    role_keys: Option<String>,
}

impl From<MemberRow> for OrgMember {
    fn from(row: MemberRow) -> Self {
        let mut roles: Vec<String> = row
            .role_keys
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter(|key| !key.is_empty())
            .map(str::to_owned)
            .collect();
        roles.sort();
        OrgMember {
            user: User {
                id: row.id,
                email: row.email,
                username: row.username,
                display_name: row.display_name,
                active: row.active,
                superuser: row.superuser,
                email_verified: row.email_verified,
                default_org_id: row.default_org_id,
                created_at: row.created_at,
                updated_at: row.updated_at,
                last_login_at: row.last_login_at,
            },
            roles,
            joined_at: row.joined_at,
        }
    }
}

/// A member's role keys joined by commas: `group_concat` in SQLite, `string_agg` in PostgreSQL.
fn role_keys_of_member(backend: DbBackend) -> Expr {
    let aggregate = match backend {
        DbBackend::Postgres => "string_agg",
        _ => "group_concat",
    };
    let keys = Query::select()
        .expr(
            Func::cust(aggregate)
                .arg(Expr::col((role::Entity, role::Column::Key)))
                .arg(","),
        )
        .from(member_role::Entity)
        .inner_join(
            role::Entity,
            Expr::col((role::Entity, role::Column::Id)).equals((member_role::Entity, member_role::Column::RoleId)),
        )
        .and_where(
            Expr::col((member_role::Entity, member_role::Column::MemberId))
                .equals((org_member::Entity, org_member::Column::Id)),
        )
        .to_owned();
    Expr::from(keys.into_sub_query_statement())
}

/// Replaces a member's roles with those named (all must exist); false if not a member.
pub async fn set_roles<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid, role_ids: &[Uuid]) -> Result<bool> {
    let Some(member) = member_row(c, org_id, user_id).await? else {
        return Ok(false);
    };
    member_role::Entity::delete_many()
        .filter(member_role::Column::MemberId.eq(member.id))
        .exec(c)
        .await?;
    let rows = role_ids.iter().map(|role_id| member_role::ActiveModel {
        member_id: Set(member.id),
        role_id: Set(*role_id),
    });
    member_role::Entity::insert_many(rows).exec_without_returning(c).await?;
    Ok(true)
}

/// Every membership of an organisation, by user: the membership's id and its role ids (two
/// queries, whatever the number of members).
pub async fn of_org<C: Conn>(c: &C, org_id: Uuid) -> Result<HashMap<Uuid, (Uuid, Vec<Uuid>)>> {
    let rows: Vec<(Uuid, Uuid)> = org_member::Entity::find()
        .select_only()
        .column(org_member::Column::Id)
        .column(org_member::Column::UserId)
        .filter(org_member::Column::OrgId.eq(org_id))
        .into_tuple()
        .all(c)
        .await?;
    let members = org_member::Entity::find()
        .select_only()
        .column(org_member::Column::Id)
        .filter(org_member::Column::OrgId.eq(org_id))
        .into_query();
    let links: Vec<(Uuid, Uuid)> = member_role::Entity::find()
        .select_only()
        .column(member_role::Column::MemberId)
        .column(member_role::Column::RoleId)
        .filter(member_role::Column::MemberId.in_subquery(members))
        .into_tuple()
        .all(c)
        .await?;
    let mut roles: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (member, role) in links {
        roles.entry(member).or_default().push(role);
    }
    Ok(rows
        .into_iter()
        .map(|(id, user)| (user, (id, roles.remove(&id).unwrap_or_default())))
        .collect())
}

/// Makes each user a member of `org_id` (`mv` 1) with the given role ids, in multi-row inserts
/// (the memberships, then their roles).
pub async fn add_many<C: Conn>(c: &C, org_id: Uuid, members: &[(Uuid, Vec<Uuid>)], now: DateTime<Utc>) -> Result<()> {
    let ids: Vec<Uuid> = members.iter().map(|_| Uuid::now_v7()).collect();
    let rows: Vec<_> = members
        .iter()
        .zip(&ids)
        .map(|((user_id, _), id)| org_member::ActiveModel {
            id: Set(*id),
            org_id: Set(org_id),
            user_id: Set(*user_id),
            mv: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    super::insert_rows(c, rows).await?;
    let links = members
        .iter()
        .zip(&ids)
        .flat_map(|((_, roles), id)| roles.iter().map(move |role| (*id, *role)))
        .collect();
    insert_links(c, links).await
}

/// Replaces the roles of memberships (by membership id) with the given role ids.
pub async fn replace_roles_many<C: Conn>(c: &C, members: &[(Uuid, Vec<Uuid>)]) -> Result<()> {
    for chunk in members.chunks(super::ROWS_PER_STATEMENT) {
        member_role::Entity::delete_many()
            .filter(member_role::Column::MemberId.is_in(chunk.iter().map(|(id, _)| *id)))
            .exec(c)
            .await?;
        let links = chunk
            .iter()
            .flat_map(|(id, roles)| roles.iter().map(move |role| (*id, *role)))
            .collect();
        insert_links(c, links).await?;
    }
    Ok(())
}

/// (membership id, role id) rows, in multi-row inserts.
async fn insert_links<C: Conn>(c: &C, links: Vec<(Uuid, Uuid)>) -> Result<()> {
    let rows: Vec<_> = links
        .into_iter()
        .map(|(member, role)| member_role::ActiveModel {
            member_id: Set(member),
            role_id: Set(role),
        })
        .collect();
    super::insert_rows(c, rows).await
}

/// Removes a membership with its roles; false if there was none.
pub async fn remove<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<bool> {
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

/// Increments the membership version of the given users in the organisation. Only
/// `Change::commit` calls this, together with invalidating their contexts.
pub async fn bump_mv<C: Conn>(c: &C, org_id: Uuid, user_ids: &[Uuid], now: DateTime<Utc>) -> Result<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    // In chunks: a bulk change (a seed document) may touch more members than a statement can
    // bind parameters.
    for chunk in user_ids.chunks(super::ROWS_PER_STATEMENT) {
        org_member::Entity::update_many()
            .col_expr(org_member::Column::Mv, Expr::col(org_member::Column::Mv).add(1))
            .col_expr(org_member::Column::UpdatedAt, Expr::value(now))
            .filter(org_member::Column::OrgId.eq(org_id))
            .filter(org_member::Column::UserId.is_in(chunk.iter().copied()))
            .exec(c)
            .await?;
    }
    Ok(())
}

/// Replaces the permissions granted directly to a user's membership (seed 002's per-user
/// permissions; roles are the usual way); false if not a member.
pub async fn set_direct_permissions<C: Conn>(
    c: &C,
    org_id: Uuid,
    user_id: Uuid,
    permissions: &[String],
) -> Result<bool> {
    let Some(member) = member_row(c, org_id, user_id).await? else {
        return Ok(false);
    };
    member_permission::Entity::delete_many()
        .filter(member_permission::Column::MemberId.eq(member.id))
        .exec(c)
        .await?;
    let rows = permissions.iter().map(|permission| member_permission::ActiveModel {
        member_id: Set(member.id),
        permission: Set(permission.clone()),
    });
    member_permission::Entity::insert_many(rows)
        .exec_without_returning(c)
        .await?;
    Ok(true)
}

/// The users holding the role `key` in an organisation.
pub async fn with_role<C: Conn>(c: &C, org_id: Uuid, key: &str) -> Result<Vec<Uuid>> {
    let Some(role) = role::Entity::find()
        .filter(role::Column::OrgId.eq(org_id))
        .filter(role::Column::Key.eq(key))
        .one(c)
        .await?
    else {
        return Ok(Vec::new());
    };
    super::roles::holders(c, org_id, role.id).await
}

/// Remembers that an admin removed this membership (just-in-time provisioning will not bring it
/// back).
pub async fn remember_removal<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    let row = removed_member::ActiveModel {
        org_id: Set(org_id),
        user_id: Set(user_id),
        removed_at: Set(now),
    };
    removed_member::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([removed_member::Column::OrgId, removed_member::Column::UserId])
                .update_column(removed_member::Column::RemovedAt)
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// An admin (or an invitation) brought the membership back: the removal is forgotten.
pub async fn forget_removal<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<()> {
    removed_member::Entity::delete_by_id((org_id, user_id)).exec(c).await?;
    Ok(())
}

/// Whether an admin removed this user from the organisation (and nobody brought them back).
pub async fn was_removed<C: Conn>(c: &C, org_id: Uuid, user_id: Uuid) -> Result<bool> {
    Ok(removed_member::Entity::find_by_id((org_id, user_id))
        .one(c)
        .await?
        .is_some())
}
