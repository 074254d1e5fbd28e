use super::config::Config;
use super::db::Db;
use crate::tokens::server::UsageRecorder;
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
    /// Token uses waiting to be written in the next batch.
    pub usage: UsageRecorder,
    /// Per-address limits on the endpoints that need no token.
    pub rate_limits: Option<super::rate_limit::PublicLimits>,
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
