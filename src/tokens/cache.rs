//! The answers of recent token checks, kept in memory so the API's hot path
//! needs no database round trip.
//!
//! Correctness rests on one rule: an answer is served only while no change
//! noted since it was read reaches it. Every change that can alter an answer
//! is noted in `AccessChanges` with what it is about — at once on the
//! instance that made it (after its commit), and on every other instance when
//! it reads `auth_changes` (see `server::startup`). Before serving, the cache
//! drops the answers the changes noted since its last look reach; an answer
//! read from the database is kept only if nothing noted while it was being
//! read reaches it. A lookup that raced with a change is therefore never
//! served, however the two interleave, and an unrelated change costs nothing.

use super::changes::ScopeSet;
use super::secret::TokenDigest;
use super::server::TokenIdentity;
use crate::server::db::AccessChanges;
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

/// At most this many answers are kept; when full, a tenth of them, taken
/// as the hash map happens to order them (effectively at random), make room.
/// It only ever costs database reads.
const MAX_ENTRIES: usize = 100_000;

/// Cached answers, all current as of one generation of `AccessChanges`.
#[derive(Clone, Default)]
pub struct AuthCache {
    changes: AccessChanges,
    entries: Arc<RwLock<Entries>>,
    stats: CacheStats,
}

#[derive(Default)]
struct Entries {
    /// The generation whose changes have been applied to `answers`.
    generation: u64,
    answers: HashMap<TokenDigest, Arc<TokenIdentity>, BuildHasherDefault<DigestHasher>>,
}

/// Hashes a `TokenDigest` by taking eight of its bytes as they are: SHA-256
/// output is already uniformly spread, and hashing it again with SipHash
/// cost more than the rest of the lookup. Keyed hashing, which defends a map
/// against keys chosen to collide, is not needed here: only digests of
/// tokens the server generated are ever stored; a presented digest is only
/// looked up.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `TokenDigest`; anything else is folded
        // in plainly so the hasher stays correct.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Counts since start, shared with the instance's metrics: how often token
/// checks reach the database, and how much each change costs.
#[derive(Clone, Debug, Default)]
pub struct CacheStats {
    pub hits: Counter,
    /// Answers that had to be read from the database.
    pub misses: Counter,
    /// Answers dropped because a change reached them (or everything went).
    pub evictions: Counter,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl Entries {
    /// Applies the changes noted since the last look: drops what they reach,
    /// or everything when they are not all remembered.
    fn catch_up(&mut self, changes: &AccessChanges) -> u64 {
        let (now, scopes) = changes.since(self.generation);
        let before = self.answers.len();
        match scopes.map(|scopes| scopes.iter().collect::<ScopeSet>()) {
            Some(changed) if !changed.everything => {
                if !changed.is_empty() {
                    self.answers
                        .retain(|_, answer| !answer.depends_on(&changed));
                }
            }
            _ => self.answers.clear(),
        }
        self.generation = now;
        (before - self.answers.len()) as u64
    }
}

impl AuthCache {
    /// A cache that follows the changes noted in `changes` and counts into
    /// `stats`.
    pub fn new(changes: AccessChanges, stats: CacheStats) -> Self {
        AuthCache {
            changes,
            stats,
            entries: Arc::default(),
        }
    }

    /// Read this before loading an answer from the database, and hand it to
    /// `insert` afterwards. Counts the read as a miss.
    pub fn generation_before_read(&self) -> u64 {
        self.stats.misses.inc();
        self.changes.generation()
    }

    pub fn generation(&self) -> u64 {
        self.changes.generation()
    }

    /// The answer kept for `digest`, counted as a hit when there is one.
    /// Whoever then reads the database asks `generation_before_read`.
    pub fn get(&self, digest: &TokenDigest) -> Option<Arc<TokenIdentity>> {
        let found = self.lookup(digest);
        if found.is_some() {
            self.stats.hits.inc();
        }
        found
    }

    fn lookup(&self, digest: &TokenDigest) -> Option<Arc<TokenIdentity>> {
        let current = self.generation();
        {
            let entries = self.entries.read().ok()?;
            if entries.generation == current {
                return entries.answers.get(digest).map(Arc::clone);
            }
        }
        // Something was noted since the last look: apply it first.
        let mut entries = self.entries.write().ok()?;
        let evicted = entries.catch_up(&self.changes);
        self.stats.evictions.inc_by(evicted);
        entries.answers.get(digest).map(Arc::clone)
    }

