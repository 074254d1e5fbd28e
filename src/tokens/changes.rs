//! What changed that can alter a token check, as this instance learns of it.
//!
//! The database names each change in `auth_changes` (written by triggers, see
//! migration 0014) under the `auth_epoch` it moved. An instance reads the rows
//! above the epoch it last saw — right after its own commits, when PostgreSQL
//! notifies it, and on the poll — and notes their scopes here. Each noted
//! scope moves the generation by one, and the last few thousand are kept, so
//! a cache can drop exactly the answers a change reaches and can tell whether
//! an answer it is about to keep was read before a change that reaches it.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many noted scopes are remembered. A reader further behind than this
/// drops everything, which only ever costs database reads.
const REMEMBERED: usize = 4096;

/// One thing a change is about. Every cached answer can say whether it
/// depends on it (`TokenIdentity::depends_on`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuthScope {
    /// Anything at all: what changed is unknown (the first look, a lost
    /// notification, an unreadable database, a gap in the log).
    Everything,
    /// A personal, organization or group token (`access_tokens`).
    Token(i64),
    /// An OAuth access token, its session (one refresh family), its grant
    /// and its application.
    OAuthToken(i64),
    OAuthSession(i64),
    Grant(i64),
    Client(i64),
    /// A person or technical user: their standing, their memberships.
    User(i64),
    Org(i64),
    Group(i64),
}

impl AuthScope {
    /// Reads a scope as the triggers write it (`token:42`). The empty marker
    /// row of an epoch names nothing; a kind this build does not know is read
    /// as everything, the safe answer.
    pub fn from_stored(stored: &str) -> Option<AuthScope> {
        if stored.is_empty() {
            return None;
        }
        let Some((kind, id)) = stored.split_once(':') else {
            return Some(AuthScope::Everything);
        };
        let Ok(id) = id.parse::<i64>() else {
            return Some(AuthScope::Everything);
        };
        Some(match kind {
            "token" => AuthScope::Token(id),
            "oauth_token" => AuthScope::OAuthToken(id),
            "session" => AuthScope::OAuthSession(id),
            "grant" => AuthScope::Grant(id),
            "client" => AuthScope::Client(id),
            "user" => AuthScope::User(id),
            "org" => AuthScope::Org(id),
            "group" => AuthScope::Group(id),
            _ => AuthScope::Everything,
        })
    }
}

/// Scopes gathered by kind, so that checking a cached answer against many
/// changes at once costs a few hash lookups, not one comparison per change.
#[derive(Debug, Default)]
pub struct ScopeSet {
    pub everything: bool,
    pub tokens: HashSet<i64>,
    pub oauth_tokens: HashSet<i64>,
    pub sessions: HashSet<i64>,
    pub grants: HashSet<i64>,
    pub clients: HashSet<i64>,
    pub users: HashSet<i64>,
    pub orgs: HashSet<i64>,
    pub groups: HashSet<i64>,
}

impl ScopeSet {
    pub fn is_empty(&self) -> bool {
        !self.everything
            && [
                &self.tokens,
                &self.oauth_tokens,
                &self.sessions,
                &self.grants,
                &self.clients,
                &self.users,
                &self.orgs,
                &self.groups,
            ]
            .iter()
            .all(|set| set.is_empty())
    }
}

impl<'a> FromIterator<&'a AuthScope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = &'a AuthScope>>(scopes: I) -> Self {
        let mut set = ScopeSet::default();
        for scope in scopes {
            match *scope {
                AuthScope::Everything => set.everything = true,
                AuthScope::Token(id) => _ = set.tokens.insert(id),
                AuthScope::OAuthToken(id) => _ = set.oauth_tokens.insert(id),
                AuthScope::OAuthSession(id) => _ = set.sessions.insert(id),
                AuthScope::Grant(id) => _ = set.grants.insert(id),
                AuthScope::Client(id) => _ = set.clients.insert(id),
                AuthScope::User(id) => _ = set.users.insert(id),
                AuthScope::Org(id) => _ = set.orgs.insert(id),
                AuthScope::Group(id) => _ = set.groups.insert(id),
            }
        }
        set
    }
}

