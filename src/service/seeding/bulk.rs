//! What seeding users reads and writes in bulk: an organisation's accounts, memberships, team
//! memberships and domain assignments read in a few queries (`Existing`), the new rows collected
//! while the plan is worked out in memory and written in multi-row inserts (`Rows`), and
//! plaintext passwords hashed on every core at once (`Run::passwords`).
use super::Run;
use crate::model::User;
use crate::service::{Result, ServiceError};
use crate::store::{self, Tx};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::task::JoinSet;
use uuid::Uuid;

/// What an organisation holds before the users step, by user.
pub(super) struct Existing {
    /// Accounts named by the document, by (normalised) email, with their password hashes.
    pub accounts: HashMap<String, (User, Option<String>)>,
    /// Membership id and role ids.
    pub members: HashMap<Uuid, (Uuid, Vec<Uuid>)>,
    /// (team id, role).
    pub teams: HashMap<Uuid, Vec<(Uuid, String)>>,
    pub domains: HashMap<Uuid, Vec<Uuid>>,
}

impl Existing {
    pub async fn load(tx: &Tx, org: Uuid, emails: &[String]) -> Result<Self> {
        Ok(Self {
            accounts: store::users::credentials_by_email(tx, emails).await?,
            members: store::members::of_org(tx, org).await?,
            teams: store::teams::roles_in_org(tx, org).await?,
            domains: store::domains::assignments_in_org(tx, org).await?,
        })
    }
}

/// New rows of the users step, written at its end.
#[derive(Default)]
pub(super) struct Rows {
    pub users: Vec<store::users::NewUser>,
    /// Accounts created inactive (created active, then disabled, as one at a time does).
    pub inactive: Vec<Uuid>,
    /// New memberships: user id, role ids.
    pub members: Vec<(Uuid, Vec<Uuid>)>,
    /// Memberships whose roles are replaced: membership id, role ids.
    pub roles: Vec<(Uuid, Vec<Uuid>)>,
    /// New team memberships: team id, user id, role.
    pub team_members: Vec<(Uuid, Uuid, String)>,
    /// New domain assignments: domain id, user id.
    pub assignments: Vec<(Uuid, Uuid)>,
}

impl Rows {
    pub async fn write(self, tx: &Tx, org: Uuid, now: DateTime<Utc>) -> Result<()> {
        store::users::insert_many(tx, self.users, now).await?;
        for id in self.inactive {
            store::users::set_active(tx, id, false, now).await?;
        }
        store::members::add_many(tx, org, &self.members, now).await?;
        store::members::replace_roles_many(tx, &self.roles).await?;
        store::teams::add_members(tx, org, &self.team_members, now).await?;
        store::domains::assign_many(tx, org, &self.assignments, now).await?;
        Ok(())
    }
}

impl Run<'_> {
    /// For each user of the document, the hash to store from its plaintext `password`: a new
    /// account's, or an existing account's whose stored hash does not verify (`None`: no
    /// plaintext password, or it verifies). Hashes run concurrently, as many as there are cores.
    pub(super) async fn passwords(
        &self,
        users: &[seed::User],
        emails: &[String],
        existing: &Existing,
    ) -> Result<Vec<Option<String>>> {
        let mut hashes = vec![None; users.len()];
        let limit = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut jobs = JoinSet::new();
        for (i, (user, email)) in users.iter().zip(emails).enumerate() {
            let Some(password) = &user.password else { continue };
            if jobs.len() >= limit {
                finish_one(&mut jobs, &mut hashes).await?;
            }
            let hasher = Arc::clone(self.hasher);
            let password = SecretString::from(password.clone());
            let stored = existing.accounts.get(email).map(|(_, hash)| hash.clone());
            jobs.spawn(async move {
                let verified = match stored {
                    Some(stored) => hasher.verify(password.clone(), stored).await?,
                    None => false,
                };
                let hash = if verified {
                    None
                } else {
                    Some(hasher.hash(password).await?)
                };
                Ok::<_, ServiceError>((i, hash))
            });
        }
        while !jobs.is_empty() {
            finish_one(&mut jobs, &mut hashes).await?;
        }
        Ok(hashes)
    }
}

type HashJob = Result<(usize, Option<String>)>;

async fn finish_one(jobs: &mut JoinSet<HashJob>, hashes: &mut [Option<String>]) -> Result<()> {
    if let Some(done) = jobs.join_next().await {
        let (i, hash) = done.map_err(|e| ServiceError::Internal(e.into()))??;
        hashes[i] = hash;
    }
    Ok(())
}
