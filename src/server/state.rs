use super::config::Config;
use super::db::Db;
use crate::tokens::server::UsageRecorder;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;

/// Everything a handler or server function needs, cloned cheaply per request.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    /// Token uses waiting to be written in the next batch.
    pub usage: UsageRecorder,
    /// Per-address limits on the endpoints that need no token.
    pub rate_limits: Option<super::rate_limit::PublicLimits>,
}