/// The scopes of the changes between the epoch last seen and `epoch`, from
/// the log's rows for that range. Every epoch in the range must have a row
/// (each move writes at least one); when some are missing they were pruned,
/// and what they were about is unknown.
pub fn changes_between(seen: i64, epoch: i64, rows: &[(i64, String)]) -> Vec<AuthScope> {
    let in_range = || rows.iter().filter(|(at, _)| *at > seen && *at <= epoch);
    let epochs: BTreeSet<i64> = in_range().map(|(at, _)| *at).collect();
    if i64::try_from(epochs.len()).ok() != epoch.checked_sub(seen) {
        return vec![AuthScope::Everything];
    }
    let mut scopes: Vec<AuthScope> = Vec::new();
    for scope in in_range().filter_map(|(_, s)| AuthScope::from_stored(s)) {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes
}

/// This instance's record of noted changes, shared by everything that keeps
/// answers in memory.
#[derive(Clone, Debug, Default)]
pub struct AccessChanges(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    generation: AtomicU64,
    /// The last noted scopes with the generation each one moved to. The
    /// generation only moves while this lock is held, so the two agree.
    recent: Mutex<VecDeque<(u64, AuthScope)>>,
    /// The database epoch whose changes have all been noted; none before the
    /// first look. Held across a look, so looks happen one at a time.
    seen_epoch: tokio::sync::Mutex<Option<i64>>,
}

impl AccessChanges {
    /// Read this before loading an answer from the database.
    pub fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    /// Notes changes; each scope moves the generation by one.
    pub fn note(&self, scopes: impl IntoIterator<Item = AuthScope>) {
        let Ok(mut recent) = self.0.recent.lock() else {
            // A poisoned lock: nothing can be trusted to be remembered.
            self.0.generation.fetch_add(1, Ordering::AcqRel);
            return;
        };
        for scope in scopes {
            let moved = self.0.generation.fetch_add(1, Ordering::AcqRel) + 1;
            if recent.len() == REMEMBERED {
                recent.pop_front();
            }
            recent.push_back((moved, scope));
        }
    }

    /// Marks every answer read so far as stale.
    pub fn note_everything(&self) {
        self.note([AuthScope::Everything]);
    }

    /// The generation now, and the scopes noted after `generation` up to it;
    /// `None` when they are no longer all remembered.
    pub fn since(&self, generation: u64) -> (u64, Option<Vec<AuthScope>>) {
        let Ok(recent) = self.0.recent.lock() else {
            return (self.generation(), None);
        };
        let now = self.generation();
        if generation >= now {
            return (now, Some(Vec::new()));
        }
        match recent.front() {
            Some((first, _)) if *first <= generation + 1 => (
                now,
                Some(
                    recent
                        .iter()
                        .filter(|(at, _)| *at > generation)
                        .map(|(_, scope)| scope.clone())
                        .collect(),
                ),
            ),
            _ => (now, None),
        }
    }

    /// The epoch last seen, locked for one look at the database.
    pub async fn seen_epoch(&self) -> tokio::sync::MutexGuard<'_, Option<i64>> {
        self.0.seen_epoch.lock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(list: &[(i64, &str)]) -> Vec<(i64, String)> {
        list.iter().map(|(e, s)| (*e, s.to_string())).collect()
    }

    #[test]
    fn scopes_read_as_the_triggers_write_them() {
        assert_eq!(
            AuthScope::from_stored("token:42"),
            Some(AuthScope::Token(42))
        );
        assert_eq!(AuthScope::from_stored("user:7"), Some(AuthScope::User(7)));
        assert_eq!(
            AuthScope::from_stored("client:3"),
            Some(AuthScope::Client(3))
        );
        assert_eq!(AuthScope::from_stored(""), None);
        assert_eq!(
            AuthScope::from_stored("widget:1"),
            Some(AuthScope::Everything)
        );
        assert_eq!(
            AuthScope::from_stored("token:x"),
            Some(AuthScope::Everything)
        );
    }

    #[test]
    fn a_complete_range_names_what_changed_and_a_gap_means_everything() {
        let log = rows(&[
            (5, ""),
            (5, "token:1"),
            (6, ""),
            (6, "user:2"),
            (6, "user:2"),
        ]);
        assert_eq!(
            changes_between(4, 6, &log),
            vec![AuthScope::Token(1), AuthScope::User(2)]
        );
        // A statement that changed no row still moved the epoch: its marker
        // accounts for it.
        assert_eq!(changes_between(4, 5, &rows(&[(5, "")])), Vec::new());
        // Epoch 5's rows were pruned: what it was about is unknown.
        assert_eq!(
            changes_between(4, 6, &rows(&[(6, "user:2")])),
            vec![AuthScope::Everything]
        );
    }

    #[test]
    fn remembers_what_was_noted_since_a_generation_until_it_falls_out() {
        let changes = AccessChanges::default();
        let start = changes.generation();
        changes.note([AuthScope::Token(1), AuthScope::User(2)]);
        assert_eq!(
            changes.since(start),
            (
                start + 2,
                Some(vec![AuthScope::Token(1), AuthScope::User(2)])
            )
        );
        assert_eq!(
            changes.since(start + 1),
            (start + 2, Some(vec![AuthScope::User(2)]))
        );
        assert_eq!(changes.since(start + 2), (start + 2, Some(Vec::new())));
        changes.note((0..REMEMBERED as i64).map(AuthScope::Token));
        assert_eq!(changes.since(start).1, None);
    }
}
