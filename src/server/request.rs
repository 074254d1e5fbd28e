//! What a server function knows about the request it serves.

use super::audit::Actor;
use super::client::client_ip;
use super::state::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use leptos::prelude::use_context;
use std::net::{IpAddr, SocketAddr};
use tower_sessions::Session;

pub const SESSION_USER_KEY: &str = "user_id";
/// When the person signed in (Unix seconds): the session's absolute limit
/// counts from here.
pub const SESSION_SIGNED_IN_AT_KEY: &str = "signed_in_at";
/// When the session was last extended; written at most once a minute, which
/// saves the session and so moves its idle expiry.
pub const SESSION_SEEN_AT_KEY: &str = "seen_at";
/// The browser and address that signed in, for the person's Sessions list.
pub const SESSION_USER_AGENT_KEY: &str = "user_agent";
pub const SESSION_IP_KEY: &str = "ip";
/// Between a right password and the second factor: whose password it was,
/// and when. Not signed in yet.
pub const SESSION_PENDING_USER_KEY: &str = "two_factor_user";
pub const SESSION_PENDING_AT_KEY: &str = "two_factor_at";

pub struct RequestCtx {
    pub state: AppState,
    pub session: Session,
    pub ip: Option<IpAddr>,
    /// The request's `User-Agent`, cut to a sensible length.
    pub user_agent: String,
    /// This site's address as people reach it, for links shown to them.
    pub public_origin: String,
}

/// This site's origin: `LATCHKEY_PUBLIC_URL` when set, else the request's
/// `Host` with the scheme the cookies are configured for.
pub fn public_origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if state.config.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
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
        Ok(RequestCtx::new(state, session, &parts.headers, peer))
    }

    /// For handlers outside Leptos that read the session themselves.
    pub fn new(
        state: AppState,
        session: Session,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Self {
        let ip = client_ip(headers, peer, &state.config.trusted_proxies);
        let user_agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        RequestCtx {
            public_origin: public_origin(&state, headers),
            state,
            session,
            ip,
            user_agent,
        }
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

    /// The key this request's session is stored under, once it has one.
    pub fn session_key(&self) -> Option<String> {
        self.session
            .id()
            .map(|id| super::session_store::session_key(&id))
    }

    pub async fn require_user(&self) -> Result<CurrentUser, AppError> {
        self.user().await?.ok_or(AppError::Unauthenticated)
    }
}
