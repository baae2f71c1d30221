//! External identity providers of an organisation (`/orgs/{id}/identity-providers`): who may log
//! in through which OpenID Connect issuer, for which email domains (each a verified email domain
//! of the organisation, `service::consent::domains`), whether accounts are created on first
//! login, and what the provider's groups grant. The client secret is written, never read back.
use super::authz::{Caller, OrgAdmin};
use super::change::{Audit, Changes};
use super::orgs::OrgService;
use super::orgs::owners;
use super::{Result, ServiceError, conflict};
use crate::crypto::seal::Sealer;
use crate::model::input::Problems;
use crate::model::{ClaimMapping, IdentityProvider, OrgId, ProviderId};
use crate::store::{self, Conn, Db};
use seed::rules;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// A provider as an admin writes it. `client_secret`: `None` keeps the stored one.
pub struct ProviderInput {
    pub slug: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
    pub email_domains: Vec<String>,
    pub jit: bool,
    pub link_by_email: bool,
    pub groups_claim: Option<String>,
    pub mappings: Vec<ClaimMapping>,
    pub active: bool,
}

const NOT_FOUND: ServiceError = ServiceError::NotFound("identity provider not found");

const PROVIDER_EXISTS: (&str, &str) = ("provider_exists", "an identity provider with this slug already exists");

pub struct ProviderService {
    db: Db,
    changes: Changes,
    orgs: Arc<OrgService>,
    sealer: Arc<Sealer>,
}

/// Checks a provider and turns it into what the store writes; every problem is named by field.
async fn check<C: Conn>(
    c: &C,
    org_id: Uuid,
    input: ProviderInput,
) -> Result<store::identity_providers::ProviderFields> {
    let mut problems = Problems::default();
    let slug = problems.check("slug", rules::slug(&input.slug));
    if input.slug == crate::config::GLOBAL_PROVIDER {
        problems.add("slug", "is reserved for the provider configured by AUTH_OIDC_*");
    }
    let name = problems.check("name", rules::display_name(&input.name));
    let issuer = problems.check("issuer", rules::issuer(&input.issuer));
    if input.client_id.trim().is_empty() || input.client_id.len() > 255 {
        problems.add("client_id", "must be 1 to 255 characters");
    }
    let scopes = problems.check(
        "scopes",
        rules::scopes(
            &input
                .scopes
                .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]),
        ),
    );
    let mut domains = Vec::new();
    for (i, d) in input.email_domains.iter().enumerate() {
        let field = format!("email_domains[{i}]");
        let Some(domain) = problems.check(&field, rules::email_domain(d)) else {
            continue;
        };
        if store::email_domains::verified(c, Some(org_id), &domain)
            .await?
            .is_none()
        {
            let why = format!(
                "\"{domain}\" is not a verified email domain of the organisation (POST /orgs/{{id}}/email-domains)"
            );
            problems.add(field, why);
        }
        domains.push(domain);
    }
    let groups_claim = input.groups_claim.unwrap_or_else(|| "groups".into());
    if groups_claim.is_empty() || groups_claim.len() > 100 {
        problems.add("groups_claim", "must be 1 to 100 characters");
    }
    let roles = store::roles::list(c, org_id).await?;
    let teams = store::teams::list_all(c, org_id).await?;
    let tree = store::domains::list(c, org_id).await?;
    for (i, m) in input.mappings.iter().enumerate() {
        let at = format!("mappings[{i}]");
        if m.value.is_empty() {
            problems.add(format!("{at}.value"), "is required");
        }
        for r in m.roles.iter().filter(|r| !roles.iter().any(|x| &x.key == *r)) {
            problems.add(format!("{at}.roles"), format!("unknown role \"{r}\""));
        }
        for (t, role) in &m.teams {
            if !teams.iter().any(|x| &x.slug == t) {
                problems.add(format!("{at}.teams.{t}"), format!("unknown team \"{t}\""));
            }
            if !seed::TEAM_ROLES.contains(&role.as_str()) {
                problems.add(format!("{at}.teams.{t}"), format!("unknown team role \"{role}\""));
            }
        }
        for d in m.domains.iter().filter(|d| !tree.iter().any(|x| &x.key == *d)) {
            problems.add(format!("{at}.domains"), format!("unknown domain \"{d}\""));
        }
    }
    let (slug, name, issuer, scopes) = problems.done((slug, name, issuer, scopes))?;
    Ok(store::identity_providers::ProviderFields {
        slug,
        name,
        issuer,
        client_id: input.client_id.trim().to_owned(),
        client_secret: input.client_secret,
        scopes,
        email_domains: domains,
        jit: input.jit,
        link_by_email: input.link_by_email,
        groups_claim,
        mappings: input.mappings,
        active: input.active,
    })
}

