//! Scopes: the built-in ones Latchkey's API checks (defined in `access`) and
//! the custom ones an instance admin defines for the services that check
//! Latchkey tokens through introspection.

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;

use serde::{Deserialize, Serialize};

/// A scope as offered in a create dialog or listed on the admin page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeInfo {
    pub name: String,
    pub description: String,
}

/// What a new token may be given where it is created: the built-in scopes
/// that apply to its kind, the custom ones, and (for a personal token) the
/// organizations it may be restricted to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantOptions {
    pub built_in: Vec<ScopeInfo>,
    pub custom: Vec<ScopeInfo>,
    /// (slug, name) of the person's organizations; personal tokens only.
    pub organizations: Vec<(String, String)>,
}
