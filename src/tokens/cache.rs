//! The answers of recent token checks, kept in memory so the API's hot path
//! needs no database round trip.
//!
//! Correctness rests on one rule: an answer is served only while the
//! generation of `AccessChanges` is the one that was current *before* the
//! answer was read from the database. Every change that can alter an answer bumps the generation — at
//! once on the instance that made it (after its commit), and on every other
//! instance when the database's `auth_epoch` counter moves (see
//! `server::startup`). A lookup that raced with a change is therefore never
//! served, however the two interleave.

use super::secret::TokenDigest;
use super::server::TokenIdentity;
use crate::server::db::AccessChanges;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// More distinct tokens than this in one sync interval and the cache starts
/// over; it only ever costs a database read.
const MAX_ENTRIES: usize = 100_000;

/// Cached answers, all read in one generation of `AccessChanges`.
#[derive(Clone, Default)]
pub struct AuthCache {
    changes: AccessChanges,
    entries: Arc<RwLock<Entries>>,
}

#[derive(Default)]
struct Entries {
    /// The generation every entry was read in; entries of an older one are
    /// never served and go at the next insert.
    generation: u64,
    answers: HashMap<TokenDigest, Arc<TokenIdentity>>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl AuthCache {
    /// A cache whose answers go stale whenever `changes` moves.
    pub fn new(changes: AccessChanges) -> Self {
        AuthCache {
            changes,
            entries: Arc::default(),
        }
    }

    /// Read this before loading an answer from the database, and hand it to
    /// `insert` afterwards.
    pub fn generation(&self) -> u64 {
        self.changes.generation()
    }

    pub fn get(&self, digest: &TokenDigest) -> Option<Arc<TokenIdentity>> {
        let current = self.generation();
        let entries = self.entries.read().ok()?;
        if entries.generation != current {
            return None;
        }
        entries.answers.get(digest).map(Arc::clone)
    }

    /// Keeps an answer loaded while `generation` was current; dropped silently
    /// when something changed in the meantime.
    pub fn insert(&self, digest: TokenDigest, generation: u64, identity: Arc<TokenIdentity>) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        // A change after this check leaves the entries tagged with a
        // generation that is no longer current, so `get` never serves them.
        if generation != self.generation() {
            return;
        }
        if entries.generation != generation || entries.answers.len() >= MAX_ENTRIES {
            entries.answers.clear();
            entries.generation = generation;
        }
        entries.answers.insert(digest, identity);
    }

    /// Makes every answer stale, here and in everything else that follows
    /// the same changes.
    pub fn invalidate(&self) {
        self.changes.note_change();
        if let Ok(mut entries) = self.entries.write() {
            entries.answers.clear();
        }
    }

    /// How many answers are held (stale ones included until the next insert).
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
    fn a_change_noted_elsewhere_makes_every_answer_stale() {
        let changes = AccessChanges::default();
        let cache = AuthCache::new(changes.clone());
        let digest = PlainToken::generate(TokenKind::Personal).digest();
        cache.insert(digest, cache.generation(), identity(7));
        assert!(cache.get(&digest).is_some());
        // A commit or the epoch follower notes a change; the cache is not told.
        changes.note_change();
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
        cache.invalidate();
        cache.insert(digest, before, identity(7));
        assert!(cache.get(&digest).is_none());
    }
}
