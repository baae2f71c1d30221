//! What the read path keeps instead of asking the database: verified tokens, revoked sessions,
//! each user's current context per organisation, service accounts. Every change says what it
//! touched as an `Invalidation` (applied here, and sent to the other replicas); a generation
//! counter keeps a load that raced with an invalidation from storing a stale answer.
use crate::model::{MembershipContext, ServiceAccount};
use crate::token::verify::Verified;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// Why a user has no context in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    UserNotFound,
    UserInactive,
    OrgInactive,
    NotAMember,
}

impl Denial {
    pub fn code(self) -> &'static str {
        match self {
            Self::UserNotFound => "user_not_found",
            Self::UserInactive => "user_inactive",
            Self::OrgInactive => "organization_inactive",
            Self::NotAMember => "not_a_member",
        }
    }
}

pub type ContextResult = Result<Arc<MembershipContext>, Denial>;

/// What the caches of every replica must forget after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Invalidation {
    /// Sessions revoked; their tokens are refused until `until`.
    Sessions { ids: Vec<Uuid>, until: DateTime<Utc> },
    /// Some users' memberships in one organisation changed.
    Members { org: Uuid, users: Vec<Uuid> },
    /// A user's account changed (every organisation).
    User { user: Uuid },
    /// Something every member of an organisation sees changed.
    Org { org: Uuid },
    /// A role of an organisation changed (its permissions, or it was removed) and moved its
    /// roles version to `version`: the organisation's cached contexts are made again in place
    /// from `roles`, every role of the organisation with its permissions after the change
    /// (`MembershipContext::after_role_change`), instead of being loaded again one by one. Its
    /// size grows with the organisation's roles, not with the role's holders.
    Role {
        org: Uuid,
        role: String,
        version: i64,
        roles: std::collections::BTreeMap<String, Vec<String>>,
    },
    /// A service account changed or went away.
    Account { id: Uuid },
}

/// How much the caches keep (`AUTH_CACHE_MAX_CONTEXTS`, `AUTH_CACHE_MAX_TOKENS`).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Contexts kept before the context cache starts over.
    pub contexts: usize,
    /// Verified tokens kept at most.
    pub tokens: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            contexts: 200_000,
            tokens: 100_000,
        }
    }
}

/// The SHA-256 of a token's exact bytes (collision resistant: two tokens never share an entry).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn of(token: &str) -> Self {
        Self(crate::crypto::sha256(token.as_bytes()))
    }
}

pub struct AccessCache {
    generation: AtomicU64,
    /// Verified access tokens by the SHA-256 of their exact bytes: a signature need not be
    /// checked twice. The digest, not the token (about 1 KiB), is the key: inserting copies 32
    /// bytes, and growing the map rehashes 32-byte keys, not whole tokens under the write lock.
    /// The table is sized for `bounds.tokens` at the start, so it never rehashes under the lock.
    tokens: RwLock<HashMap<TokenDigest, Verified>>,

    revoked: RwLock<HashMap<Uuid, DateTime<Utc>>>,
    /// Contexts and service accounts with when they were loaded (seconds since the epoch): past
    /// `max_age` they are loaded again, so a lost invalidation cannot keep one alive for long.
    contexts: RwLock<HashMap<(Uuid, Uuid), (ContextResult, i64)>>,
    accounts: RwLock<HashMap<Uuid, (Option<ServiceAccount>, i64)>>,
    max_age: i64,
    bounds: Bounds,
}

