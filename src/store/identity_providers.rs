//! Identity providers. The client secret is stored (the code exchange needs it), sealed
//! (`crypto::seal`), and never handed out by the API.
use super::{Conn, Result, StoreError};
use crate::crypto::seal::{Purpose, SealError, Sealer};
use crate::model::{ClaimMapping, IdentityProvider};
use chrono::{DateTime, Utc};
use entity::identity_provider;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use secrecy::SecretString;
use uuid::Uuid;

fn from_model(m: identity_provider::Model) -> IdentityProvider {
    IdentityProvider {
        id: m.id,
        org_id: m.org_id,
        slug: m.slug,
        name: m.name,
        issuer: m.issuer,
        client_id: m.client_id,
        has_client_secret: m.client_secret.is_some(),
        scopes: m.scopes.split_whitespace().map(String::from).collect(),
        email_domains: m.email_domains.split_whitespace().map(String::from).collect(),
        jit: m.jit,
        link_by_email: m.link_by_email,
        groups_claim: m.groups_claim,
        mappings: serde_json::from_str::<Vec<ClaimMapping>>(&m.mappings).unwrap_or_default(),
        active: m.active,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// A provider's settings, as written.
pub struct ProviderFields {
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// `None` leaves the stored secret as it is.
    pub client_secret: Option<Option<String>>,
    pub scopes: Vec<String>,
    pub email_domains: Vec<String>,
    pub jit: bool,
    pub link_by_email: bool,
    pub groups_claim: String,
    pub mappings: Vec<ClaimMapping>,
    pub active: bool,
}

fn sealed(slug: &str) -> impl Fn(SealError) -> StoreError {
    move |e| StoreError::sealed(format!("the client secret of identity provider {slug}"), e)
}

fn fill(
    model: &mut identity_provider::ActiveModel,
    sealer: &Sealer,
    f: ProviderFields,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(secret) = f.client_secret {
        let secret = secret.map(|s| sealer.seal(Purpose::IdpClientSecret, &s));
        model.client_secret = Set(secret.transpose().map_err(sealed(&f.slug))?);
    }
    model.slug = Set(f.slug);
    model.name = Set(f.name);
    model.issuer = Set(f.issuer);
    model.client_id = Set(f.client_id);
    model.scopes = Set(f.scopes.join(" "));
    model.email_domains = Set(f.email_domains.join(" "));
    model.jit = Set(f.jit);
    model.link_by_email = Set(f.link_by_email);
    model.groups_claim = Set(f.groups_claim);
    model.mappings = Set(serde_json::to_string(&f.mappings).unwrap_or_else(|_| "[]".into()));
    model.active = Set(f.active);
    model.updated_at = Set(now);
    Ok(())
}

pub async fn insert<C: Conn>(
    c: &C,
    sealer: &Sealer,
    id: Option<Uuid>,
    org_id: Uuid,
    fields: ProviderFields,
    now: DateTime<Utc>,
) -> Result<IdentityProvider> {
    let mut model = identity_provider::ActiveModel {
        id: Set(id.unwrap_or_else(Uuid::now_v7)),
        org_id: Set(org_id),
        client_secret: Set(None),
        created_at: Set(now),
        ..Default::default()
    };
    fill(&mut model, sealer, fields, now)?;
    Ok(from_model(model.insert(c).await?))
}

pub async fn update<C: Conn>(
    c: &C,
    sealer: &Sealer,
    id: Uuid,
    fields: ProviderFields,
    now: DateTime<Utc>,
) -> Result<IdentityProvider> {
    let mut model = identity_provider::ActiveModel {
        id: Set(id),
        ..Default::default()
    };
    fill(&mut model, sealer, fields, now)?;
    Ok(from_model(model.update(c).await?))
}

pub async fn list<C: Conn>(c: &C, org_id: Uuid) -> Result<Vec<IdentityProvider>> {
    Ok(identity_provider::Entity::find()
        .filter(identity_provider::Column::OrgId.eq(org_id))
        .order_by_asc(identity_provider::Column::Slug)
        .all(c)
        .await?
        .into_iter()
        .map(from_model)
        .collect())
}

pub async fn find<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<Option<IdentityProvider>> {
    Ok(identity_provider::Entity::find_by_id(id)
        .filter(identity_provider::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(from_model))
}

pub async fn by_slug<C: Conn>(c: &C, slug: &str) -> Result<Option<IdentityProvider>> {
    Ok(identity_provider::Entity::find()
        .filter(identity_provider::Column::Slug.eq(slug))
        .one(c)
        .await?
        .map(from_model))
}

/// The stored client secret, opened (for the code exchange, and seeding's comparison).
pub async fn secret_of<C: Conn>(c: &C, sealer: &Sealer, id: Uuid) -> Result<Option<SecretString>> {
    let Some(m) = identity_provider::Entity::find_by_id(id).one(c).await? else {
        return Ok(None);
    };
    m.client_secret
        .map(|s| sealer.open(Purpose::IdpClientSecret, &s).map_err(sealed(&m.slug)))
        .transpose()
}

pub async fn delete<C: Conn>(c: &C, org_id: Uuid, id: Uuid) -> Result<bool> {
    let done = identity_provider::Entity::delete_many()
        .filter(identity_provider::Column::OrgId.eq(org_id))
        .filter(identity_provider::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Active providers of active organisations that serve an email domain their organisation has
/// verified, with the organisation's slug. Domains are few per provider and providers few, so
/// the match is made here.
pub async fn serving<C: Conn>(c: &C, domain: &str) -> Result<Vec<(IdentityProvider, String)>> {
    let providers = identity_provider::Entity::find()
        .filter(identity_provider::Column::Active.eq(true))
        .order_by_asc(identity_provider::Column::Slug)
        .all(c)
        .await?;
    let mut served = Vec::new();
    for p in providers {
        if !p
            .email_domains
            .split_whitespace()
            .any(|d| d.eq_ignore_ascii_case(domain))
        {
            continue;
        }
        if super::email_domains::verified(c, Some(p.org_id), domain)
            .await?
            .is_none()
        {
            continue;
        }
        if let Some(org) = super::orgs::find(c, p.org_id).await?.filter(|o| o.active) {
            served.push((from_model(p), org.slug));
        }
    }
    Ok(served)
}
