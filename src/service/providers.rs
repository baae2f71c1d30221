//! External identity providers of an organisation (`/orgs/{id}/identity-providers`): who may log
//! in through which OpenID Connect issuer, for which email domains, whether accounts are created
//! on first login, and what the provider's groups grant. The client secret is written, never read
//! back.
use super::authz::Caller;
use super::core::Core;
use super::orgs::OrgService;
use super::validate::Problems;
use super::{Result, ServiceError};
use crate::model::{ClaimMapping, IdentityProvider};
use crate::store::{self, Conn, StoreError};
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

pub struct ProviderService {
    core: Arc<Core>,
    orgs: Arc<OrgService>,
}

/// Checks a provider and turns it into what the store writes; problems are named by field.
pub async fn check<C: Conn>(
    c: &C,
    org_id: Uuid,
    input: ProviderInput,
    problems: &mut Problems,
    base: &str,
) -> Result<Option<store::identity_providers::ProviderFields>> {
    let field = |name: &str| {
        if base.is_empty() {
            name.to_owned()
        } else {
            format!("{base}.{name}")
        }
    };
    let slug = problems.check(&field("slug"), rules::slug(&input.slug));
    if input.slug == crate::config::GLOBAL_PROVIDER {
        problems.add(&field("slug"), "is reserved for the provider configured by AUTH_OIDC_*");
    }
    let name = problems.check(&field("name"), rules::display_name(&input.name));
    let issuer = problems.check(&field("issuer"), rules::issuer(&input.issuer));
    if input.client_id.trim().is_empty() || input.client_id.len() > 255 {
        problems.add(&field("client_id"), "must be 1 to 255 characters");
    }
    let scopes = problems.check(
        &field("scopes"),
        rules::scopes(
            &input
                .scopes
                .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]),
        ),
    );
    let mut domains = Vec::new();
    for (i, d) in input.email_domains.iter().enumerate() {
        domains.extend(problems.check(&field(&format!("email_domains[{i}]")), rules::email_domain(d)));
    }
    let groups_claim = input.groups_claim.unwrap_or_else(|| "groups".into());
    if groups_claim.is_empty() || groups_claim.len() > 100 {
        problems.add(&field("groups_claim"), "must be 1 to 100 characters");
    }
    let roles = store::orgs::roles(c, org_id).await?;
    let teams = store::teams::list_all(c, org_id).await?;
    let tree = store::domains::list(c, org_id).await?;
    for (i, m) in input.mappings.iter().enumerate() {
        let at = field(&format!("mappings[{i}]"));
        if m.value.is_empty() {
            problems.add(&format!("{at}.value"), "is required");
        }
        for r in m.roles.iter().filter(|r| !roles.iter().any(|x| &x.key == *r)) {
            problems.add(&format!("{at}.roles"), format!("unknown role \"{r}\""));
        }
        for (t, role) in &m.teams {
            if !teams.iter().any(|x| &x.slug == t) {
                problems.add(&format!("{at}.teams.{t}"), format!("unknown team \"{t}\""));
            }
            if !seed::TEAM_ROLES.contains(&role.as_str()) {
                problems.add(&format!("{at}.teams.{t}"), format!("unknown team role \"{role}\""));
            }
        }
        for d in m.domains.iter().filter(|d| !tree.iter().any(|x| &x.key == *d)) {
            problems.add(&format!("{at}.domains"), format!("unknown domain \"{d}\""));
        }
    }
    let (Some(slug), Some(name), Some(issuer), Some(scopes)) = (slug, name, issuer, scopes) else {
        return Ok(None);
    };
    Ok(Some(store::identity_providers::ProviderFields {
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
    }))
}

fn conflict(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => {
            ServiceError::Conflict("provider_exists", "an identity provider with this slug already exists")
        }
        e => e.into(),
    }
}

impl ProviderService {
    pub fn new(core: Arc<Core>, orgs: Arc<OrgService>) -> Self {
        Self { core, orgs }
    }

    pub async fn list(&self, caller: &Caller, org_id: Uuid) -> Result<Vec<IdentityProvider>> {
        let admin = self.orgs.admin_of_existing(caller, org_id).await?;
        Ok(store::identity_providers::list(&self.core.db, admin.org_id()).await?)
    }

    pub async fn get(&self, caller: &Caller, org_id: Uuid, id: Uuid) -> Result<IdentityProvider> {
        let admin = self.orgs.admin_of_existing(caller, org_id).await?;
        store::identity_providers::find(&self.core.db, admin.org_id(), id)
            .await?
            .ok_or(NOT_FOUND)
    }

    pub async fn create(&self, caller: &Caller, org_id: Uuid, input: ProviderInput) -> Result<IdentityProvider> {
        let admin = self.orgs.admin_of_existing(caller, org_id).await?;
        let mut problems = Problems::default();
        let fields = check(&self.core.db, admin.org_id(), input, &mut problems, "").await?;
        problems.finish()?;
        let fields = fields.ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("validated fields missing")))?;
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let provider = store::identity_providers::insert(&tx, None, admin.org_id(), fields, journal.now())
            .await
            .map_err(conflict)?;
        let target = Some(("identity_provider", provider.id.to_string()));
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "identity_provider.create",
            target,
            Some(json!({"slug": provider.slug, "issuer": provider.issuer})),
        );
        self.core.commit(tx, journal).await?;
        Ok(provider)
    }

    pub async fn update(
        &self,
        caller: &Caller,
        org_id: Uuid,
        id: Uuid,
        input: ProviderInput,
    ) -> Result<IdentityProvider> {
        let admin = self.orgs.admin_of_existing(caller, org_id).await?;
        store::identity_providers::find(&self.core.db, admin.org_id(), id)
            .await?
            .ok_or(NOT_FOUND)?;
        let mut problems = Problems::default();
        let fields = check(&self.core.db, admin.org_id(), input, &mut problems, "").await?;
        problems.finish()?;
        let fields = fields.ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("validated fields missing")))?;
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        let provider = store::identity_providers::update(&tx, id, fields, journal.now())
            .await
            .map_err(conflict)?;
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "identity_provider.update",
            Some(("identity_provider", id.to_string())),
            None,
        );
        self.core.commit(tx, journal).await?;
        Ok(provider)
    }

    pub async fn delete(&self, caller: &Caller, org_id: Uuid, id: Uuid) -> Result<()> {
        let admin = self.orgs.admin_of_existing(caller, org_id).await?;
        let mut journal = self.core.journal();
        let tx = store::begin(&self.core.db).await?;
        if !store::identity_providers::delete(&tx, admin.org_id(), id).await? {
            return Err(NOT_FOUND);
        }
        journal.audit(
            Some(admin.org_id()),
            &caller.actor(),
            "identity_provider.delete",
            Some(("identity_provider", id.to_string())),
            None,
        );
        self.core.commit(tx, journal).await
    }
}
