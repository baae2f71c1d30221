//! Seeding service accounts and identity providers.
use super::{Action, Plan, SeedOptions, SeedService};
use crate::crypto;
use crate::model::{ClaimMapping, Organisation};
use crate::service::Result;
use crate::service::journal::{Invalidation, Journal};
use crate::service::validate::Problems;
use crate::store::{self, Tx};
use serde_json::json;

impl SeedService {
    pub(super) async fn providers(
        &self,
        tx: &Tx,
        plan: &mut Plan,
        org: &Organisation,
        doc: &seed::Org,
        options: SeedOptions,
    ) -> Result<()> {
        let now = self.core.clock.now();
        for p in &doc.identity_providers {
            let what = format!("identity provider {}/{}", org.slug, p.slug);
            let mappings: Vec<ClaimMapping> = p
                .mappings
                .iter()
                .map(|m| ClaimMapping {
                    value: m.value.clone(),
                    roles: m.roles.clone(),
                    teams: m.teams.clone(),
                    domains: m.domains.clone(),
                })
                .collect();
            let fields = store::identity_providers::ProviderFields {
                slug: p.slug.clone(),
                name: p.name.clone(),
                issuer: seed::rules::issuer(&p.issuer).unwrap_or_else(|_| p.issuer.clone()),
                client_id: p.client_id.clone(),
                client_secret: Some(p.client_secret.clone()),
                scopes: p
                    .scopes
                    .clone()
                    .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]),
                email_domains: p
                    .email_domains
                    .iter()
                    .filter_map(|d| seed::rules::email_domain(d).ok())
                    .collect(),
                jit: p.jit,
                link_by_email: p.link_by_email,
                groups_claim: p.groups_claim.clone().unwrap_or_else(|| "groups".into()),
                mappings,
                active: p.active,
            };
            match store::identity_providers::by_slug(tx, &p.slug).await? {
                None => {
                    store::identity_providers::insert(tx, None, org.id, fields, now).await?;
                    plan.note(Action::Create, what);
                }
                Some(current) if current.org_id != org.id => {
                    let mut problems = Problems::default();
                    problems.add(
                        "identity_providers.slug",
                        format!("\"{}\" belongs to another organisation", p.slug),
                    );
                    problems.finish()?;
                }
                Some(current) => {
                    let secret = store::identity_providers::secret_of(tx, current.id).await?;
                    let same = current.name == fields.name
                        && current.issuer == fields.issuer
                        && current.client_id == fields.client_id
                        && secret == p.client_secret
                        && current.scopes == fields.scopes
                        && current.email_domains == fields.email_domains
                        && current.jit == fields.jit
                        && current.link_by_email == fields.link_by_email
                        && current.groups_claim == fields.groups_claim
                        && current.mappings == fields.mappings
                        && current.active == fields.active;
                    if same {
                        plan.note(Action::Unchanged, what);
                    } else {
                        store::identity_providers::update(tx, current.id, fields, now).await?;
                        plan.note(Action::Update, what);
                    }
                }
            }
        }
        if options.prune {
            for existing in store::identity_providers::list(tx, org.id).await? {
                if !doc.identity_providers.iter().any(|p| p.slug == existing.slug) {
                    store::identity_providers::delete(tx, org.id, existing.id).await?;
                    plan.note(
                        Action::Delete,
                        format!("identity provider {}/{}", org.slug, existing.slug),
                    );
                }
            }
        }
        Ok(())
    }

    pub(super) async fn accounts(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        plan: &mut Plan,
        org: &Organisation,
        doc: &seed::Org,
        options: SeedOptions,
    ) -> Result<()> {
        for account in &doc.service_accounts {
            let what = format!("service account {}/{}", org.slug, account.client_id);
            let mut permissions = account.permissions.clone();
            permissions.sort();
            permissions.dedup();
            match store::service_accounts::by_client_id(tx, &account.client_id).await? {
                None => {
                    let digest = crypto::token_digest(&account.secret);
                    let created = store::service_accounts::insert(
                        tx,
                        org.id,
                        &account.client_id,
                        digest,
                        &account.name,
                        &permissions,
                        journal.now(),
                    )
                    .await?;
                    journal.event(
                        Some(org.id),
                        "identity",
                        created.id,
                        "created",
                        "IdentityCreated",
                        json!({"service_account_id": created.id, "client_id": account.client_id}),
                    );
                    plan.note(Action::Create, what);
                }
                Some((current, _)) if current.org_id != org.id => {
                    let mut problems = Problems::default();
                    problems.add(
                        "service_accounts.client_id",
                        format!("\"{}\" belongs to another organisation", account.client_id),
                    );
                    problems.finish()?;
                }
                Some((current, _)) if current.name != account.name || current.permissions != permissions => {
                    store::service_accounts::update(tx, current.id, &account.name, &permissions).await?;
                    journal.event(
                        Some(org.id),
                        "identity",
                        current.id,
                        "updated",
                        "IdentityPermissionsUpdated",
                        json!({"service_account_id": current.id, "permissions": permissions}),
                    );
                    journal.invalidate(Invalidation::Account { id: current.id });
                    plan.note(Action::Update, what);
                }
                Some(_) => plan.note(Action::Unchanged, what),
            }
        }
        if options.prune {
            for existing in store::service_accounts::list(tx, org.id).await? {
                if !doc.service_accounts.iter().any(|a| a.client_id == existing.client_id) {
                    store::service_accounts::delete(tx, org.id, existing.id).await?;
                    journal.event(
                        Some(org.id),
                        "identity",
                        existing.id,
                        "deleted",
                        "IdentityPermissionsDeleted",
                        json!({"service_account_id": existing.id}),
                    );
                    journal.invalidate(Invalidation::Account { id: existing.id });
                    plan.note(
                        Action::Delete,
                        format!("service account {}/{}", org.slug, existing.client_id),
                    );
                }
            }
        }
        Ok(())
    }
}
