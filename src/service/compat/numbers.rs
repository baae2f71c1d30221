//! Seed 002's integer user ids: every account gets the next number of a sequence (never reused)
//! in the transaction that creates it. A commit hook, so every way of creating an account is
//! covered without the core knowing about numbers.
use crate::service::Result;
use crate::service::change::{CommitHook, Event, Recorded};
use crate::store::{self, Tx};

pub struct UserNumbers;

#[async_trait::async_trait]
impl CommitHook for UserNumbers {
    async fn before_commit(&self, tx: &Tx, events: &[Recorded]) -> Result<()> {
        let created: Vec<_> = events
            .iter()
            .filter_map(|recorded| match &recorded.event {
                Event::UserCreated { user } => Some(user.id),
                _ => None,
            })
            .collect();
        Ok(store::compat::assign_numbers(tx, &created).await?)
    }
}
