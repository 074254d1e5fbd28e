//! Accounts: sign-in, sign-out, first-admin setup.

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;

use serde::{Deserialize, Serialize};

/// The signed-in person, as the browser sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub is_instance_admin: bool,
}

/// What every page needs to know before rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: Option<CurrentUser>,
    /// True while the database has no human account: only /setup is useful then.
    pub needs_setup: bool,
    /// Setup asks for the one-time code from the server log: Latchkey
    /// listens beyond loopback, so a stranger could reach the page first.
    #[serde(default)]
    pub setup_code_required: bool,
}

/// `next` when it is a path on this site (not `//host` or `/\\host`, which
/// browsers read as another site): where to go after signing in.
pub fn local_path(next: &str) -> Option<&str> {
    let rest = next.strip_prefix('/')?;
    (!rest.starts_with('/') && !rest.starts_with('\\') && !next.contains(['\r', '\n']))
        .then_some(next)
}

#[cfg(test)]
mod local_path_tests {
    use super::local_path;

    #[test]
    fn only_paths_on_this_site() {
        assert_eq!(
            local_path("/oauth/authorize?x=1"),
            Some("/oauth/authorize?x=1")
        );
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
        ] {
            assert_eq!(local_path(bad), None, "{bad}");
        }
    }
}
