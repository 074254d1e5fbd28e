//! What a server function knows about the request it serves.

use super::audit::Actor;
use super::client::client_ip;
use super::state::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use leptos::prelude::use_context;
use std::net::{IpAddr, SocketAddr};
use tower_sessions::Session;

pub const SESSION_USER_KEY: &str = "user_id";
/// When the person signed in (Unix seconds): the session's absolute limit
/// counts from here.
pub const SESSION_SIGNED_IN_AT_KEY: &str = "signed_in_at";
/// When the session was last extended; written at most once a minute, which
/// saves the session and so moves its idle expiry.
const SESSION_SEEN_AT_KEY: &str = "seen_at";

pub struct RequestCtx {
    pub state: AppState,
    pub session: Session,
    pub ip: Option<IpAddr>,
}

impl RequestCtx {
    pub async fn load() -> Result<Self, AppError> {
        let state = use_context::<AppState>().ok_or(AppError::Internal)?;
        let parts = use_context::<Parts>().ok_or(AppError::Internal)?;
        let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            tracing::error!("session layer missing");
            AppError::Internal
        })?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let ip = client_ip(&parts.headers, peer, &state.config.trusted_proxies);
        Ok(RequestCtx { state, session, ip })
    }

    pub fn db(&self) -> &super::db::Db {
        &self.state.db
    }

    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }

    /// `user`, acting from this request's address, for the audit trail.
    pub fn actor<'a>(&self, user: &'a CurrentUser) -> Actor<'a> {
        Actor {
            user_id: Some(user.id),
            label: &user.email,
            ip: self.ip_string(),
        }
    }

    /// The signed-in user, re-read from the database on every request so that a
    /// disabled account or a changed role takes effect at once.
    pub async fn user(&self) -> Result<Option<CurrentUser>, AppError> {
        let session_error = |err: tower_sessions::session::Error| {
            tracing::error!(error = %err, "session load failed");
            AppError::Internal
        };
        let id: Option<i64> = self
            .session
            .get(SESSION_USER_KEY)
            .await
            .map_err(session_error)?;
        let Some(id) = id else { return Ok(None) };
        // Idle expiry is the store's; the absolute limit is checked here.
        let now = super::db::now();
        let signed_in_at: Option<i64> = self
            .session
            .get(SESSION_SIGNED_IN_AT_KEY)
            .await
            .map_err(session_error)?;
        let max_secs = self.state.config.session_max_hours.saturating_mul(3600);
        if signed_in_at.is_none_or(|at| now.saturating_sub(at) >= max_secs) {
            self.session.flush().await.map_err(session_error)?;
            return Ok(None);
        }
        let seen_at: Option<i64> = self
            .session
            .get(SESSION_SEEN_AT_KEY)
            .await
            .map_err(session_error)?;
        if seen_at.is_none_or(|at| now.saturating_sub(at) >= 60) {
            self.session
                .insert(SESSION_SEEN_AT_KEY, now)
                .await
                .map_err(session_error)?;
        }
        let row: Option<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, email, display_name, is_instance_admin FROM users \
             WHERE id = $1 AND kind = 'human' AND is_disabled = 0",
        )
        .bind(id)
        .fetch_optional(&self.db().pool)
        .await?;
        Ok(row.map(|(id, email, display_name, admin)| CurrentUser {
            id,
            email,
            display_name,
            is_instance_admin: admin != 0,
        }))
    }

    pub async fn require_user(&self) -> Result<CurrentUser, AppError> {
        self.user().await?.ok_or(AppError::Unauthenticated)
    }
}
