use super::config::Config;
use super::db::Db;
use super::rate_limit::{AddressLimiter, FailedTokenLimiter, PublicLimits};
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;

/// Everything a handler or server function needs. axum clones the state for
/// every request, so it is one shared pointer: a clone is one atomic
/// increment, not a copy of every option (this shows on the token API's hot
/// path).
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

pub struct AppStateParts {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    /// Per-address limits on the endpoints that need no token.
    pub rate_limits: Option<PublicLimits>,
    /// Per-address limits on introspection.
    pub introspection_limits: Option<PublicLimits>,
    /// Per-address limits on sign-in and first-admin setup requests.
    pub sign_in_limits: Option<AddressLimiter>,
    /// Per-address limits on refused token authentications.
    pub failed_tokens: Option<FailedTokenLimiter>,
    /// How many argon2 password checks may run at once (each takes 19 MiB).
    pub password_checks: tokio::sync::Semaphore,
    /// The one-time code the first-admin page asks for when Latchkey listens
    /// beyond loopback and has no users yet; printed in the log at start.
    pub setup_code: Option<String>,
    /// Signs the form errors carried across a redirect without JavaScript.
    pub form_error_key: super::form_errors::FormErrorKey,
    /// Encrypts a new token on its way to the script-free secret page.
    pub new_token_key: super::sealing::SealingKey,
    /// Encrypts two-factor (TOTP) secrets at rest.
    pub two_factor_key: super::sealing::SealingKey,
    /// This instance's counts, served at `/metrics` when configured.
    pub metrics: super::metrics::Metrics,
    /// The token checks' cache and the last uses waiting for their batch,
    /// shared with the background jobs that write it.
    pub token_checks: crate::tokens::server::TokenChecks,
    /// Set once the instance begins to shut down: `/readyz` answers 503 so
    /// a load balancer sends it nothing new.
    pub draining: std::sync::atomic::AtomicBool,
}

impl AppState {
    pub fn new(parts: AppStateParts) -> Self {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;

    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
