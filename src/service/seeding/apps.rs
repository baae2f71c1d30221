//! Seeding applications (OAuth clients): matched by `client_id`; their settings are checked as
//! the API checks them (`AppDraft::validate`) and every problem is reported under the
//! document path. A secret in the document is the application's (a changed one rotates it);
//! without one, a secret method gets a generated secret the operator rotates through the API.
use super::{Action, Run};
use crate::crypto;
use crate::model::input::Invalid;
use crate::model::{AppDraft, Organisation};
use crate::service::Result;
use crate::service::apps;
use crate::service::change::Event;
use crate::store;

impl Run<'_> {
    pub(super) async fn applications(&mut self, org: &Organisation, doc: &seed::Org) -> Result<()> {
        for (i, entry) in doc.applications.iter().enumerate() {
            let path = format!("orgs.{}.applications[{i}]", org.slug);
            let what = format!("application {}/{}", org.slug, entry.client_id);
            let draft: AppDraft = serde_json::from_value(serde_json::Value::Object(entry.settings.clone()))
                .map_err(|e| Invalid::field(path.clone(), e.to_string()))?;
            let spec = draft.validate(self.app_rules).map_err(|invalid| {
                Invalid(
                    invalid
                        .0
                        .into_iter()
                        .map(|mut e| {
                            e.field = format!("{path}.{}", e.field);
                            e
                        })
                        .collect(),
                )
            })?;
            match store::apps::by_client_id(self.change.tx(), &entry.client_id).await? {
                None => {
                    let (app, _) = apps::register(
                        &mut self.change,
                        org.id,
                        entry.client_id.clone(),
                        spec,
                        entry.client_secret.clone(),
                    )?;
                    store::apps::insert(self.change.tx(), &app).await?;
                    self.change.event(org.id, Event::ApplicationCreated { app });
                    self.plan.note(Action::Create, what);
                }
                Some(current) if current.org_id != org.id => {
                    let message = format!("\"{}\" belongs to another organisation", entry.client_id);
                    return Err(Invalid::field(format!("{path}.client_id"), message).into());
                }
                Some(current) => {
                    let rotated = entry
                        .client_secret
                        .as_deref()
                        .map(crypto::token_digest)
                        .filter(|d| current.secret_hash.as_deref() != Some(d.as_str()));
                    let unchanged = current.clone().with_spec(spec.clone(), current.updated_at) == current;
                    if unchanged && rotated.is_none() {
                        self.plan.note(Action::Unchanged, what);
                        continue;
                    }
                    let id = current.id;
                    apps::update(&mut self.change, current, spec).await?;
                    if let Some(digest) = rotated {
                        let now = self.change.now();
                        store::apps::set_secret(self.change.tx(), id, digest, now).await?;
                    }
                    self.plan.note(Action::Update, what);
                }
            }
        }
        if self.options.prune {
            for existing in store::apps::list_of_org(self.change.tx(), org.id).await? {
                if !doc.applications.iter().any(|a| a.client_id == existing.client_id) {
                    let what = format!("application {}/{}", org.slug, existing.client_id);
                    apps::remove(&mut self.change, &existing).await?;
                    self.plan.note(Action::Delete, what);
                }
            }
        }
        Ok(())
    }
}
