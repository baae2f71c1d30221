//! The write path. A service opens a `Change` (`Changes::begin`), which owns the transaction and
//! what the change leaves besides itself:
//!
//! - typed `Event`s, written to the outbox in the same transaction (so an event is never lost and
//!   never sent for a change that rolled back) and relayed to NATS later;
//! - `Audit` entries, written in the same transaction;
//! - what the read path must forget: `members_changed(org, users)` bumps those memberships' `mv`
//!   *and* invalidates their cached contexts, in one call, so the two cannot drift
//!   (`members_joined` for memberships the change itself created: forgotten, with no `mv` to
//!   move); `role_changed(org, key)` moves the organisation's roles version (part of every
//!   member's `mv`) and has the replicas make its cached contexts again in place; sessions
//!   ended with `end_sessions` are refused by every replica.
//!
//! `commit()` runs the commit hooks (seed services' extras, e.g. user numbers), writes the
//! outbox and the audit log, commits, and only then broadcasts the invalidations. Dropping a
//! `Change` rolls it back and leaves no trace. Small changes written all day (refresh
//! rotation) go through a `Group`, which commits many of them in one transaction on SQLite
//! (`group`: each one a part that fails alone).
mod audit;
pub mod broadcast;
mod event;
mod group;

pub use audit::{Actor, Audit};
pub use event::{Event, MembershipAction, user_data};
pub use group::{Group, Work};

use super::Result;
use super::cache::Invalidation;
use crate::clock::SharedClock;
use crate::model::{AuditEntry, StoredEvent};
pub use crate::store::sessions::SessionsOf;
use crate::store::{self, Db, Tx};
use broadcast::Broadcaster;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use uuid::Uuid;

/// An event as recorded by a change: the organisation it concerns, and what happened.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub org: Option<Uuid>,
    pub event: Event,
}

/// Work that must happen in the transaction of every change that records certain events
/// (the seed services' extras hook in here instead of living in the core's store functions).
#[async_trait::async_trait]
pub trait CommitHook: Send + Sync {
    async fn before_commit(&self, tx: &Tx, events: &[Recorded]) -> Result<()>;
}

/// Opens changes. Cheap to clone; every service that writes holds one.
#[derive(Clone)]
pub struct Changes(Arc<Inner>);

struct Inner {
    db: Db,
    clock: SharedClock,
    /// The CloudEvents `source` (the issuer).
    source: String,
    broadcaster: Broadcaster,
    hooks: Vec<Arc<dyn CommitHook>>,
    /// How long an ended session's tokens must still be refused: their lifetime plus leeway.
    revocation_window: Duration,
}

impl Changes {
    pub fn new(
        db: Db,
        clock: SharedClock,
        source: &str,
        broadcaster: Broadcaster,
        revocation_window: Duration,
        hooks: Vec<Arc<dyn CommitHook>>,
    ) -> Self {
        Self(Arc::new(Inner {
            db,
            clock,
            source: source.to_owned(),
            broadcaster,
            hooks,
            revocation_window,
        }))
    }

    /// Now, by the clock changes are stamped with.
    pub fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    /// Begins a change now.
    pub async fn begin(&self) -> Result<Change> {
        Ok(Change {
            tx: store::begin(&self.0.db).await?,
            now: self.0.clock.now(),
            inner: Arc::clone(&self.0),
            events: Vec::new(),
            audit: Vec::new(),
            members: BTreeMap::new(),
            joined: BTreeMap::new(),
            invalidations: Vec::new(),
        })
    }

    /// After a bulk change committed: SQLite's WAL is folded into the database and truncated
    /// (`store::checkpoint`).
    pub async fn checkpoint(&self) -> Result<()> {
        Ok(store::checkpoint(&self.0.db).await?)
    }

    /// Writes audit entries on their own (a failed login: nothing else is written).
    pub async fn record(&self, entries: impl IntoIterator<Item = Audit>) -> Result<()> {
        let mut change = self.begin().await?;
        for entry in entries {
            change.audit(entry);
        }
        change.commit().await
    }
}

/// One change in the making; see the module documentation.
pub struct Change {
    tx: Tx,
    now: DateTime<Utc>,
    inner: Arc<Inner>,
    events: Vec<Recorded>,
    audit: Vec<AuditEntry>,
    /// Memberships whose `mv` moves at commit, per organisation.
    members: BTreeMap<Uuid, BTreeSet<Uuid>>,
    /// Of those, the memberships this change created: their `mv` is still the 1 they were
    /// inserted with, and stays (no token carries it yet).
    joined: BTreeMap<Uuid, BTreeSet<Uuid>>,
    invalidations: Vec<Invalidation>,
}

impl Change {
    /// The transaction, for the store calls of the change.
    pub fn tx(&self) -> &Tx {
        &self.tx
    }

    /// When the change happens (one instant for all of it).
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn event(&mut self, org: impl Into<Option<Uuid>>, event: Event) {
        self.events.push(Recorded { org: org.into(), event });
    }

