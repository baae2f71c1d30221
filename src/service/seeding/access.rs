//! Seeding service accounts and identity providers (whose email domains must be verified
//! domains of their organisation, as `email_domains` makes them).
use super::{Action, Run};
use crate::crypto;
use crate::model::input::Invalid;
use crate::model::{ClaimMapping, Organisation, ServiceAccount};
use crate::service::Result;
use crate::service::change::Event;
use crate::store;
use secrecy::ExposeSecret;

impl Run<'_> {
    pub(super) async fn providers(&mut self, org: &Organisation, doc: &seed::Org) -> Result<()> {
        for p in &doc.identity_providers {
            self.check_provider_domains(org, p).await?;
        }
        let now = self.change.now();
        let tx = self.change.tx();
        let sealer = self.sealer;
        let plan = &mut self.plan;
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
                    store::identity_providers::insert(tx, sealer, None, org.id, fields, now).await?;
                    plan.note(Action::Create, what);
                }
                Some(current) if current.org_id != org.id => {
                    let message = format!("\"{}\" belongs to another organisation", p.slug);
                    return Err(Invalid::field("identity_providers.slug", message).into());
                }
                Some(current) => {
                    let secret = store::identity_providers::secret_of(tx, sealer, current.id).await?;
                    let same = current.name == fields.name
                        && current.issuer == fields.issuer
                        && current.client_id == fields.client_id
                        && secret.as_ref().map(|s| s.expose_secret()) == p.client_secret.as_deref()
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
                        store::identity_providers::update(tx, sealer, current.id, fields, now).await?;
                        plan.note(Action::Update, what);
                    }
                }
            }
        }
        if self.options.prune {
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

    pub(super) async fn accounts(&mut self, org: &Organisation, doc: &seed::Org) -> Result<()> {
        let now = self.change.now();
        for account in &doc.service_accounts {
            let what = format!("service account {}/{}", org.slug, account.client_id);
            let mut permissions = account.permissions.clone();
            permissions.sort();
            permissions.dedup();
            match store::service_accounts::by_client_id(self.change.tx(), &account.client_id).await? {
                None => {
                    let digest = crypto::token_digest(&account.secret);
                    let created = store::service_accounts::insert(
                        self.change.tx(),
                        org.id,
                        &account.client_id,
                        digest,
                        &account.name,
                        &permissions,
                        now,
                    )
                    .await?;
                    self.change
                        .event(org.id, Event::ServiceAccountCreated { account: created });
                    self.plan.note(Action::Create, what);
                }
                Some((current, _)) if current.org_id != org.id => {
                    let message = format!("\"{}\" belongs to another organisation", account.client_id);
                    return Err(Invalid::field("service_accounts.client_id", message).into());
                }
                Some((current, stored_digest))
                    if current.name != account.name
                        || current.permissions != permissions
                        || stored_digest != crypto::token_digest(&account.secret) =>
                {
                    // A changed secret in the document rotates the account's secret.
                    let digest = crypto::token_digest(&account.secret);
                    let rotated = (stored_digest != digest).then_some(digest);
                    let tx = self.change.tx();
                    store::service_accounts::update(tx, current.id, &account.name, &permissions, rotated).await?;
                    self.change.service_account_changed(current.id);
                    let updated = ServiceAccount {
                        name: account.name.clone(),
                        permissions,
                        ..current
                    };
                    self.change
                        .event(org.id, Event::ServiceAccountUpdated { account: updated });
                    self.plan.note(Action::Update, what);
                }
                Some(_) => self.plan.note(Action::Unchanged, what),
            }
        }
        if self.options.prune {
            for existing in store::service_accounts::list(self.change.tx(), org.id).await? {
                if !doc.service_accounts.iter().any(|a| a.client_id == existing.client_id) {
                    store::service_accounts::delete(self.change.tx(), org.id, existing.id).await?;
                    self.change.service_account_changed(existing.id);
                    let what = format!("service account {}/{}", org.slug, existing.client_id);
                    self.plan.note(Action::Delete, what);
                    let gone = Event::ServiceAccountDeleted {
                        id: existing.id,
                        client_id: existing.client_id,
                    };
                    self.change.event(org.id, gone);
                }
            }
        }
        Ok(())
    }
}