    /// Keeps an answer loaded from `generation` on, unless a change noted
    /// since then reaches it.
    pub fn insert(&self, digest: TokenDigest, generation: u64, identity: Arc<TokenIdentity>) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        let evicted = entries.catch_up(&self.changes);
        self.stats.evictions.inc_by(evicted);
        // A change noted after the catch-up moves the generation past the
        // entries' own, so the next look applies it to this answer too.
        match self.changes.since(generation).1 {
            Some(scopes) if !identity.depends_on(&scopes.iter().collect()) => {}
            _ => return,
        }
        if entries.answers.len() >= MAX_ENTRIES {
            let mut room = MAX_ENTRIES / 10;
            entries.answers.retain(|_, _| {
                let keep = room == 0;
                room = room.saturating_sub(1);
                keep
            });
            self.stats.evictions.inc_by((MAX_ENTRIES / 10) as u64);
        }
        entries.answers.insert(digest, identity);
    }

    /// How many answers are held (ones a later change reaches included,
    /// until the next look).
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.answers.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::changes::AuthScope;
    use crate::tokens::secret::{PlainToken, TokenKind};

    fn identity(token_id: i64) -> Arc<TokenIdentity> {
        Arc::new(TokenIdentity {
            token_id,
            token_name: "ci".into(),
            ..Default::default()
        })
    }

    #[test]
    fn serves_what_it_was_given_until_invalidated() {
        let cache = AuthCache::default();
        let digest = PlainToken::generate(TokenKind::Personal).digest();
        assert!(cache.get(&digest).is_none());
        cache.insert(digest, cache.generation(), identity(7));
        assert_eq!(cache.get(&digest).map(|i| i.token_id), Some(7));
        cache.changes.note_everything();
        assert!(cache.get(&digest).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn a_change_noted_elsewhere_makes_every_answer_stale() {
        let changes = AccessChanges::default();
        let cache = AuthCache::new(changes.clone(), CacheStats::default());
        let digest = PlainToken::generate(TokenKind::Personal).digest();
        cache.insert(digest, cache.generation(), identity(7));
        assert!(cache.get(&digest).is_some());
        // A commit or the epoch follower notes a change; the cache is not told.
        changes.note_everything();
        assert!(cache.get(&digest).is_none());
        // The next answer read replaces the stale ones.
        let other = PlainToken::generate(TokenKind::Personal).digest();
        cache.insert(other, cache.generation(), identity(8));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&other).map(|i| i.token_id), Some(8));
    }

    #[test]
    fn an_answer_read_before_a_change_is_never_served() {
        let cache = AuthCache::default();
        let digest = PlainToken::generate(TokenKind::Personal).digest();
        let before = cache.generation();
        // A change lands while the answer is being read from the database.
        cache.changes.note_everything();
        cache.insert(digest, before, identity(7));
        assert!(cache.get(&digest).is_none());
    }

    fn identity_of(token_id: i64, user_id: i64) -> Arc<TokenIdentity> {
        Arc::new(TokenIdentity {
            token_id,
            user_id,
            token_name: "ci".into(),
            ..Default::default()
        })
    }

    #[test]
    fn a_change_drops_only_the_answers_it_reaches() {
        let changes = AccessChanges::default();
        let cache = AuthCache::new(changes.clone(), CacheStats::default());
        let digests: Vec<_> = (0..3)
            .map(|_| PlainToken::generate(TokenKind::Personal).digest())
            .collect();
        cache.insert(digests[0], cache.generation(), identity_of(1, 10));
        cache.insert(digests[1], cache.generation(), identity_of(2, 10));
        cache.insert(digests[2], cache.generation(), identity_of(3, 20));
        changes.note([AuthScope::Token(1)]);
        assert!(cache.get(&digests[0]).is_none());
        assert!(cache.get(&digests[1]).is_some());
        assert!(cache.get(&digests[2]).is_some());
        changes.note([AuthScope::User(10)]);
        assert!(cache.get(&digests[1]).is_none());
        assert!(cache.get(&digests[2]).is_some());
        assert_eq!(cache.stats.evictions.get(), 2);
        changes.note_everything();
        assert!(cache.get(&digests[2]).is_none());
    }

    #[test]
    fn an_answer_read_across_a_change_is_kept_only_if_the_change_misses_it() {
        let changes = AccessChanges::default();
        let cache = AuthCache::new(changes.clone(), CacheStats::default());
        let (mine, other) = (
            PlainToken::generate(TokenKind::Personal).digest(),
            PlainToken::generate(TokenKind::Personal).digest(),
        );
        let before = cache.generation();
        // Token 1 is revoked while both answers are being read.
        changes.note([AuthScope::Token(1)]);
        cache.insert(mine, before, identity_of(1, 10));
        cache.insert(other, before, identity_of(2, 10));
        assert!(cache.get(&mine).is_none());
        assert!(cache.get(&other).is_some());
    }
}
