//! argon2id password hashing. Hashing runs on a few dedicated threads (the hash
//! concurrency) fed by a queue, so a flood of logins queues here instead of starving the async
//! workers, and a hashing thread goes from one hash straight to the next (no hand-back through
//! the runtime between them) in working memory it keeps. Unknown users verify a dummy hash, so
//! every credential failure costs the same.
use argon2::password_hash::{Output, PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use secrecy::{ExposeSecret, SecretString};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// argon2id cost and how many hashes may run at once.
#[derive(Debug, Clone, Copy)]
pub struct HashSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub concurrency: usize,
    /// The longest a hash may wait for a thread before its caller is told the server is
    /// overloaded (admission control: a flood is refused at once instead of queueing for minutes).
    pub max_wait: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("password hashing is shut down")]
    Closed,
    /// No hashing thread was free within the admission window.
    #[error("password hashing is overloaded")]
    Overloaded,
}

/// Work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// How many hashes may wait for a thread before callers wait to queue.
const QUEUE: usize = 4096;

/// argon2id with the configured cost, `concurrency` hashes at a time. The threads end when the
/// `Hasher` is dropped.
pub struct Hasher {
    argon: Argon2<'static>,
    jobs: mpsc::Sender<Job>,
    dummy: String,
    max_wait: std::time::Duration,
    /// How long hashes waited for a thread, in seconds (a metric).
    waited: Histogram,
}

/// Nice 10 for the calling hashing thread: under contention it gets about a tenth of a core's
/// share against validation's threads instead of half, so a login flood cannot double
/// validation's latency; with nothing else to run it hashes at full speed.
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    // Crossplatform 22 of 0..=99 maps to niceness 10 on Linux.
    let nice_10 = ThreadPriorityValue::try_from(22u8).map(ThreadPriority::Crossplatform);
    if let Err(error) = nice_10
        .map_err(|e| e.to_string())
        .and_then(|p| set_current_thread_priority(p).map_err(|e| format!("{e:?}")))
    {
        tracing::debug!(%error, "cannot lower the hashing thread's priority");
    }
}

/// Starts `count` hashing threads taking jobs from one queue.
fn start_threads(count: usize) -> Result<mpsc::Sender<Job>, HashError> {
    let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..count.max(1) {
        let queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    // One thread waits on the queue, the others on the lock; the job runs unlocked.
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
                    let Some(job) = job else { break };
                    // A panicking job must not take the thread with it (its caller sees `Closed`).
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .map_err(|_| HashError::Closed)?;
    }
    Ok(jobs)
}

impl Hasher {
    pub fn new(settings: HashSettings) -> Result<Arc<Self>, HashError> {
        let params = Params::new(settings.memory_kib, settings.iterations, settings.parallelism, None)
            .map_err(|e| HashError::Hash(e.into()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let dummy = argon
            .hash_password(b"guildhall dummy password", &salt)
            .map_err(HashError::Hash)?
            .to_string();
        Ok(Arc::new(Self {
            argon,
            jobs: start_threads(settings.concurrency)?,
            dummy,
            max_wait: settings.max_wait,
            waited: Histogram::new(exponential_buckets(0.001, 2.0, 13)),
        }))
    }

    /// The histogram of how long hashes waited for a hashing thread (seconds).
    pub fn wait_histogram(&self) -> Histogram {
        self.waited.clone()
    }

    /// Hashes queued and not yet started.
    pub fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// The PHC string of a new hash of `password`.
    pub async fn hash(self: &Arc<Self>, password: SecretString) -> Result<String, HashError> {
        self.hash_within(password, Some(self.max_wait)).await
    }

    /// `hash`, waiting for a hashing thread however long that takes: for work no client waits on
    /// (start-up's bootstrap), which admission control is not there to refuse.
    pub async fn hash_unhurried(self: &Arc<Self>, password: SecretString) -> Result<String, HashError> {
        self.hash_within(password, None).await
    }

    async fn hash_within(
        self: &Arc<Self>,
        password: SecretString,
        max_wait: Option<std::time::Duration>,
    ) -> Result<String, HashError> {
        let this = Arc::clone(self);
        self.blocking(max_wait, move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            this.argon
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(HashError::Hash)
        })
        .await
    }

    /// Whether `password` matches `hash`; with no hash (unknown user, OIDC-only user) a dummy
    /// hash is verified and the answer is false.
    pub async fn verify(self: &Arc<Self>, password: SecretString, hash: Option<String>) -> Result<bool, HashError> {
        let this = Arc::clone(self);
        self.blocking(Some(self.max_wait), move || {
            let known = hash.is_some();
            let phc = hash.unwrap_or_else(|| this.dummy.clone());
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return Ok(false);
            };
            let ok = verify_in_place(password.expose_secret().as_bytes(), &parsed);
            Ok(ok && known)
        })
        .await
    }

