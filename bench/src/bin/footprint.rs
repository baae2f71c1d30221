//! `footprint`: the heap a cached user costs in guildhall's read path, counted by the
//! allocator rather than read off the process's RSS (RSS also grows with SQLite's page caches,
//! with the verified-token table's pages as they are first touched, and with the allocator's
//! arenas, none of which is per user).
//!
//! Loads the contexts of the given members through guildhall's own `context::load`, stores them
//! in an `AccessCache` as the `Authenticator` does, renders each one's `/auth/validate` answer
//! through `Renderings` as the hot path does, and prints the live heap bytes and allocations per
//! user after each step.
use guildhall::http::render::Renderings;
use guildhall::model::AuthMethods;
use guildhall::service::authn::context;
use guildhall::service::cache::{AccessCache, Bounds, ContextResult};
use serde_json::json;
use uuid::Uuid;

// dhat's allocator counts what is live (this binary only: the other helpers measure speed, and
// keep the plain allocator).
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn live() -> (isize, isize) {
    let stats = dhat::HeapStats::get();
    (stats.curr_bytes as isize, stats.curr_blocks as isize)
}

/// The heap a clone of `value` holds (its exact capacities: no growth slack).
fn size_of_clone<T: Clone>(value: &T) -> isize {
    let before = live().0;
    let copy = value.clone();
    let size = live().0 - before;
    drop(copy);
    size
}

#[derive(clap::Parser)]
struct Args {
    /// guildhall's database (AUTH_DATABASE_URL), seeded
    #[arg(long)]
    database_url: String,
    /// `user-id org-id` lines: the members measured
    #[arg(long)]
    subjects: std::path::PathBuf,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = <Args as clap::Parser>::parse();
    // Counting only; no report is written (the profiler is never dropped).
    std::mem::forget(dhat::Profiler::builder().testing().build());
    let (url, subjects) = (args.database_url.as_str(), args.subjects.as_path());
    let pairs: Vec<(Uuid, Uuid)> = std::fs::read_to_string(subjects)?
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(u, o)| Ok((u.parse()?, o.parse()?)))
        .collect::<anyhow::Result<_>>()?;
    let n = pairs.len();
    anyhow::ensure!(n > 1, "need at least two members");
    let db = guildhall::store::connect(url).await?;
    let cache = AccessCache::new(
        chrono::Duration::minutes(5),
        Bounds {
            contexts: n + 1,
            tokens: 1,
        },
    );
    let renderings = Renderings::new(n + 1);
    // The first load warms sqlx's statement caches; it is not counted.
    let (user, org) = pairs[0];
    let warm = context::load(&db, user, org).await?;
    drop(warm);
    let start = live();
    let mut loaded = Vec::with_capacity(n - 1);
    for &(user, org) in &pairs[1..] {
        let value = context::load(&db, user, org).await?.map(std::sync::Arc::new);
        loaded.push(value.clone());
        cache.store_context(user, org, value, cache.generation(), 0);
    }
    // `loaded` (the pointers kept for rendering, one buffer) is not part of the cache.
    let kept = (n - 1) as isize;
    let pointers = kept * std::mem::size_of::<ContextResult>() as isize;
    let with_contexts = live();
    let context_bytes = with_contexts.0 - start.0 - pointers;
    for context in loaded.iter().flatten() {
        renderings.valid(context, AuthMethods::default());
    }
    let with_renderings = live();
    let rendered_len: usize = loaded
        .iter()
        .flatten()
        .map(|context| renderings.valid(context, AuthMethods::default()).len())
        .sum();
    // Where a context's bytes go: each part cloned (exact capacities) and dropped again.
    let mut parts = [0isize; 7];
    for context in loaded.iter().flatten() {
        let sizes = [
            size_of_clone(&context.user),
            size_of_clone(&context.org),
            size_of_clone(&context.roles),
            size_of_clone(&context.permissions),
            size_of_clone(&context.teams),
            size_of_clone(&context.domains),
            size_of_clone(&context.expanded_domains),
        ];
        for (total, size) in parts.iter_mut().zip(sizes) {
            *total += size;
        }
    }
    let per = |bytes: isize| bytes as f64 / kept as f64;
    println!(
        "{}",
        json!({
            "users": kept,
            "context_bytes": per(context_bytes),
            "context_blocks": per(with_contexts.1 - start.1 - 1),
            "rendering_bytes": per(with_renderings.0 - with_contexts.0),
            "rendering_blocks": per(with_renderings.1 - with_contexts.1),
            "total_bytes": per(with_renderings.0 - start.0 - pointers),
            "rendered_len": rendered_len as f64 / kept as f64,
            "context_inline": std::mem::size_of::<guildhall::model::MembershipContext>(),
            "heap_of": {
                "user": per(parts[0]), "org": per(parts[1]), "roles": per(parts[2]), "permissions": per(parts[3]),
                "teams": per(parts[4]), "domains": per(parts[5]), "expanded_domains": per(parts[6]),
            },
        })
    );
    drop(loaded);
    Ok(())
}
