//! Builds the application from its configuration and serves it.

use super::api;
use super::config::Config;
use super::db::{Db, DbSetupError};
use super::security::{refuse_cross_site, security_headers, server_fn_error_status};
use super::session_store::DbSessionStore;
use super::state::{AppState, AppStateParts};
use super::{oauth, openapi, rate_limit};
use crate::app::{shell, App};
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{any, delete, get, post};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub const SESSION_COOKIE: &str = "latchkey_session";

/// Largest request body anywhere: forms and API calls are small.
pub const API_BODY_LIMIT: usize = 64 * 1024;

fn leptos_options(config: &Config) -> LeptosOptions {
    let env = match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("PROD") | Ok("prod") => leptos::config::Env::PROD,
        _ => leptos::config::Env::DEV,
    };
    LeptosOptions::builder()
        .output_name("latchkey")
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .env(env)
        .build()
}

/// Connects, migrates and returns the state the router runs on. A failed
/// migration is an error here, so start-up stops with its message.
pub async fn prepare(config: Config) -> Result<AppState, DbSetupError> {
    let url = config.database_url()?;
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    Ok(AppState::new(AppStateParts {
        leptos_options: leptos_options(&config),
        db,
        usage: Default::default(),
        rate_limits: rate_limit::public_limits(&config),
        config: Arc::new(config),
    }))
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let config = &state.config;
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(
            config.session_hours,
        )));
    let leptos_options = state.leptos_options.clone();

    // The token API and the probes sit outside the session and page layers:
    // they never use cookies, and the token check is the hot path.
    use super::rest;
    let token_api = Router::new()
        .route("/api/v1/whoami", get(rest::whoami))
        .route("/api/v1/orgs/{org}/members", get(rest::org_members))
        .route("/api/v1/orgs/{org}/groups", get(rest::org_groups))
        .route(
            "/api/v1/orgs/{org}/groups/{group}/members",
            get(rest::group_members),
        )
        .route(
            "/api/v1/orgs/{org}/tokens",
            get(rest::list_org_tokens).post(rest::create_org_token),
        )
        .route(
            "/api/v1/orgs/{org}/tokens/{token_id}",
            delete(rest::delete_org_token),
        )
        .route(
            "/api/v1/orgs/{org}/tokens/{token_id}/{action}",
            post(rest::change_org_token),
        )
        .route(
            "/api/v1/orgs/{org}/groups/{group}/tokens",
            get(rest::list_group_tokens).post(rest::create_group_token),
        )
        .route(
            "/api/v1/orgs/{org}/groups/{group}/tokens/{token_id}",
            delete(rest::delete_group_token),
        )
        .route(
            "/api/v1/orgs/{org}/groups/{group}/tokens/{token_id}/{action}",
            post(rest::change_group_token),
        )
        .route(
            "/api/v1/tokens/self",
            get(rest::token_self).delete(rest::revoke_token_self),
        )
        .route("/api/v1/tokens/self/rotate", post(rest::rotate_token_self))
        .route("/oauth/introspect", post(oauth::introspect))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/{*rest}", any(api::api_not_found));
    // Anyone may call these without a token, so each client address is
    // rate-limited.
    let mut public_api = Router::new()
        .route("/api/v1/credentials/leaked", post(rest::report_leaked))
        .route("/oauth/revoke", post(oauth::revoke));
    if let Some(limits) = state.rate_limits.clone() {
        public_api = public_api.layer(rate_limit::layer(limits));
    }
    let api = token_api
        .merge(public_api)
        .method_not_allowed_fallback(api::api_method_not_allowed)
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT));
    let probes = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz));
    Router::new()
        .leptos_routes(&state, routes, {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(sessions)
        .layer(middleware::from_fn(server_fn_error_status))
        .layer(middleware::from_fn(
            super::token_page::show_new_token_without_js,
        ))
        .layer(RequestBodyLimitLayer::new(API_BODY_LIMIT))
        .merge(api)
        .merge(probes)
        .layer(middleware::from_fn(refuse_cross_site))
        .layer(middleware::from_fn(security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Periodic housekeeping: token last-use batches, expired sessions and old
/// sign-in failures.
pub fn spawn_background_jobs(state: &AppState) {
    let (db, usage) = (state.db.clone(), state.usage.clone());
    let every = Duration::from_millis(state.config.usage_flush_millis.max(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(err) = usage.flush(&db).await {
                tracing::warn!(error = %err, "could not record token use");
            }
        }
    });
    tokio::spawn(follow_auth_changes(
        state.db.clone(),
        Duration::from_millis(state.config.auth_sync_millis.max(10)),
    ));
    let db = state.db.clone();
    let limits = state.rate_limits.clone();
    tokio::spawn(async move {
        let store = DbSessionStore::new(db.clone());
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            if let Err(err) = store.delete_expired().await {
                tracing::warn!(error = %err, "could not delete expired sessions");
            }
            if let Err(err) = crate::auth::server::prune_sign_in_failures(&db).await {
                tracing::warn!(error = %err, "could not prune sign-in failures");
            }
            // Forget addresses whose limit has refilled, so the table stays small.
            if let Some(limits) = &limits {
                limits.limiter().retain_recent();
            }
        }
    });
}

/// Drops this instance's cached token checks whenever the database's
/// `auth_epoch` moves: a change made by another instance, the command line or
/// plain SQL. When the database cannot be read, the cache is dropped too, so
/// nothing outlives one interval unchecked.
async fn follow_auth_changes(db: Db, every: Duration) {
    let mut seen = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match db.auth_epoch().await {
            Ok(epoch) if seen == Some(epoch) => {}
            Ok(epoch) => {
                if seen.is_some() {
                    db.auth_cache.invalidate();
                }
                seen = Some(epoch);
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not read auth_epoch; dropping cached token checks");
                db.auth_cache.invalidate();
                seen = None;
            }
        }
    }
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    spawn_background_jobs(&state);
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            sig.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
