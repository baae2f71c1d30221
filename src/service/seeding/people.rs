//! Seeding users: accounts, memberships with roles, team roles and domain assignments. What the
//! organisation holds is read in a few queries, each user's plan is worked out in memory (the same
//! plan lines and events, in the same order, as one user at a time) and the new rows are written
//! in multi-row inserts at the end (`bulk`); only changes to existing rows go one at a time.
use super::bulk::{Existing, Rows};
use super::{Action, Run};
use crate::model::{Organisation, PageRequest, Role, User};
use crate::service::Result;
use crate::service::change::{Event, MembershipAction, SessionsOf};
use crate::store;
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

impl Run<'_> {
    pub(super) async fn users(
        &mut self,
        org: &Organisation,
        doc: &seed::Org,
        teams: &HashMap<String, Uuid>,
        domains: &HashMap<String, Uuid>,
    ) -> Result<()> {
        let roles = store::roles::list(self.change.tx(), org.id).await?;
        let emails: Vec<String> = doc.users.iter().map(|u| u.email.trim().to_lowercase()).collect();
        let mut existing = Existing::load(self.change.tx(), org.id, &emails).await?;
        let hashes = self.passwords(&doc.users, &emails, &existing).await?;
        let mut rows = Rows::default();
        let mut listed = BTreeSet::new();
        for ((user, email), hashed) in doc.users.iter().zip(&emails).zip(hashes) {
            let what = format!("user {email} in {}", org.slug);
            let found = existing.accounts.remove(email);
            let (account, mut changed) = self.account(org, user, email, found, hashed, &mut rows).await?;
            listed.insert(account.id);
            let mut wanted: Vec<String> = user.roles.clone().unwrap_or_else(|| vec!["member".into()]);
            wanted.sort();
            wanted.dedup();
            let membership = existing.members.get(&account.id);
            let joins = membership.is_none();
            changed |= self.membership(org, &account, &roles, wanted, membership, &mut rows);
            let current = Grants {
                teams: existing.teams.get(&account.id).map_or(&[], Vec::as_slice),
                domains: existing.domains.get(&account.id).map_or(&[], Vec::as_slice),
            };
            changed |= self
                .grants(org, &account, user, teams, domains, current, &mut rows)
                .await?;
            if joins {
                self.change.members_joined(org.id, [account.id]);
            } else if changed {
                self.change.members_changed(org.id, [account.id]);
            }
            let action = match (changed, self.created.contains(&account.id)) {
                (true, true) => Action::Create,
                (true, false) => Action::Update,
                (false, _) => Action::Unchanged,
            };
            self.plan.note(action, what);
        }
        rows.write(self.change.tx(), org.id, self.change.now()).await?;
        if self.options.prune {
            self.prune_members(org, &listed).await?;
        }
        Ok(())
    }

    /// The account named by a document's user, to be created (in `rows`) or brought up to date
    /// (now); whether it changed. `hashed` is the hash of the user's plaintext password when one
    /// is to be stored (`passwords`).
    async fn account(
        &mut self,
        org: &Organisation,
        user: &seed::User,
        email: &str,
        found: Option<(User, Option<String>)>,
        hashed: Option<String>,
        rows: &mut Rows,
    ) -> Result<(User, bool)> {
        let now = self.change.now();
        let username = user.username.as_ref().map(|u| u.trim().to_lowercase());
        let name = user
            .name
            .clone()
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
        match found {
            None => {
                let password_hash = match &user.password {
                    Some(_) => hashed,
                    None => user.password_hash.clone(),
                };
                let id = user.id.unwrap_or_else(Uuid::now_v7);
                // The operator vouches for an account it gives a password.
                let email_verified = password_hash.is_some();
                let created = User {
                    id,
                    email: email.to_owned(),
                    username: username.clone(),
                    display_name: name.clone(),
                    active: user.active,
                    superuser: user.superuser,
                    email_verified,
                    default_org_id: Some(org.id),
                    created_at: now,
                    updated_at: now,
                    last_login_at: None,
                };
                rows.users.push(store::users::NewUser {
                    id: Some(id),
                    email: email.to_owned(),
                    username,
                    display_name: name,
                    email_verified,
                    password_hash,
                    superuser: user.superuser,
                    default_org_id: Some(org.id),
                });
                if !user.active {
                    rows.inactive.push(id);
                }
                self.created.insert(id);
                self.change.event(org.id, Event::UserCreated { user: created.clone() });
                Ok((created, true))
            }
            Some((current, hash)) => {
                let password_hash = match (&user.password, &user.password_hash) {
                    (Some(_), _) => hashed,
                    (None, Some(h)) if hash.as_ref() != Some(h) => Some(h.clone()),
                    _ => None,
                };
                let differs = current.display_name != name
                    || current.username != username
                    || current.superuser != user.superuser
                    || current.active != user.active
                    || password_hash.is_some();
                if !differs {
                    return Ok((current, false));
                }
                let password_changed = password_hash.is_some();
                let changes = store::users::UserChanges {
                    email: None,
                    username: Some(username),
                    display_name: Some(name),
                    password_hash,
                    active: Some(user.active),
                    superuser: Some(user.superuser),
                    email_verified: password_changed.then_some(true),
                };
                let updated = store::users::update(self.change.tx(), current.id, changes, now).await?;
                self.change.user_changed(current.id);
                if !user.active {
                    self.change
                        .end_sessions(SessionsOf::User(current.id), "seed_prune")
                        .await?;
                } else if password_changed {
                    self.change
                        .end_sessions(SessionsOf::User(current.id), "password_changed")
                        .await?;
                }
                self.change.event(
                    org.id,
                    Event::UserUpdated {
                        before: current.clone(),
                        after: updated,
                        password_changed,
                    },
                );
                Ok((current, true))
            }
        }
    }

    /// The account's membership with exactly the wanted roles (new rows in `rows`); whether it
    /// changed. `current` is the membership's id and role ids, if there is one.
    fn membership(
        &mut self,
        org: &Organisation,
        account: &User,
        roles: &[Role],
        wanted: Vec<String>,
        current: Option<&(Uuid, Vec<Uuid>)>,
        rows: &mut Rows,
    ) -> bool {
        let role_ids: Vec<Uuid> = roles.iter().filter(|r| wanted.contains(&r.key)).map(|r| r.id).collect();
        let (action, before) = match current {
            None => {
                rows.members.push((account.id, role_ids));
                (MembershipAction::Added, Vec::new())
            }
            Some((member, held)) => {
                let mut keys: Vec<String> = roles
                    .iter()
                    .filter(|r| held.contains(&r.id))
                    .map(|r| r.key.clone())
                    .collect();
                keys.sort();
                if keys == wanted {
                    return false;
                }
                rows.roles.push((*member, role_ids));
                (MembershipAction::RolesChanged, keys)
            }
        };
        self.change
            .event(org.id, Event::membership(org.id, account.id, action, &before, &wanted));
        true
    }

    /// The account's team roles and domain assignments as the document says (new rows in
    /// `rows`; changed roles and, with prune, removals now); whether any changed.
    #[allow(clippy::too_many_arguments)]
    async fn grants(
        &mut self,
        org: &Organisation,
        account: &User,
        user: &seed::User,
        teams: &HashMap<String, Uuid>,
        domains: &HashMap<String, Uuid>,
        current: Grants<'_>,
        rows: &mut Rows,
    ) -> Result<bool> {
        let now = self.change.now();
        let mut changed = false;
        for (slug, role) in &user.teams {
            let Some(team_id) = teams.get(slug) else { continue };
            if !current.teams.iter().any(|(t, r)| t == team_id && r == role) {
                if current.teams.iter().any(|(t, _)| t == team_id) {
                    store::teams::put_member(self.change.tx(), org.id, *team_id, account.id, role, now).await?;
                } else {
                    rows.team_members.push((*team_id, account.id, role.clone()));
                }
                let event = Event::TeamMembersChanged {
                    team: *team_id,
                    user: account.id,
                    role: Some(role.clone()),
                };
                self.change.event(org.id, event);
                changed = true;
            }
        }
        let wanted_domains: Vec<Uuid> = user.domains.iter().filter_map(|k| domains.get(k).copied()).collect();
        let mut assigning: Vec<Uuid> = Vec::new();
        for domain_id in wanted_domains.iter().filter(|d| !current.domains.contains(d)) {
            if !assigning.contains(domain_id) {
                assigning.push(*domain_id);
                rows.assignments.push((*domain_id, account.id));
            }
            let event = Event::DomainUsersChanged {
                domain: *domain_id,
                user: account.id,
                assigned: true,
            };
            self.change.event(org.id, event);
            changed = true;
        }
        if self.options.prune {
            let wanted_teams: Vec<Uuid> = user.teams.keys().filter_map(|s| teams.get(s).copied()).collect();
            for (team_id, _) in current.teams.iter().filter(|(t, _)| !wanted_teams.contains(t)) {
                store::teams::remove_member(self.change.tx(), org.id, *team_id, account.id).await?;
                changed = true;
            }
            for domain_id in current.domains.iter().filter(|d| !wanted_domains.contains(d)) {
                store::domains::unassign(self.change.tx(), org.id, *domain_id, account.id).await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Removes the memberships the document no longer lists (superusers stay).
    async fn prune_members(&mut self, org: &Organisation, listed: &BTreeSet<Uuid>) -> Result<()> {
        let mut cursor = None;
        loop {
            let request = PageRequest {
                limit: 200,
                after: cursor,
            };
            let page = store::members::list(self.change.tx(), org.id, request).await?;
            for member in page
                .items
                .iter()
                .filter(|m| !listed.contains(&m.user.id) && !m.user.superuser)
            {
                let tx = self.change.tx();
                store::members::remove(tx, org.id, member.user.id).await?;
                store::teams::remove_user(tx, org.id, member.user.id).await?;
                store::domains::remove_user(tx, org.id, member.user.id).await?;
                let whose = SessionsOf::UserInOrg {
                    user: member.user.id,
                    org: org.id,
                };
                self.change.end_sessions(whose, "seed_prune").await?;
                self.change.members_changed(org.id, [member.user.id]);
                let event = Event::membership(org.id, member.user.id, MembershipAction::Removed, &member.roles, &[]);
                self.change.event(org.id, event);
                let what = format!("membership of {} in {}", member.user.email, org.slug);
                self.plan.note(Action::Delete, what);
            }
            match page.next_cursor.and_then(|c| c.parse().ok()) {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(())
    }
}

/// A user's team memberships (team id, role) and domain assignments before the run.
#[derive(Clone, Copy)]
struct Grants<'a> {
    teams: &'a [(Uuid, String)],
    domains: &'a [Uuid],
}
