//! Seeding users: accounts, memberships with roles, team roles and domain assignments.
use super::{Action, Run};
use crate::model::{Organisation, PageRequest, User};
use crate::service::Result;
use crate::service::change::{Event, MembershipAction, SessionsOf};
use crate::store;
use secrecy::SecretString;
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
        let mut listed = BTreeSet::new();
        for user in &doc.users {
            let email = user.email.trim().to_lowercase();
            let what = format!("user {email} in {}", org.slug);
            let (account, mut changed) = self.account(org, user, &email).await?;
            listed.insert(account.id);
            let mut wanted: Vec<String> = user.roles.clone().unwrap_or_else(|| vec!["member".into()]);
            wanted.sort();
            wanted.dedup();
            changed |= self.membership(org, &account, &roles, wanted).await?;
            changed |= self.grants(org, &account, user, teams, domains).await?;
            if changed {
                self.change.members_changed(org.id, [account.id]);
            }
            let action = match (changed, self.created.contains(&account.id)) {
                (true, true) => Action::Create,
                (true, false) => Action::Update,
                (false, _) => Action::Unchanged,
            };
            self.plan.note(action, what);
        }
        if self.options.prune {
            self.prune_members(org, &listed).await?;
        }
        Ok(())
    }

    /// The account named by a document's user, created or brought up to date; whether it
    /// changed.
    async fn account(&mut self, org: &Organisation, user: &seed::User, email: &str) -> Result<(User, bool)> {
        let now = self.change.now();
        let username = user.username.as_ref().map(|u| u.trim().to_lowercase());
        let name = user
            .name
            .clone()
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
        match store::users::find_credentials(self.change.tx(), email).await? {
            None => {
                let password_hash = match (&user.password, &user.password_hash) {
                    (Some(p), _) => Some(self.hasher.hash(SecretString::from(p.clone())).await?),
                    (None, hash) => hash.clone(),
                };
                let new = store::users::NewUser {
                    id: user.id,
                    email: email.to_owned(),
                    username,
                    display_name: name,
                    // The operator vouches for an account it gives a password.
                    email_verified: password_hash.is_some(),
                    password_hash,
                    superuser: user.superuser,
                    default_org_id: Some(org.id),
                };
                let mut created = store::users::insert(self.change.tx(), new, now).await?;
                if !user.active {
                    let changes = store::users::UserChanges {
                        active: Some(false),
                        ..store::users::UserChanges::default()
                    };
                    created = store::users::update(self.change.tx(), created.id, changes, now).await?;
                }
                self.created.insert(created.id);
                self.change.event(org.id, Event::UserCreated { user: created.clone() });
                Ok((created, true))
            }
            Some((current, hash)) => {
                let password_hash = match (&user.password, &user.password_hash) {
                    (Some(p), _) if !self.hasher.verify(SecretString::from(p.clone()), hash.clone()).await? => {
                        Some(self.hasher.hash(SecretString::from(p.clone())).await?)
                    }
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

    /// The account's membership with exactly the wanted roles; whether it changed.
    async fn membership(
        &mut self,
        org: &Organisation,
        account: &User,
        roles: &[crate::model::Role],
        wanted: Vec<String>,
    ) -> Result<bool> {
        let role_ids: Vec<Uuid> = roles.iter().filter(|r| wanted.contains(&r.key)).map(|r| r.id).collect();
        let tx = self.change.tx();
        let (action, before) = match store::members::membership(tx, org.id, account.id).await? {
            None => {
                store::members::add(tx, org.id, account.id, &[], self.change.now()).await?;
                (MembershipAction::Added, Vec::new())
            }
            Some(m) if m.roles != wanted => (MembershipAction::RolesChanged, m.roles),
            Some(_) => return Ok(false),
        };
        store::members::set_roles(tx, org.id, account.id, &role_ids).await?;
        self.change
            .event(org.id, Event::membership(org.id, account.id, action, &before, &wanted));
        Ok(true)
    }

    /// The account's team roles and domain assignments as the document says; whether any
    /// changed.
    async fn grants(
        &mut self,
        org: &Organisation,
        account: &User,
        user: &seed::User,
        teams: &HashMap<String, Uuid>,
        domains: &HashMap<String, Uuid>,
    ) -> Result<bool> {
        let now = self.change.now();
        let mut changed = false;
        let current_teams = store::teams::roles_of(self.change.tx(), org.id, account.id).await?;
        for (slug, role) in &user.teams {
            let Some(team_id) = teams.get(slug) else { continue };
            if !current_teams.iter().any(|(t, r)| t == team_id && r == role) {
                store::teams::put_member(self.change.tx(), org.id, *team_id, account.id, role, now).await?;
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
        let current_domains = store::domains::assigned(self.change.tx(), org.id, account.id).await?;
        for domain_id in wanted_domains.iter().filter(|d| !current_domains.contains(d)) {
            store::domains::assign(self.change.tx(), org.id, *domain_id, account.id, now).await?;
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
            for (team_id, _) in current_teams.iter().filter(|(t, _)| !wanted_teams.contains(t)) {
                store::teams::remove_member(self.change.tx(), org.id, *team_id, account.id).await?;
                changed = true;
            }
            for domain_id in current_domains.iter().filter(|d| !wanted_domains.contains(d)) {
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
