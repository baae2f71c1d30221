//! Organisations. Their roles are in `roles`, their memberships in `members`.
use super::{Conn, Result, page};
use crate::model::{Organisation, Page, PageRequest};
use chrono::{DateTime, Utc};
use entity::{
    domain, domain_user, member_role, org_member, organisation, role, role_permission, service_account, session, team,
    team_member, user,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait, QueryFilter};
use uuid::Uuid;

impl From<organisation::Model> for Organisation {
    fn from(m: organisation::Model) -> Self {
        Self {
            id: m.id,
            slug: m.slug,
            name: m.name,
            active: m.active,
            logo_url: m.logo_url,
            require_mfa: m.require_mfa,
            roles_version: m.roles_version,
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
        logo_url: Set(None),
        require_mfa: Set(false),
        roles_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(c)
    .await?;
    for (key, name, permissions) in super::roles::BUILTIN_ROLES {
        let permissions: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
        super::roles::insert(c, org.id, key, name, &permissions, true, now).await?;
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

pub async fn list<C: Conn>(c: &C, only: Option<&[Uuid]>, request: PageRequest) -> Result<Page<Organisation>> {
    let mut base = organisation::Entity::find();
    if let Some(ids) = only {
        base = base.filter(organisation::Column::Id.is_in(ids.iter().copied()));
    }
    page::paginate(c, base, organisation::Column::Id, request, Organisation::from, |o| o.id).await
}

/// What an update of an organisation changes (`None`: left as it is).
#[derive(Debug, Default)]
pub struct OrgUpdate {
    pub name: Option<String>,
    pub active: Option<bool>,
    pub logo_url: Option<Option<String>>,
    pub require_mfa: Option<bool>,
}

pub async fn update<C: Conn>(c: &C, id: Uuid, changes: OrgUpdate, now: DateTime<Utc>) -> Result<Organisation> {
    let OrgUpdate {
        name,
        active,
        logo_url,
        require_mfa,
    } = changes;
    let mut model = organisation::ActiveModel {
        id: Set(id),
        ..Default::default()
    };
    if let Some(require_mfa) = require_mfa {
        model.require_mfa = Set(require_mfa);
    }
    if let Some(name) = name {
        model.name = Set(name);
    }
    if let Some(active) = active {
        model.active = Set(active);
    }
    if let Some(logo_url) = logo_url {
        model.logo_url = Set(logo_url);
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

/// Moves the organisation's roles version (one of its roles changed: every member's `mv` moves
/// with it) and answers the new one.
pub async fn bump_roles_version<C: Conn>(c: &C, org_id: Uuid) -> Result<i64> {
    organisation::Entity::update_many()
        .col_expr(
            organisation::Column::RolesVersion,
            Expr::col(organisation::Column::RolesVersion).add(1),
        )
        .filter(organisation::Column::Id.eq(org_id))
        .exec(c)
        .await?;
    Ok(organisation::Entity::find_by_id(org_id)
        .one(c)
        .await?
        .map_or(0, |m| m.roles_version))
}
