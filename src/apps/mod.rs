//! OAuth 2.1 applications: the apps people register (Profile → Developer
//! applications), the access people grant them (Profile → Apps and
//! Connections), and the authorization server that issues their tokens
//! (`rest`: discovery, authorization with consent, the token endpoint).

pub mod api;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;

use serde::{Deserialize, Serialize};

/// A registered application as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSummary {
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub homepage_url: String,
    pub redirect_uris: Vec<String>,
    pub confidential: bool,
    pub scopes: Vec<String>,
    /// Prefix and last characters of the client secret, for recognising it.
    pub secret_hint: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
}

/// A freshly registered app, or one whose secret was just replaced: the
/// secret is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCredentials {
    pub name: String,
    /// The page where the app is managed (its owner's).
    pub manage_at: String,
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// An app a person let act in their name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub grant_id: i64,
    pub app_name: String,
    /// Who registered the app.
    pub app_owner: String,
    pub scopes: Vec<String>,
    /// The organizations it may act in; none means all of the person's.
    pub organizations: Option<Vec<String>>,
    pub granted_at: i64,
    pub last_used_at: Option<i64>,
}

/// An application as instance admins see it (Admin → Applications).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAppView {
    pub app: AppSummary,
    pub owner: String,
    /// May call introspection with its client credentials.
    pub may_introspect: bool,
    /// Registered through dynamic client registration.
    pub unverified: bool,
}

/// An application acting in an organization, as its admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInOrg {
    pub client_id: String,
    pub name: String,
    pub owner: String,
    /// Members who granted it access that reaches this organization.
    pub people: i64,
    pub last_used_at: Option<i64>,
    /// The organization's admins stopped it here.
    pub blocked: bool,
}