    pub fn audit(&mut self, audit: Audit) {
        self.audit.push(audit.entry(self.now));
    }

    /// These users' memberships (roles, teams, domains, permissions) in `org` changed: their `mv`
    /// moves and their cached contexts are forgotten, on every replica, once the change commits.
    pub fn members_changed(&mut self, org: Uuid, users: impl IntoIterator<Item = Uuid>) {
        self.members.entry(org).or_default().extend(users);
    }

    /// These users became members of `org` in this change (their rows inserted with `mv` 1, as
    /// `store::members::add_many` does): their cached contexts (a cached "not a member") are
    /// forgotten on every replica once the change commits, like `members_changed`, but no
    /// statement moves an `mv` no token carries yet. A bulk seed's 100,000 new members cost no
    /// `UPDATE`.
    pub fn members_joined(&mut self, org: Uuid, users: impl IntoIterator<Item = Uuid>) {
        let users: Vec<Uuid> = users.into_iter().collect();
        self.members.entry(org).or_default().extend(users.iter().copied());
        self.joined.entry(org).or_default().extend(users);
    }

    /// A role of `org` changed (its permissions, its name, its removal): the organisation's roles
    /// version moves now (every member's `mv` is their own plus that version: one single-row
    /// statement, however many hold the role), and once the change commits every replica makes
    /// the organisation's cached contexts again in place from its roles as they are then
    /// (`Invalidation::Role`, filled in at commit): a message whose size grows with the
    /// organisation's roles, not with the role's holders, and no member's context read again.
    pub async fn role_changed(&mut self, org: Uuid, role: &str) -> Result<()> {
        let version = store::orgs::bump_roles_version(&self.tx, org).await?;
        self.invalidations.push(Invalidation::Role {
            org,
            role: role.to_owned(),
            version,
            roles: BTreeMap::new(),
        });
        Ok(())
    }

    /// A user's account changed (what every organisation sees of them).
    pub fn user_changed(&mut self, user: Uuid) {
        self.invalidations.push(Invalidation::User { user });
    }

    /// Something every member of an organisation sees changed (its name, its being active).
    pub fn org_changed(&mut self, org: Uuid) {
        self.invalidations.push(Invalidation::Org { org });
    }

    /// A service account changed or went away.
    pub fn service_account_changed(&mut self, id: Uuid) {
        self.invalidations.push(Invalidation::Account { id });
    }

    /// Ends sessions (one statement): the rows, a `session.invalidated` event each, and (after
    /// commit) every replica refusing their tokens. Returns how many were not ended yet.
    pub async fn end_sessions(&mut self, whose: SessionsOf, reason: &str) -> Result<u64> {
        let ended = store::sessions::revoke(&self.tx, whose, reason, self.now).await?;
        // Whoever ends all of a user's sessions (logout everywhere, a new password,
        // deactivation) ends their logins in browsers too.
        if let SessionsOf::User(user) | SessionsOf::UserExcept { user, .. } = whose {
            store::provider::end_browser_sessions_of(&self.tx, user, self.now).await?;
        }
        for id in &ended {
            let event = Event::SessionInvalidated {
                session: *id,
                reason: reason.to_owned(),
            };
            self.event(None, event);
        }
        let count = ended.len() as u64;
        if !ended.is_empty() {
            let until = self.now + self.inner.revocation_window;
            self.invalidations.push(Invalidation::Sessions { ids: ended, until });
        }
        Ok(count)
    }

    /// Runs `work` as a part of this change that can fail alone (a savepoint): when it fails,
    /// what it wrote and recorded is rolled back and the rest of the change stands. The outer
    /// error says the savepoint itself failed, and the change must not be committed.
    pub(crate) async fn part<W: Work>(&mut self, work: W) -> Result<Result<W::Output>> {
        let marks = (self.events.len(), self.audit.len(), self.invalidations.len());
        let (members, joined) = (self.members.clone(), self.joined.clone());
        store::savepoint(&self.tx).await?;
        let answer = work.run(self).await;
        if answer.is_ok() {
            store::release(&self.tx).await?;
        } else {
            store::rollback_to(&self.tx).await?;
            self.events.truncate(marks.0);
            self.audit.truncate(marks.1);
            self.invalidations.truncate(marks.2);
            self.members = members;
            self.joined = joined;
        }
        Ok(answer)
    }

    /// The roles, with their permissions, of each organisation a role of which changed, as the
    /// change leaves them (read once an organisation, after every write of the change).
    async fn fill_role_changes(&mut self) -> Result<()> {
        let mut read: BTreeMap<Uuid, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        for invalidation in &mut self.invalidations {
            if let Invalidation::Role { org, roles, .. } = invalidation {
                if !read.contains_key(org) {
                    let now = store::roles::list(&self.tx, *org).await?;
                    read.insert(*org, now.into_iter().map(|r| (r.key, r.permissions)).collect());
                }
                if let Some(now) = read.get(org) {
                    roles.clone_from(now);
                }
            }
        }
        Ok(())
    }

