//! Seeding users: accounts, memberships with roles, team roles and domain assignments.
use super::{Action, Plan, SeedOptions, SeedService, Touched};
use crate::model::Organisation;
use crate::service::Result;
use crate::service::journal::Journal;
use crate::service::orgs::membership_changed;
use crate::store::{self, Tx};
use secrecy::SecretString;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

impl SeedService {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn users(
        &self,
        tx: &Tx,
        journal: &mut Journal,
        plan: &mut Plan,
        touched: &mut Touched,
        org: &Organisation,
        doc: &seed::Org,
        teams: &HashMap<String, Uuid>,
        domains: &HashMap<String, Uuid>,
        options: SeedOptions,
    ) -> Result<()> {
        let roles = store::orgs::roles(tx, org.id).await?;
        let mut listed = BTreeSet::new();
        for user in &doc.users {
            let email = user.email.trim().to_lowercase();
            let what = format!("user {email} in {}", org.slug);
            let username = user.username.as_ref().map(|u| u.trim().to_lowercase());
            let name = user
                .name
                .clone()
                .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
            let mut changed = false;
            let account = match store::users::find_credentials(tx, &email).await? {
                None => {
                    let password_hash = match (&user.password, &user.password_hash) {
                        (Some(p), _) => Some(self.core.hasher.hash(SecretString::from(p.clone())).await?),
                        (None, hash) => hash.clone(),
                    };
                    let new = store::users::NewUser {
                        id: user.id,
                        email: email.clone(),
                        username: username.clone(),
                        display_name: name.clone(),
                        password_hash,
                        superuser: user.superuser,
                        default_org_id: Some(org.id),
                    };
                    let created = store::users::insert(tx, new, journal.now()).await?;
                    touched.created.insert(created.id);
                    if !user.active {
                        let changes = store::users::UserChanges {
                            email: None,
                            username: None,
                            display_name: None,
                            password_hash: None,
                            active: Some(false),
                            superuser: None,
                        };
                        store::users::update(tx, created.id, changes, journal.now()).await?;
                    }
                    journal.event(
                        Some(org.id),
                        "user",
                        created.id,
                        "created",
                        "UserCreated",
                        crate::service::auth::user_data(&created),
                    );
                    changed = true;
                    created
                }
                Some((current, hash)) => {
                    let password_hash = match (&user.password, &user.password_hash) {
                        (Some(p), _)
                            if !self
                                .core
                                .hasher
                                .verify(SecretString::from(p.clone()), hash.clone())
                                .await? =>
                        {
                            Some(self.core.hasher.hash(SecretString::from(p.clone())).await?)
                        }
                        (None, Some(h)) if hash.as_ref() != Some(h) => Some(h.clone()),
                        _ => None,
                    };
                    let differs = current.display_name != name
                        || current.username != username
                        || current.superuser != user.superuser
                        || current.active != user.active
                        || password_hash.is_some();
                    if differs {
                        let changes = store::users::UserChanges {
                            email: None,
                            username: Some(username.clone()),
                            display_name: Some(name.clone()),
                            password_hash,
                            active: Some(user.active),
                            superuser: Some(user.superuser),
                        };
                        let updated = store::users::update(tx, current.id, changes, journal.now()).await?;
                        journal.event(
                            Some(org.id),
                            "user",
                            current.id,
                            "updated",
                            "UserUpdated",
                            crate::service::auth::user_data(&updated),
                        );
                        touched.users.insert(current.id);
                        if !user.active {
                            touched
                                .sessions
                                .extend(store::sessions::unrevoked_of_user(tx, current.id).await?);
                        }
                        changed = true;
                    }
                    current
                }
            };
            listed.insert(account.id);
            let wanted: Vec<&str> = user
                .roles
                .as_ref()
                .map_or(vec!["member"], |r| r.iter().map(String::as_str).collect());
            let mut wanted_keys: Vec<String> = wanted.iter().map(|k| (*k).to_owned()).collect();
            wanted_keys.sort();
            wanted_keys.dedup();
            let role_ids: Vec<Uuid> = roles
                .iter()
                .filter(|r| wanted_keys.contains(&r.key))
                .map(|r| r.id)
                .collect();
            match store::orgs::membership(tx, org.id, account.id).await? {
                None => {
                    store::orgs::add_member(tx, org.id, account.id, &[], journal.now()).await?;
                    store::orgs::set_member_roles(tx, org.id, account.id, &role_ids).await?;
                    membership_changed(journal, org.id, account.id, "added", &[], &wanted_keys);
                    changed = true;
                }
                Some(m) if m.roles != wanted_keys => {
                    store::orgs::set_member_roles(tx, org.id, account.id, &role_ids).await?;
                    membership_changed(journal, org.id, account.id, "roles_changed", &m.roles, &wanted_keys);
                    changed = true;
                }
                Some(_) => {}
            }
            let current_teams = store::teams::roles_of(tx, org.id, account.id).await?;
            for (slug, role) in &user.teams {
                let Some(team_id) = teams.get(slug) else { continue };
                if !current_teams.iter().any(|(t, r)| t == team_id && r == role) {
                    store::teams::put_member(tx, org.id, *team_id, account.id, role, journal.now()).await?;
                    journal.event(
                        Some(org.id),
                        "team",
                        team_id,
                        "members.changed",
                        "TeamMembersChanged",
                        json!({"team_id": team_id, "user_id": account.id, "action": "put", "role": role}),
                    );
                    changed = true;
                }
            }
            let wanted_domains: Vec<Uuid> = user.domains.iter().filter_map(|k| domains.get(k).copied()).collect();
            let current_domains = store::domains::assigned(tx, org.id, account.id).await?;
            for domain_id in wanted_domains.iter().filter(|d| !current_domains.contains(d)) {
                store::domains::assign(tx, org.id, *domain_id, account.id, journal.now()).await?;
                journal.event(
                    Some(org.id),
                    "domain",
                    domain_id,
                    "users.changed",
                    "DomainUsersChanged",
                    json!({"domain_id": domain_id, "user_id": account.id, "action": "assigned"}),
                );
                changed = true;
            }
            if options.prune {
                let wanted_teams: Vec<Uuid> = user.teams.keys().filter_map(|s| teams.get(s).copied()).collect();
                for (team_id, _) in current_teams.iter().filter(|(t, _)| !wanted_teams.contains(t)) {
                    store::teams::remove_member(tx, org.id, *team_id, account.id).await?;
                    changed = true;
                }
                for domain_id in current_domains.iter().filter(|d| !wanted_domains.contains(d)) {
                    store::domains::unassign(tx, org.id, *domain_id, account.id).await?;
                    changed = true;
                }
            }
            if changed {
                touched.members.entry(org.id).or_default().insert(account.id);
            }
            plan.note(if changed { Action::Update } else { Action::Unchanged }, what.clone());
            if let Some(last) = plan.changes.last_mut()
                && changed
                && touched.created.contains(&account.id)
            {
                last.action = Action::Create;
            }
        }
        if options.prune {
            let mut cursor = None;
            loop {
                let page = store::orgs::members(
                    tx,
                    org.id,
                    crate::model::PageRequest {
                        limit: 200,
                        after: cursor,
                    },
                )
                .await?;
                for member in page
                    .items
                    .iter()
                    .filter(|m| !listed.contains(&m.user.id) && !m.user.superuser)
                {
                    store::orgs::remove_member(tx, org.id, member.user.id).await?;
                    store::teams::remove_user(tx, org.id, member.user.id).await?;
                    store::domains::remove_user(tx, org.id, member.user.id).await?;
                    touched
                        .sessions
                        .extend(store::sessions::unrevoked_of_user_in_org(tx, member.user.id, org.id).await?);
                    touched.members.entry(org.id).or_default().insert(member.user.id);
                    membership_changed(journal, org.id, member.user.id, "removed", &member.roles, &[]);
                    plan.note(
                        Action::Delete,
                        format!("membership of {} in {}", member.user.email, org.slug),
                    );
                }
                match page.next_cursor.and_then(|c| c.parse().ok()) {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(())
    }
}