impl Default for AccessCache {
    fn default() -> Self {
        Self::new(chrono::Duration::minutes(5), Bounds::default())
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl AccessCache {
    /// A cache whose contexts and service accounts are trusted for `max_age`, holding at most
    /// `bounds`.
    pub fn new(max_age: chrono::Duration, bounds: Bounds) -> Self {
        Self {
            generation: AtomicU64::default(),
            tokens: RwLock::new(HashMap::with_capacity(bounds.tokens)),
            revoked: RwLock::default(),
            contexts: RwLock::default(),
            accounts: RwLock::default(),
            max_age: max_age.num_seconds(),
            bounds,
        }
    }

    /// How long revocations and cached answers are trusted without re-reading the database.
    pub fn max_age(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.max_age)
    }

    /// Forgets what an invalidation names.
    pub fn apply(&self, invalidation: &Invalidation) {
        match invalidation {
            Invalidation::Sessions { ids, until } => self.revoke(ids, *until),
            Invalidation::Members { org, users } => self.invalidate_users(*org, users),
            Invalidation::User { user } => self.invalidate_user(*user),
            Invalidation::Org { org } => self.invalidate_org(*org),
            Invalidation::Role {
                org,
                role,
                version,
                roles,
            } => self.role_changed(*org, role, *version, roles),
            Invalidation::Account { id } => self.invalidate_account(*id),
        }
    }

    /// `apply` from async code, returning once applied. A role change makes every cached
    /// context of the organisation again (10,000 contexts cost tens of milliseconds): it runs on
    /// a blocking thread, so the runtime's worker goes on answering requests meanwhile.
    pub async fn apply_async(self: &Arc<Self>, invalidation: &Invalidation) {
        if matches!(invalidation, Invalidation::Role { .. }) {
            let (cache, owned) = (Arc::clone(self), invalidation.clone());
            if tokio::task::spawn_blocking(move || cache.apply(&owned)).await.is_ok() {
                return;
            }
        }
        self.apply(invalidation);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The claims of a token verified before (the caller still checks time, sessions and
    /// memberships).
    pub fn verified(&self, token: &TokenDigest) -> Option<Verified> {
        read(&self.tokens).get(token).copied()
    }

    /// Remembers a verified token if there is room and nobody holds the lock: it is only a
    /// shortcut, so it never makes a request wait (expired entries are pruned every minute).
    pub fn remember_verified(&self, token: TokenDigest, verified: Verified) {
        if let Ok(mut tokens) = self.tokens.try_write()
            && tokens.len() < self.bounds.tokens
        {
            tokens.insert(token, verified);
        }
    }

    /// Forgets verified tokens that have expired.
    pub fn prune_tokens(&self, now: i64) {
        write(&self.tokens).retain(|_, verified| verified.exp > now);
    }

    pub fn is_revoked(&self, session: Uuid) -> bool {
        read(&self.revoked).contains_key(&session)
    }

    /// Remembers revoked sessions until `until` (when their last access token has expired).
    pub fn revoke(&self, sessions: &[Uuid], until: DateTime<Utc>) {
        let mut revoked = write(&self.revoked);
        for id in sessions {
            revoked.insert(*id, until);
        }
    }

    /// Forgets revocations whose tokens have all expired.
    pub fn prune(&self, now: DateTime<Utc>) {
        write(&self.revoked).retain(|_, until| *until > now);
    }

    /// The context loaded within `max_age` of `now` (seconds since the epoch).
    pub fn context(&self, user: Uuid, org: Uuid, now: i64) -> Option<ContextResult> {
        let contexts = read(&self.contexts);
        let (value, loaded) = contexts.get(&(user, org))?;
        (now - loaded <= self.max_age).then(|| value.clone())
    }

    /// Stores a context loaded at `now` unless something was invalidated since `generation`.
    pub fn store_context(&self, user: Uuid, org: Uuid, value: ContextResult, generation: u64, now: i64) {
        let mut contexts = write(&self.contexts);
        if self.generation() != generation {
            return;
        }
        if contexts.len() >= self.bounds.contexts {
            contexts.clear();
        }
        contexts.insert((user, org), (value, now));
    }

    pub fn invalidate_users(&self, org: Uuid, users: &[Uuid]) {
        let mut contexts = write(&self.contexts);
        self.bump();
        for user in users {
            contexts.remove(&(*user, org));
        }
    }

    pub fn invalidate_user(&self, user: Uuid) {
        let mut contexts = write(&self.contexts);
        self.bump();
        contexts.retain(|(u, _), _| *u != user);
    }

    pub fn invalidate_org(&self, org: Uuid) {
        let mut contexts = write(&self.contexts);
        self.bump();
        contexts.retain(|(_, o), _| *o != org);
    }

    /// The contexts in `org` made again after a change of its role `role` (see
    /// `Invalidation::Role`). They are made under the read lock, so validations go on meanwhile;
    /// the write lock only swaps them in, each where the entry is still the one it was made from
    /// (another invalidation or a fresh load in between wins). A load that began before is
    /// not stored (the generation moved).
    fn role_changed(
        &self,
        org: Uuid,
        role: &str,
        version: i64,
        roles: &std::collections::BTreeMap<String, Vec<String>>,
    ) {
        let made: Vec<((Uuid, Uuid), Arc<MembershipContext>, ContextResult)> = read(&self.contexts)
            .iter()
            .filter(|(key, _)| key.1 == org)
            .filter_map(|(key, (value, _))| {
                let context = value.as_ref().ok()?;
                let after = context.after_role_change(role, roles, version)?;
                Some((*key, Arc::clone(context), Ok(Arc::new(after))))
            })
            .collect();
        // The contexts replaced are freed after the write lock is released (10,000 of them are
        // about 220,000 blocks): validations wait only for the swap.
        let mut replaced = Vec::with_capacity(made.len());
        {
            let mut contexts = write(&self.contexts);
            self.bump();
            for (key, before, after) in made {
                if let Some((value, _)) = contexts.get_mut(&key)
                    && matches!(value, Ok(current) if Arc::ptr_eq(current, &before))
                {
                    replaced.push(std::mem::replace(value, after));
                }
                replaced.push(Ok(before));
            }
        }
        drop(replaced);
    }

    /// Forgets every cached context and service account.
    pub fn clear(&self) {
        let mut contexts = write(&self.contexts);
        let mut accounts = write(&self.accounts);
        self.bump();
        contexts.clear();
        accounts.clear();
    }

    /// The service account loaded within `max_age` of `now`.
    pub fn account(&self, id: Uuid, now: i64) -> Option<Option<ServiceAccount>> {
        let accounts = read(&self.accounts);
        let (account, loaded) = accounts.get(&id)?;
        (now - loaded <= self.max_age).then(|| account.clone())
    }

    pub fn store_account(&self, id: Uuid, account: Option<ServiceAccount>, generation: u64, now: i64) {
        let mut accounts = write(&self.accounts);
        if self.generation() == generation {
            accounts.insert(id, (account, now));
        }
    }

    pub fn invalidate_account(&self, id: Uuid) {
        let mut accounts = write(&self.accounts);
        self.bump();
        accounts.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Verified {
        Verified {
            sub: Uuid::max(),
            org_id: Uuid::nil(),
            sid: None,
            exp,
            service: false,
            resource: false,
            methods: crate::model::AuthMethods::default(),
        }
    }

    #[test]
    fn a_remembered_token_is_found_by_its_exact_bytes_only() {
        let cache = AccessCache::default();
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
        cache.remember_verified(TokenDigest::of(token), claims(100));
        assert_eq!(cache.verified(&TokenDigest::of(token)), Some(claims(100)));
        // One byte more, one byte less, another signature: never the remembered claims.
        for other in [
            &format!("{token}A")[..],
            &token[..token.len() - 1],
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.b3RoZXI",
        ] {
            assert!(cache.verified(&TokenDigest::of(other)).is_none(), "{other}");
        }
        cache.prune_tokens(100);
        assert!(
            cache.verified(&TokenDigest::of(token)).is_none(),
            "expired entries are pruned"
        );
    }

    #[test]
    fn the_caches_hold_no_more_than_their_bounds() {
        let bounds = Bounds { contexts: 2, tokens: 2 };
        let cache = AccessCache::new(chrono::Duration::minutes(5), bounds);
        for n in 0..3u8 {
            cache.remember_verified(TokenDigest::of(&format!("token-{n}")), claims(100));
        }
        assert!(cache.verified(&TokenDigest::of("token-1")).is_some());
        assert!(
            cache.verified(&TokenDigest::of("token-2")).is_none(),
            "a third token is verified each time"
        );
        let (org, generation) = (Uuid::nil(), cache.generation());
        let users: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        for user in &users {
            cache.store_context(*user, org, Err(Denial::NotAMember), generation, 0);
        }
        assert!(cache.context(users[2], org, 0).is_some(), "the newest is kept");
        assert!(
            cache.context(users[0], org, 0).is_none(),
            "the third context started the cache over"
        );
    }

    fn member(org: Uuid, roles: &[&str], permissions: &[&str], direct: &[&str], mv: i64) -> ContextResult {
        let now = chrono::DateTime::UNIX_EPOCH;
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Ok(Arc::new(MembershipContext {
            user: crate::model::User {
                id: Uuid::now_v7(),
                email: "ada@acme.test".into(),
                username: None,
                display_name: "Ada".into(),
                active: true,
                superuser: false,
                email_verified: true,
                default_org_id: None,
                created_at: now,
                updated_at: now,
                last_login_at: None,
            },
            org: crate::model::Organisation {
                id: org,
                slug: "acme".into(),
                name: "Acme".into(),
                active: true,
                logo_url: None,
                require_mfa: false,
                roles_version: 2,
                created_at: now,
            },
            roles: strings(roles),
            permissions: strings(permissions),
            direct_permissions: strings(direct),
            mv,
            teams: Vec::new(),
            domains: Vec::new(),
            expanded_domains: Vec::new(),
        }))
    }

    fn of(cache: &AccessCache, user: Uuid, org: Uuid) -> Arc<MembershipContext> {
        cache.context(user, org, 0).unwrap().unwrap()
    }

    /// A role's change makes the organisation's cached contexts again, as loading them would:
    /// holders get the role's new permissions (their own kept), a removed role drops out, every
    /// member's `mv` moves with the roles version, other organisations are untouched, and a
    /// change older than what a context already shows changes nothing.
    #[test]
    fn a_role_change_makes_the_organisation_s_contexts_again_in_place() {
        let cache = AccessCache::default();
        let (acme, globex) = (Uuid::now_v7(), Uuid::now_v7());
        let holder = member(
            acme,
            &["member", "reader"],
            &["read:docs", "share:docs"],
            &["share:docs"],
            7,
        );
        let other = member(acme, &["member"], &[], &[], 4);
        let elsewhere = member(globex, &["member", "reader"], &["read:docs"], &[], 3);
        let refused: ContextResult = Err(Denial::NotAMember);
        let generation = cache.generation();
        let ids: Vec<(Uuid, Uuid)> = [(&holder, acme), (&other, acme), (&elsewhere, globex)]
            .iter()
            .map(|(c, org)| (c.as_ref().unwrap().user.id, *org))
            .collect();
        for ((user, org), value) in ids.iter().zip([&holder, &other, &elsewhere]) {
            cache.store_context(*user, *org, value.clone(), generation, 0);
        }
        let outsider = Uuid::now_v7();
        cache.store_context(outsider, acme, refused, generation, 0);

        let mut roles = std::collections::BTreeMap::new();
        roles.insert("member".to_owned(), Vec::new());
        roles.insert(
            "reader".to_owned(),
            vec!["read:docs".to_owned(), "write:docs".to_owned()],
        );
        let change = |version: i64, roles: &std::collections::BTreeMap<String, Vec<String>>| Invalidation::Role {
            org: acme,
            role: "reader".into(),
            version,
            roles: roles.clone(),
        };
        cache.apply(&change(3, &roles));
        let after = of(&cache, ids[0].0, acme);
        assert_eq!(after.permissions, ["read:docs", "share:docs", "write:docs"]);
        assert_eq!((after.mv, after.org.roles_version), (8, 3));
        let unchanged = of(&cache, ids[1].0, acme);
        assert_eq!(
            (unchanged.permissions.len(), unchanged.mv),
            (0, 5),
            "not a holder: mv only"
        );
        assert_eq!(
            of(&cache, ids[2].0, globex),
            *elsewhere.as_ref().unwrap(),
            "another organisation"
        );
        assert!(matches!(
            cache.context(outsider, acme, 0),
            Some(Err(Denial::NotAMember))
        ));

        cache.apply(&change(3, &std::collections::BTreeMap::new()));
        assert_eq!(of(&cache, ids[0].0, acme), after, "a change it already shows");

        roles.remove("reader");
        cache.apply(&change(4, &roles));
        let removed = of(&cache, ids[0].0, acme);
        assert_eq!(removed.roles, ["member"]);
        assert_eq!(removed.permissions, ["share:docs"], "its own permission stays");
        assert_eq!(removed.mv, 9);

        // A load that began before the change is not stored.
        let stale = cache.generation() - 1;
        let late = Uuid::now_v7();
        cache.store_context(late, acme, member(acme, &["member"], &[], &[], 1), stale, 0);
        assert!(cache.context(late, acme, 0).is_none());
    }

    /// From async code a role change is made on a blocking thread, and it has been made when
    /// `apply_async` returns (the replica that made the change answers with it at once).
    #[tokio::test]
    async fn apply_async_returns_once_a_role_change_is_made() {
        let cache = Arc::new(AccessCache::default());
        let acme = Uuid::now_v7();
        let holder = member(acme, &["reader"], &["read:docs"], &[], 1);
        let user = holder.as_ref().unwrap().user.id;
        cache.store_context(user, acme, holder, cache.generation(), 0);
        let roles = [(
            "reader".to_owned(),
            vec!["read:docs".to_owned(), "write:docs".to_owned()],
        )]
        .into();
        let change = Invalidation::Role {
            org: acme,
            role: "reader".into(),
            version: 3,
            roles,
        };
        cache.apply_async(&change).await;
        assert_eq!(of(&cache, user, acme).permissions, ["read:docs", "write:docs"]);
    }
}