    /// Runs `work` on a hashing thread, or answers `Overloaded` when none takes it up within
    /// `max_wait` (`None`: however long it takes) or the queue is full. A caller that went away
    /// before its turn (the client hung up, or the wait ran out) costs no hash.
    async fn blocking<T: Send + 'static>(
        &self,
        max_wait: Option<std::time::Duration>,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let (reply, answer) = oneshot::channel();
        let (started, start) = oneshot::channel::<()>();
        let span = tracing::Span::current();
        let (queued_at, waited) = (std::time::Instant::now(), self.waited.clone());
        let job: Job = Box::new(move || {
            waited.observe(queued_at.elapsed().as_secs_f64());
            if !reply.is_closed() && started.send(()).is_ok() {
                let _ = reply.send(span.in_scope(work));
            }
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => HashError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => HashError::Closed,
        })?;
        let started = match max_wait {
            Some(max_wait) => tokio::time::timeout(max_wait, start).await,
            None => Ok(start.await),
        };
        match started {
            Ok(Ok(())) => answer.await.map_err(|_| HashError::Closed)?,
            Ok(Err(_)) => Err(HashError::Closed),
            // Dropping `start` and `answer` here tells the job, when its turn comes, to skip.
            Err(_) => Err(HashError::Overloaded),
        }
    }
}

thread_local! {
    /// argon2's working memory, kept by each hashing thread. Allocating it afresh for every
    /// verification (argon2's `verify_password`) means faulting in m KiB of new pages each time,
    /// which cost a fifth of a login at the OWASP parameters.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// `PasswordVerifier::verify_password`, computed in this thread's reused working memory; the
/// comparison is `Output`'s constant-time one.
fn verify_in_place(password: &[u8], phc: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(phc.algorithm), Params::try_from(phc)) else {
        return false;
    };
    let version = match phc.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let computed = BLOCKS.with(|memory| {
        let mut memory = memory.borrow_mut();
        memory.resize(blocks, Block::default());
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password,
            salt,
            &mut out,
            &mut memory[..],
        )
    });
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_fail() {
        let hasher = Hasher::new(HashSettings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            concurrency: 1,
            max_wait: std::time::Duration::from_secs(5),
        })
        .unwrap();
        let hash = hasher.hash("s3cret-enough".to_string().into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(
            hasher
                .verify("s3cret-enough".to_string().into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("s3cret-enough ".to_string().into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("guildhall dummy password".to_string().into(), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn reused_memory_verifies_exactly_like_argon2() {
        use argon2::password_hash::PasswordVerifier;
        // Different costs in turn on one thread: the kept memory is resized, never stale.
        for (m, t, p, variant) in [
            (256, 2, 1, Algorithm::Argon2id),
            (64, 1, 2, Algorithm::Argon2i),
            (512, 1, 1, Algorithm::Argon2id),
        ] {
            let argon = Argon2::new(variant, Version::V0x13, Params::new(m, t, p, None).unwrap());
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            let phc = argon.hash_password(b"correct horse", &salt).unwrap().to_string();
            let parsed = PasswordHash::new(&phc).unwrap();
            assert!(verify_in_place(b"correct horse", &parsed), "{phc}");
            assert!(argon.verify_password(b"correct horse", &parsed).is_ok());
            assert!(!verify_in_place(b"correct horsf", &parsed), "{phc}");
            // Change one character inside the hash (the last one also carries padding bits).
            let at = phc.len() - 10;
            let swapped = if &phc[at..=at] == "A" { "B" } else { "A" };
            let tampered = format!("{}{swapped}{}", &phc[..at], &phc[at + 1..]);
            assert!(!verify_in_place(
                b"correct horse",
                &PasswordHash::new(&tampered).unwrap()
            ));
        }
    }

    /// With the one hashing thread busy, a hash past `max_wait` is refused; an unhurried one (the
    /// bootstrap's) waits its turn and is done.
    #[tokio::test]
    async fn an_unhurried_hash_waits_where_a_request_s_is_refused() {
        let hasher = Hasher::new(HashSettings {
            memory_kib: 16_384,
            iterations: 4,
            parallelism: 1,
            concurrency: 1,
            max_wait: std::time::Duration::from_millis(1),
        })
        .unwrap();
        let (started, running) = oneshot::channel();
        let busy = hasher.blocking(None, move || {
            let _ = started.send(());
            std::thread::sleep(std::time::Duration::from_millis(200));
            Ok(())
        });
        let others = async {
            running.await.unwrap();
            let refused = hasher.hash("s3cret-enough".to_string().into()).await;
            let unhurried = hasher.hash_unhurried("s3cret-enough".to_string().into()).await;
            (refused, unhurried)
        };
        let (busy, (refused, unhurried)) = tokio::join!(busy, others);
        busy.unwrap();
        assert!(matches!(refused, Err(HashError::Overloaded)), "{refused:?}");
        assert!(unhurried.unwrap().starts_with("$argon2id$"));
    }

    #[tokio::test]
    async fn default_parameters_are_the_owasp_minimum() {
        let settings = HashSettings {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            concurrency: 1,
            max_wait: std::time::Duration::from_secs(5),
        };
        let hasher = Hasher::new(settings).unwrap();
        let hash = hasher.hash("s3cret-enough".to_string().into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    }
}
