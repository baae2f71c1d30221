//! Joining an organisation with what a grant says (an invitation, a verified email domain's
//! `auto_join`, an identity provider's group mapping): the membership with its roles, the teams
//! and domains, in the caller's change, with one `membership.changed` event that says where it
//! came from, and `mv` moving. Roles, teams and domains that no longer exist are skipped (an
//! invitation may outlive a team); a user left with no role gets `member`.
use crate::service::change::{Change, Event, MembershipAction};
use crate::service::{Result, conflict};
use crate::store;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// What joining grants.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub roles: BTreeSet<String>,
    /// Team slug → team role.
    pub teams: BTreeMap<String, String>,
    pub domains: BTreeSet<String>,
}

/// Makes `user` a member of `org` with `grants`; 409 `already_a_member` if they are one. `source`
/// goes into the event (`{"source": "invitation", ...}`). Returns the roles granted, sorted.
pub async fn join(change: &mut Change, org: Uuid, user: Uuid, grants: &Grants, source: Value) -> Result<Vec<String>> {
    let now = change.now();
    let tx = change.tx();
    let known: Vec<String> = store::roles::list(tx, org).await?.into_iter().map(|r| r.key).collect();
    let mut roles: Vec<String> = grants.roles.iter().filter(|r| known.contains(r)).cloned().collect();
    if roles.is_empty() {
        roles.push("member".into());
    }
    let keys: Vec<&str> = roles.iter().map(String::as_str).collect();
    store::members::add(tx, org, user, &keys, now)
        .await
        .map_err(conflict("already_a_member", "the user is already a member"))?;
    store::members::forget_removal(tx, org, user).await?;
    let mut granted_teams = Vec::new();
    for (slug, role) in &grants.teams {
        if let Some(team) = store::teams::find_by_slug(tx, org, slug).await? {
            store::teams::put_member(tx, org, team.id, user, role, now).await?;
            granted_teams.push(json!({"team": slug, "role": role}));
        }
    }
    let tree = store::domains::list(tx, org).await?;
    let mut granted_domains = Vec::new();
    for key in &grants.domains {
        if let Some(domain) = tree.iter().find(|d| &d.key == key) {
            store::domains::assign(tx, org, domain.id, user, now).await?;
            granted_domains.push(key.clone());
        }
    }
    let mut extra = json!({"teams": granted_teams, "domains": granted_domains});
    if let (Value::Object(map), Value::Object(more)) = (&mut extra, source) {
        map.extend(more);
    }
    change.event(
        org,
        Event::MembershipChanged {
            org,
            user,
            action: MembershipAction::Added,
            before: Vec::new(),
            after: roles.clone(),
            extra: Some(extra),
        },
    );
    change.members_changed(org, [user]);
    Ok(roles)
}
