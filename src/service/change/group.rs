//! Group commit: many small, independent changes committed in one transaction.
//!
//! On SQLite every write queues for the one write lock (`store::begin`), and each transaction
//! pays for its `BEGIN IMMEDIATE`, the hand-over of the lock and its `COMMIT` (the pages it
//! wrote appended to the WAL, and a checkpoint every thousand pages). A `Group` has one writer
//! task: it takes whatever work queued while it last committed (up to `MAX_GROUP` pieces), runs
//! each piece as a *part* of one `Change` (`Change::part`: a savepoint, so a part that fails
//! rolls back alone, with the events, audit entries and invalidations it recorded), commits
//! once, and only then answers each caller. A part's outcome is the one it would have had in a
//! transaction of its own: the parts run one after another under the same write lock, and each
//! sees the writes of the parts before it. If the commit fails, every caller gets the error
//! (nothing of the group was written).
//!
//! On PostgreSQL writers do not share a lock and many connections commit side by side (the
//! server groups their WAL flushes itself): each piece of work is a change of its own, run by
//! its caller.
use super::{Change, Changes};
use crate::service::{Result, ServiceError};
use sea_orm::DbBackend;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

/// A piece of work that can run as a part of a grouped change.
#[async_trait::async_trait]
pub trait Work: Sized + Send + 'static {
    type Output: Send + 'static;

    /// Does the work in `change`. An error rolls back what this piece wrote and recorded, and
    /// nothing else.
    async fn run(self, change: &mut Change) -> Result<Self::Output>;

    /// Does a group's pieces in one change and answers each, in order: each as a part of its
    /// own (a savepoint), unless the kind of work knows how to do many at once with fewer
    /// statements, with every answer the one it would have had alone. An error fails the
    /// whole group (none of it is committed).
    async fn run_group(group: Vec<Self>, change: &mut Change) -> Result<Vec<Result<Self::Output>>> {
        let mut answers = Vec::with_capacity(group.len());
        for work in group {
            answers.push(change.part(work).await?);
        }
        Ok(answers)
    }
}

/// The most pieces of work one transaction commits.
const MAX_GROUP: usize = 64;
/// How many pieces may wait for the writer before callers wait to queue.
const QUEUE: usize = 1024;

type Job<W> = (W, oneshot::Sender<Result<<W as Work>::Output>>);

/// Runs pieces of work of one kind, grouped into shared transactions on SQLite.
pub struct Group<W: Work> {
    changes: Changes,
    /// The writer's queue (SQLite), started by the first piece of work.
    queue: OnceLock<mpsc::Sender<Job<W>>>,
}

impl<W: Work> Group<W> {
    pub fn new(changes: &Changes) -> Self {
        Self {
            changes: changes.clone(),
            queue: OnceLock::new(),
        }
    }

    /// Runs `work` and answers once what it wrote is committed.
    pub async fn run(&self, work: W) -> Result<W::Output> {
        if self.changes.0.db.get_database_backend() != DbBackend::Sqlite {
            let mut change = self.changes.begin().await?;
            let output = work.run(&mut change).await?;
            change.commit().await?;
            return Ok(output);
        }
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(writer(self.changes.clone(), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        queue.send((work, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The writer task: a group per turn, until every `Group` handle is gone.
async fn writer<W: Work>(changes: Changes, mut queue: mpsc::Receiver<Job<W>>) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut jobs, MAX_GROUP).await > 0 {
        commit_group(&changes, jobs.drain(..)).await;
    }
}

/// Runs the jobs as one change (`Work::run_group`), commits it, then answers them.
async fn commit_group<W: Work>(changes: &Changes, jobs: impl Iterator<Item = Job<W>>) {
    let (group, replies): (Vec<W>, Vec<_>) = jobs.unzip();
    let mut change = match changes.begin().await {
        Ok(change) => change,
        Err(e) => return refuse(&e, replies.into_iter()),
    };
    let answers = match W::run_group(group, &mut change).await {
        Ok(answers) => answers,
        // A statement of the group (or a savepoint) failed: the transaction cannot be trusted,
        // and none of the group is committed.
        Err(e) => return refuse(&e, replies.into_iter()),
    };
    match change.commit().await {
        Ok(()) => {
            for (answer, reply) in answers.into_iter().zip(replies) {
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            tracing::error!(error = ?e, "a group commit failed");
            for (answer, reply) in answers.into_iter().zip(replies) {
                let _ = reply.send(answer.and_then(|_| Err(failed(&e))));
            }
        }
    }
}

fn refuse<T>(e: &ServiceError, replies: impl Iterator<Item = oneshot::Sender<Result<T>>>) {
    tracing::error!(error = ?e, "a group of changes could not run");
    for reply in replies {
        let _ = reply.send(Err(failed(e)));
    }
}

/// What each caller of a group that did not commit gets (the cause is logged once).
fn failed(e: &ServiceError) -> ServiceError {
    let cause = anyhow::anyhow!("the group's transaction did not commit: {e}");
    match e {
        ServiceError::Unavailable(_) => ServiceError::Unavailable(cause),
        _ => ServiceError::Internal(cause),
    }
}

fn stopped() -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!("the group-commit writer stopped"))
}