/// Mapping a provider's group to `owner` makes owners, which only owners may do.
fn guard_owner_mappings(caller: &Caller, admin: OrgAdmin, input: &ProviderInput) -> Result<()> {
    if input
        .mappings
        .iter()
        .any(|m| m.roles.iter().any(|r| r == owners::OWNER))
    {
        owners::require_owner_powers(caller, admin)?;
    }
    Ok(())
}

impl ProviderService {
    pub fn new(db: Db, changes: Changes, orgs: Arc<OrgService>, sealer: Arc<Sealer>) -> Self {
        Self {
            db,
            changes,
            orgs,
            sealer,
        }
    }

    pub async fn list(&self, caller: &Caller, org: OrgId) -> Result<Vec<IdentityProvider>> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        Ok(store::identity_providers::list(&self.db, admin.org_id()).await?)
    }

    pub async fn get(&self, caller: &Caller, org: OrgId, id: ProviderId) -> Result<IdentityProvider> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        store::identity_providers::find(&self.db, admin.org_id(), id.uuid())
            .await?
            .ok_or(NOT_FOUND)
    }

    pub async fn create(&self, caller: &Caller, org: OrgId, input: ProviderInput) -> Result<IdentityProvider> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        guard_owner_mappings(caller, admin, &input)?;
        let org = admin.org_id();
        let fields = check(&self.db, org, input).await?;
        let mut change = self.changes.begin().await?;
        let provider = store::identity_providers::insert(change.tx(), &self.sealer, None, org, fields, change.now())
            .await
            .map_err(conflict(PROVIDER_EXISTS.0, PROVIDER_EXISTS.1))?;
        change.audit(
            Audit::new(&caller.actor(), "identity_provider.create")
                .org(org)
                .target("identity_provider", provider.id)
                .detail(json!({"slug": provider.slug, "issuer": provider.issuer})),
        );
        change.commit().await?;
        Ok(provider)
    }

    pub async fn update(
        &self,
        caller: &Caller,
        org: OrgId,
        id: ProviderId,
        input: ProviderInput,
    ) -> Result<IdentityProvider> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        guard_owner_mappings(caller, admin, &input)?;
        let org = admin.org_id();
        store::identity_providers::find(&self.db, org, id.uuid())
            .await?
            .ok_or(NOT_FOUND)?;
        let fields = check(&self.db, org, input).await?;
        let mut change = self.changes.begin().await?;
        let provider = store::identity_providers::update(change.tx(), &self.sealer, id.uuid(), fields, change.now())
            .await
            .map_err(conflict(PROVIDER_EXISTS.0, PROVIDER_EXISTS.1))?;
        change.audit(
            Audit::new(&caller.actor(), "identity_provider.update")
                .org(org)
                .target("identity_provider", id),
        );
        change.commit().await?;
        Ok(provider)
    }

    pub async fn delete(&self, caller: &Caller, org: OrgId, id: ProviderId) -> Result<()> {
        let admin = self.orgs.admin_of_existing(caller, org).await?;
        let org = admin.org_id();
        let mut change = self.changes.begin().await?;
        if !store::identity_providers::delete(change.tx(), org, id.uuid()).await? {
            return Err(NOT_FOUND);
        }
        change.audit(
            Audit::new(&caller.actor(), "identity_provider.delete")
                .org(org)
                .target("identity_provider", id),
        );
        change.commit().await
    }
}
