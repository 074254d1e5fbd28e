//! The answers of recent token checks, kept in memory so the API's hot path
//! needs no database round trip.
//!
//! Correctness rests on one rule: an answer is served only while the cache's
//! generation is the one that was current *before* the answer was read from the
//! database. Every change that can alter an answer bumps the generation — at
//! once on the instance that made it (after its commit), and on every other
//! instance when the database's `auth_epoch` counter moves (see
//! `server::startup`). A lookup that raced with a change is therefore never
//! served, however the two interleave.

use super::secret::TokenDigest;
use super::server::TokenIdentity;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// More distinct tokens than this in one sync interval and the cache starts
/// over; it only ever costs a database read.
const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Default)]
pub struct AuthCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: AtomicU64,
    entries: RwLock<HashMap<TokenDigest, Entry>>,
}

struct Entry {
    generation: u64,
    identity: Arc<TokenIdentity>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl AuthCache {
    /// Read this before loading an answer from the database, and hand it to
    /// `insert` afterwards.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, digest: &TokenDigest) -> Option<Arc<TokenIdentity>> {
        let current = self.generation();
        let entries = self.inner.entries.read().ok()?;
        entries
            .get(digest)
            .filter(|e| e.generation == current)
            .map(|e| Arc::clone(&e.identity))
    }

    /// Keeps an answer loaded while `generation` was current; dropped silently
    /// when something changed in the meantime.
    pub fn insert(&self, digest: TokenDigest, generation: u64, identity: Arc<TokenIdentity>) {
        let Ok(mut entries) = self.inner.entries.write() else {
            return;
        };
        // Checked under the write lock: `invalidate` bumps before it clears, so
        // a stale answer either fails this check or is cleared right after.
        if generation != self.generation() {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            digest,
            Entry {
                generation,
                identity,
            },
        );
    }

    /// Forgets every answer. Called after any change that could alter one.
    pub fn invalidate(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.inner.entries.write() {
            entries.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.inner.entries.read().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        cache.invalidate();
        assert!(cache.get(&digest).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn an_answer_read_before_a_change_is_never_served() {
        let cache = AuthCache::default();
        let digest = PlainToken::generate(TokenKind::Personal).digest();
        let before = cache.generation();
        // A change lands while the answer is being read from the database.
        cache.invalidate();
        cache.insert(digest, before, identity(7));
        assert!(cache.get(&digest).is_none());
    }
}
