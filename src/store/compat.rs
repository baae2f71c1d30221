//! What the seed services' clients need besides the native model: user numbers (integer ids,
//! assigned by `service::compat::numbers` as accounts are created) and Matrix accounts.
use super::{Conn, Result};
use crate::model::User;
use chrono::{DateTime, Utc};
use entity::{matrix_account, member_permission, member_role, org_member, role, role_permission, user, user_number};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Gives each account the next number, in the order given (a multi-row insert per thousand
/// accounts: an autoincrement column numbers a multi-row insert's rows in order on both
/// databases).
pub async fn assign_numbers<C: Conn>(c: &C, user_ids: &[Uuid]) -> Result<()> {
    for chunk in user_ids.chunks(super::ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|&user_id| user_number::ActiveModel {
            number: NotSet,
            user_id: Set(user_id),
        });
        user_number::Entity::insert_many(rows).exec_without_returning(c).await?;
    }
    Ok(())
}

pub async fn number_of<C: Conn>(c: &C, user_id: Uuid) -> Result<Option<i32>> {
    Ok(user_number::Entity::find()
        .filter(user_number::Column::UserId.eq(user_id))
        .one(c)
        .await?
        .map(|n| n.number))
}

/// The user with this number, if they are a member of `org_id`.
pub async fn member_by_number<C: Conn>(c: &C, org_id: Uuid, number: i32) -> Result<Option<User>> {
    let Some(link) = user_number::Entity::find_by_id(number).one(c).await? else {
        return Ok(None);
    };
    if !super::members::is_member(c, org_id, link.user_id).await? {
        return Ok(None);
    }
    super::users::find(c, link.user_id).await
}

/// A member as seed 002 lists them: number, account, roles and permissions in the organisation.
pub struct NumberedMember {
    pub number: i32,
    pub user: User,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// Members of an organisation ordered by number, `skip` then at most `limit` (four queries).
pub async fn numbered_members<C: Conn>(c: &C, org_id: Uuid, skip: u64, limit: u64) -> Result<Vec<NumberedMember>> {
    let members: HashMap<Uuid, Uuid> = org_member::Entity::find()
        .filter(org_member::Column::OrgId.eq(org_id))
        .all(c)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m.id))
        .collect();
    let numbers = user_number::Entity::find()
        .filter(user_number::Column::UserId.is_in(members.keys().copied()))
        .order_by_asc(user_number::Column::Number)
        .offset(skip)
        .limit(limit)
        .all(c)
        .await?;
    let users: HashMap<Uuid, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(numbers.iter().map(|n| n.user_id)))
        .all(c)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let member_ids: Vec<Uuid> = numbers
        .iter()
        .filter_map(|n| members.get(&n.user_id).copied())
        .collect();
    let grants = grants_of(c, org_id, &member_ids).await?;
    Ok(numbers
        .into_iter()
        .filter_map(|n| {
            let user = users.get(&n.user_id)?.clone();
            let member_id = members.get(&n.user_id)?;
            let (roles, permissions) = grants.get(member_id).cloned().unwrap_or_default();
            Some(NumberedMember {
                number: n.number,
                user: user.into(),
                roles,
                permissions,
            })
        })
        .collect())
}

/// Roles and permissions (role and direct, sorted, unique) of the given memberships.
async fn grants_of<C: Conn>(
    c: &C,
    org_id: Uuid,
    member_ids: &[Uuid],
) -> Result<HashMap<Uuid, (Vec<String>, Vec<String>)>> {
    let links = member_role::Entity::find()
        .filter(member_role::Column::MemberId.is_in(member_ids.iter().copied()))
        .all(c)
        .await?;
    let roles: HashMap<Uuid, String> = role::Entity::find()
        .filter(role::Column::OrgId.eq(org_id))
        .all(c)
        .await?
        .into_iter()
        .map(|r| (r.id, r.key))
        .collect();
    let role_permissions = role_permission::Entity::find()
        .filter(role_permission::Column::RoleId.is_in(roles.keys().copied()))
        .all(c)
        .await?;
    let direct = member_permission::Entity::find()
        .filter(member_permission::Column::MemberId.is_in(member_ids.iter().copied()))
        .all(c)
        .await?;
    let mut out: HashMap<Uuid, (Vec<String>, Vec<String>)> = HashMap::new();
    for link in &links {
        let entry = out.entry(link.member_id).or_default();
        if let Some(key) = roles.get(&link.role_id) {
            entry.0.push(key.clone());
        }
        entry.1.extend(
            role_permissions
                .iter()
                .filter(|p| p.role_id == link.role_id)
                .map(|p| p.permission.clone()),
        );
    }
    for grant in direct {
        out.entry(grant.member_id).or_default().1.push(grant.permission);
    }
    for (roles, permissions) in out.values_mut() {
        roles.sort();
        permissions.sort();
        permissions.dedup();
    }
    Ok(out)
}

pub async fn matrix_user_id<C: Conn>(c: &C, user_id: Uuid) -> Result<Option<String>> {
    Ok(matrix_account::Entity::find_by_id(user_id)
        .one(c)
        .await?
        .map(|m| m.matrix_user_id))
}

pub async fn insert_matrix_account<C: Conn>(
    c: &C,
    user_id: Uuid,
    matrix_user_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    matrix_account::ActiveModel {
        user_id: Set(user_id),
        matrix_user_id: Set(matrix_user_id.to_owned()),
        created_at: Set(now),
    }
    .insert(c)
    .await?;
    Ok(())
}
