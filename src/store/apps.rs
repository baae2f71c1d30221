//! Applications (OAuth clients). Lists are stored as JSON arrays; the secret only as its SHA-256
//! (it is 256 random bits, so a slow hash buys nothing).
use super::{Conn, Result};
use crate::model::{Application, ClientAuth, ClientKind, GrantType};
use chrono::{DateTime, Utc};
use entity::oauth_client;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl From<oauth_client::Model> for Application {
    fn from(m: oauth_client::Model) -> Self {
        Self {
            id: m.id,
            org_id: m.org_id,
            client_id: m.client_id,
            name: m.name,
            kind: if m.kind == "public" {
                ClientKind::Public
            } else {
                ClientKind::Confidential
            },
            // An unknown method authenticates nobody.
            auth_method: ClientAuth::parse(&m.auth_method).unwrap_or(ClientAuth::PrivateKeyJwt),
            secret_hash: m.secret_hash,
            jwks: m.jwks.and_then(|j| serde_json::from_str(&j).ok()),
            redirect_uris: list(&m.redirect_uris),
            post_logout_redirect_uris: list(&m.post_logout_redirect_uris),
            grant_types: list(&m.grant_types)
                .iter()
                .filter_map(|g| GrantType::parse(g))
                .collect(),
            scopes: list(&m.scopes),
            resources: list(&m.resources),
            first_party: m.first_party,
            multi_org: m.multi_org,
            access_token_ttl: m.access_token_ttl.map(i64::from),
            refresh_token_ttl: m.refresh_token_ttl.map(i64::from),
            backchannel_logout_uri: m.backchannel_logout_uri,
            id_token_alg: m.id_token_alg,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn active_model(a: &Application) -> oauth_client::ActiveModel {
    oauth_client::ActiveModel {
        id: Set(a.id),
        org_id: Set(a.org_id),
        client_id: Set(a.client_id.clone()),
        name: Set(a.name.clone()),
        kind: Set(match a.kind {
            ClientKind::Public => "public".into(),
            ClientKind::Confidential => "confidential".into(),
        }),
        secret_hash: Set(a.secret_hash.clone()),
        auth_method: Set(a.auth_method.as_str().into()),
        jwks: Set(a.jwks.as_ref().map(|j| j.to_string())),
        redirect_uris: Set(json(&a.redirect_uris)),
        post_logout_redirect_uris: Set(json(&a.post_logout_redirect_uris)),
        grant_types: Set(json(
            &a.grant_types.iter().map(|g| g.as_str().to_owned()).collect::<Vec<_>>(),
        )),
        scopes: Set(json(&a.scopes)),
        resources: Set(json(&a.resources)),
        first_party: Set(a.first_party),
        multi_org: Set(a.multi_org),
        access_token_ttl: Set(a.access_token_ttl.and_then(|t| i32::try_from(t).ok())),
        refresh_token_ttl: Set(a.refresh_token_ttl.and_then(|t| i32::try_from(t).ok())),
        backchannel_logout_uri: Set(a.backchannel_logout_uri.clone()),
        id_token_alg: Set(a.id_token_alg.clone()),
        active: Set(a.active),
        created_at: Set(a.created_at),
        updated_at: Set(a.updated_at),
    }
}

pub async fn insert<C: Conn>(c: &C, app: &Application) -> Result<()> {
    active_model(app).insert(c).await?;
    Ok(())
}

/// Writes every field of `app` (found by id).
pub async fn update<C: Conn>(c: &C, app: &Application) -> Result<()> {
    active_model(app).update(c).await?;
    Ok(())
}

pub async fn delete<C: Conn>(c: &C, id: Uuid) -> Result<()> {
    oauth_client::Entity::delete_by_id(id).exec(c).await?;
    Ok(())
}

/// Replaces the secret's digest.
pub async fn set_secret<C: Conn>(c: &C, id: Uuid, digest: String, now: DateTime<Utc>) -> Result<()> {
    oauth_client::Entity::update_many()
        .col_expr(oauth_client::Column::SecretHash, Expr::value(digest))
        .col_expr(oauth_client::Column::UpdatedAt, Expr::value(now))
        .filter(oauth_client::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn list_of_org<C: Conn>(c: &C, org_id: Uuid) -> Result<Vec<Application>> {
    Ok(oauth_client::Entity::find()
        .filter(oauth_client::Column::OrgId.eq(org_id))
        .order_by_asc(oauth_client::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(Application::from)
        .collect())
}

/// The organisation's application with this id; another organisation's is `None`.
pub async fn find<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<Option<Application>> {
    Ok(oauth_client::Entity::find_by_id(id)
        .filter(oauth_client::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(Application::from))
}

pub async fn by_id<C: Conn>(c: &C, id: Uuid) -> Result<Option<Application>> {
    Ok(oauth_client::Entity::find_by_id(id)
        .one(c)
        .await?
        .map(Application::from))
}

/// The application with this `client_id`.
pub async fn by_client_id<C: Conn>(c: &C, client_id: &str) -> Result<Option<Application>> {
    Ok(oauth_client::Entity::find()
        .filter(oauth_client::Column::ClientId.eq(client_id))
        .one(c)
        .await?
        .map(Application::from))
}