    /// Moves `mv`, runs the hooks, writes events and audit entries, commits, then broadcasts.
    pub async fn commit(mut self) -> Result<()> {
        let joined = std::mem::take(&mut self.joined);
        for (org, users) in std::mem::take(&mut self.members) {
            let users: Vec<Uuid> = users.into_iter().collect();
            let new = joined.get(&org);
            let moved: Vec<Uuid> = match new {
                Some(new) => users.iter().copied().filter(|user| !new.contains(user)).collect(),
                None => users.clone(),
            };
            store::members::bump_mv(&self.tx, org, &moved, self.now).await?;
            self.invalidations.push(Invalidation::Members { org, users });
        }
        self.fill_role_changes().await?;
        for hook in &self.inner.hooks {
            hook.before_commit(&self.tx, &self.events).await?;
        }
        let time = self.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let events: Vec<StoredEvent> = self
            .events
            .iter()
            .map(|recorded| self.stored(recorded, &time))
            .collect::<Result<_>>()?;
        // An event no active webhook receives is written fanned out: the dispatcher's queue
        // holds only what some webhook may be sent (a bulk seed's events of organisations
        // without webhooks never enter it). A webhook receives the events of the changes that
        // commit after it exists; one committed while a change is under way may miss its events.
        let hooks = store::webhooks::active_in(&self.tx, events.iter().filter_map(|e| e.org_id)).await?;
        store::events::insert_many(&self.tx, events, |event| {
            !hooks.iter().any(|hook| hook.receives(event.org_id, &event.event_type))
        })
        .await?;
        store::audit::insert_many(&self.tx, &self.audit).await?;
        store::commit(self.tx).await?;
        self.inner.broadcaster.send(&self.invalidations).await;
        Ok(())
    }

    /// The CloudEvent an event becomes, on NATS subject `auth.<object>.<id>.<action>`; `time` is
    /// the change's instant as the envelope writes it (formatted once per commit).
    fn stored(&self, recorded: &Recorded, time: &str) -> Result<StoredEvent> {
        let (object, id, action, name) = recorded.event.parts();
        let event_id = Uuid::now_v7();
        let event_type = format!("guildhall.{object}.{action}");
        let cloud_event = CloudEvent {
            data: recorded.event.data(),
            datacontenttype: "application/json",
            eventname: name,
            id: event_id,
            orgid: recorded.org,
            source: &self.inner.source,
            specversion: "1.0",
            subject: format!("{object}/{id}"),
            time,
            kind: &event_type,
        };
        let payload = serde_json::to_string(&cloud_event).map_err(|e| super::ServiceError::Internal(e.into()))?;
        Ok(StoredEvent {
            id: event_id,
            org_id: recorded.org,
            subject: format!("auth.{object}.{id}.{action}"),
            payload,
            event_type,
            created_at: self.now,
            published_at: None,
            attempts: 0,
        })
    }
}

/// The outbox's envelope (CloudEvents 1.0, JSON), serialised without building a map first. The
/// fields are in alphabetical order, the order the payloads have always had (`serde_json`'s
/// map), so a payload is the same bytes it was.
#[derive(serde::Serialize)]
struct CloudEvent<'a> {
    data: serde_json::Value,
    datacontenttype: &'static str,
    eventname: &'static str,
    id: Uuid,
    orgid: Option<Uuid>,
    source: &'a str,
    specversion: &'static str,
    subject: String,
    time: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[cfg(test)]
mod tests {
    use super::CloudEvent;
    use serde_json::json;
    use uuid::Uuid;

    /// The envelope's bytes are the ones the map-built `json!` envelope had (key order
    /// included), with and without an organisation: subscribers and stored outboxes see no change.
    #[test]
    fn the_envelope_serialises_as_the_map_did() {
        for org in [Some(Uuid::now_v7()), None] {
            let (id, data) = (Uuid::now_v7(), json!({"user_id": Uuid::nil(), "role": "member"}));
            let envelope = CloudEvent {
                data: data.clone(),
                datacontenttype: "application/json",
                eventname: "TeamMembersChanged",
                id,
                orgid: org,
                source: "https://auth.example.test",
                specversion: "1.0",
                subject: "team/abc".into(),
                time: "2026-12-02T09:10:19.609Z",
                kind: "guildhall.team.members.changed",
            };
            let map = json!({
                "specversion": "1.0",
                "id": id,
                "source": "https://auth.example.test",
                "type": "guildhall.team.members.changed",
                "subject": "team/abc",
                "time": "2026-12-02T09:10:19.609Z",
                "datacontenttype": "application/json",
                "eventname": "TeamMembersChanged",
                "orgid": org,
                "data": data,
            });
            assert_eq!(serde_json::to_string(&envelope).unwrap(), map.to_string());
        }
    }
}
