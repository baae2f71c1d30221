//! Users.
use super::{Conn, Result, page};
use crate::model::{Page, PageRequest, User};
use chrono::{DateTime, Utc};
use entity::{org_member, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
use std::collections::HashMap;
use uuid::Uuid;

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        Self {
            id: m.id,
            email: m.email,
            username: m.username,
            display_name: m.display_name,
            active: m.active,
            superuser: m.superuser,
            email_verified: m.email_verified,
            default_org_id: m.default_org_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_login_at: m.last_login_at,
        }
    }
}

/// A user to create; `email` and `username` already normalised.
pub struct NewUser {
    pub id: Option<Uuid>,
    pub email: String,
    pub username: Option<String>,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub superuser: bool,
    /// Proven: by a verification mail or an invitation, a provider's `email_verified`, a
    /// superuser creating the account, or an operator's seed document with a password. Not by
    /// self-registration, development headers or an organisation's admin.
    pub email_verified: bool,
    pub default_org_id: Option<Uuid>,
}

/// A new account's row (active, never logged in).
fn row(new: NewUser, now: DateTime<Utc>) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(new.id.unwrap_or_else(Uuid::now_v7)),
        email: Set(new.email),
        username_skeleton: Set(new.username.as_deref().map(migration::username_skeleton)),
        username: Set(new.username),
        display_name: Set(new.display_name),
        password_hash: Set(new.password_hash),
        active: Set(true),
        superuser: Set(new.superuser),
        email_verified: Set(new.email_verified),
        default_org_id: Set(new.default_org_id),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
    }
}

/// Creates an account.
pub async fn insert<C: Conn>(c: &C, new: NewUser, now: DateTime<Utc>) -> Result<User> {
    let model = row(new, now).insert(c).await?;
    Ok(model.into())
}

/// Creates many accounts (each with its `id` chosen, active), in multi-row inserts.
pub async fn insert_many<C: Conn>(c: &C, new: Vec<NewUser>, now: DateTime<Utc>) -> Result<()> {
    super::insert_rows(c, new.into_iter().map(|new| row(new, now)).collect()).await
}

pub async fn find<C: Conn>(c: &C, id: Uuid) -> Result<Option<User>> {
    Ok(user::Entity::find_by_id(id).one(c).await?.map(User::from))
}

pub async fn find_by_email<C: Conn>(c: &C, email: &str) -> Result<Option<User>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(c)
        .await?
        .map(User::from))
}

/// The user whose email or username is `login` (already lower-cased), with its password hash.
pub async fn find_credentials<C: Conn>(c: &C, login: &str) -> Result<Option<(User, Option<String>)>> {
    let column = if login.contains('@') {
        user::Column::Email
    } else {
        user::Column::Username
    };
    Ok(user::Entity::find().filter(column.eq(login)).one(c).await?.map(|m| {
        let hash = m.password_hash.clone();
        (User::from(m), hash)
    }))
}

/// The accounts with these emails (already normalised), with their password hashes, by email;
/// any number of emails (asked in chunks).
pub async fn credentials_by_email<C: Conn>(
    c: &C,
    emails: &[String],
) -> Result<HashMap<String, (User, Option<String>)>> {
    let mut found = HashMap::new();
    for chunk in emails.chunks(super::ROWS_PER_STATEMENT) {
        let rows = user::Entity::find()
            .filter(user::Column::Email.is_in(chunk.iter().cloned()))
            .all(c)
            .await?;
        for m in rows {
            let hash = m.password_hash.clone();
            found.insert(m.email.clone(), (User::from(m), hash));
        }
    }
    Ok(found)
}

/// An account's password hash (none for accounts that log in elsewhere).
pub async fn password_hash<C: Conn>(c: &C, id: Uuid) -> Result<Option<String>> {
    Ok(user::Entity::find_by_id(id).one(c).await?.and_then(|m| m.password_hash))
}

/// Records a login: its time and the organisation it was for (the next login's default).
pub async fn record_login<C: Conn>(c: &C, id: Uuid, org_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    user::Entity::update_many()
        .col_expr(user::Column::LastLoginAt, Expr::value(now))
        .col_expr(user::Column::DefaultOrgId, Expr::value(org_id))
        .filter(user::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

/// Enables or disables an account.
pub async fn set_active<C: Conn>(c: &C, id: Uuid, active: bool, now: DateTime<Utc>) -> Result<bool> {
    let done = user::Entity::update_many()
        .col_expr(user::Column::Active, Expr::value(active))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Users, ordered by id; only members of `org_id` when given.
pub async fn list<C: Conn>(c: &C, org_id: Option<Uuid>, request: PageRequest) -> Result<Page<User>> {
    let mut base = user::Entity::find();
    if let Some(org_id) = org_id {
        let members = org_member::Entity::find()
            .select_only()
            .column(org_member::Column::UserId)
            .filter(org_member::Column::OrgId.eq(org_id))
            .into_query();
        base = base.filter(user::Column::Id.in_subquery(members));
    }
    page::paginate(c, base, user::Column::Id, request, User::from, |u| u.id).await
}

#[derive(Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub username: Option<Option<String>>,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub active: Option<bool>,
    pub superuser: Option<bool>,
    pub email_verified: Option<bool>,
}

pub async fn update<C: Conn>(c: &C, id: Uuid, changes: UserChanges, now: DateTime<Utc>) -> Result<User> {
    let mut model = user::ActiveModel {
        id: Set(id),
        ..Default::default()
    };
    if let Some(email) = changes.email {
        model.email = Set(email);
    }
    if let Some(username) = changes.username {
        model.username_skeleton = Set(username.as_deref().map(migration::username_skeleton));
        model.username = Set(username);
    }
    if let Some(name) = changes.display_name {
        model.display_name = Set(name);
    }
    if let Some(hash) = changes.password_hash {
        model.password_hash = Set(Some(hash));
    }
    if let Some(active) = changes.active {
        model.active = Set(active);
    }
    if let Some(superuser) = changes.superuser {
        model.superuser = Set(superuser);
    }
    if let Some(verified) = changes.email_verified {
        model.email_verified = Set(verified);
    }
    model.updated_at = Set(now);
    Ok(model.update(c).await?.into())
}

/// Deletes a user; memberships, sessions and assignments go with it (foreign keys cascade).
pub async fn delete<C: Conn>(c: &C, id: Uuid) -> Result<bool> {
    Ok(user::Entity::delete_by_id(id).exec(c).await?.rows_affected > 0)
}
