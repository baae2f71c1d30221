//! Seeding verified email domains: the operator is trusted, so a domain a document names is
//! verified on apply (no DNS), with its join policy. A domain another organisation verified is a
//! problem; with `prune`, an organisation's domains the document no longer names are deleted.
use super::{Action, Run};
use crate::crypto;
use crate::model::input::Invalid;
use crate::model::{JoinPolicy, Organisation};
use crate::service::{Result, no_randomness};
use crate::store;

impl Run<'_> {
    pub(super) async fn email_domains(&mut self, org: &Organisation, doc: &seed::Org) -> Result<()> {
        let now = self.change.now();
        let tx = self.change.tx();
        let mut named = Vec::new();
        for claim in &doc.email_domains {
            let domain = seed::rules::email_domain(&claim.domain).unwrap_or_else(|_| claim.domain.clone());
            let what = format!("email domain {}/{domain}", org.slug);
            let policy = match claim.join_policy.as_deref() {
                Some("auto_join") => {
                    let mut roles = claim.roles.clone().unwrap_or_else(|| vec!["member".into()]);
                    roles.sort();
                    roles.dedup();
                    JoinPolicy::AutoJoin { roles }
                }
                _ => JoinPolicy::InviteOnly,
            };
            if store::email_domains::verified(tx, None, &domain)
                .await?
                .is_some_and(|d| d.org_id != org.id)
            {
                let message = format!("\"{domain}\" is verified by another organisation");
                return Err(Invalid::field("email_domains.domain", message).into());
            }
            match store::email_domains::find(tx, org.id, &domain).await? {
                None => {
                    let challenge = crypto::random_token().map_err(no_randomness)?;
                    store::email_domains::insert(tx, org.id, &domain, &challenge, &policy, Some(now), now).await?;
                    self.plan.note(Action::Create, what);
                }
                Some(current) if current.verified() && current.policy == policy => {
                    self.plan.note(Action::Unchanged, what);
                }
                Some(current) => {
                    if !current.verified() {
                        store::email_domains::mark_verified(tx, current.id, &domain, now).await?;
                    }
                    store::email_domains::set_policy(tx, current.id, &policy, now).await?;
                    self.plan.note(Action::Update, what);
                }
            }
            named.push(domain);
        }
        if self.options.prune {
            for existing in store::email_domains::list(tx, org.id).await? {
                if !named.contains(&existing.domain) {
                    store::email_domains::delete(tx, org.id, existing.id).await?;
                    let what = format!("email domain {}/{}", org.slug, existing.domain);
                    self.plan.note(Action::Delete, what);
                }
            }
        }
        Ok(())
    }

    /// A provider's email domains must be verified domains of its organisation.
    pub(super) async fn check_provider_domains(
        &self,
        org: &Organisation,
        provider: &seed::IdentityProvider,
    ) -> Result<()> {
        for raw in &provider.email_domains {
            let domain = seed::rules::email_domain(raw).unwrap_or_else(|_| raw.clone());
            if store::email_domains::verified(self.change.tx(), Some(org.id), &domain)
                .await?
                .is_none()
            {
                let message = format!(
                    "identity provider \"{}\": \"{domain}\" is not a verified email domain of {} (list it under email_domains)",
                    provider.slug, org.slug
                );
                return Err(Invalid::field("identity_providers.email_domains", message).into());
            }
        }
        Ok(())
    }
}
