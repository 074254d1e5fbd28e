//! Builds the application from its configuration and serves it.

use super::api;
use super::config::Config;
use super::db::{Backend, Db, DbSetupError};
use super::form_errors::FormErrorKey;
use super::metrics::{self, Metrics};
use super::sealing::SealingKey;
use super::security::{no_store, refuse_cross_site, security_headers, server_fn_error_status};
use super::session_store::DbSessionStore;
use super::state::{AppState, AppStateParts};
use super::{openapi, rate_limit};
use crate::app::{shell, App};
use crate::tokens::secret_page as token_page;
use crate::tokens::server::TokenChecks;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::header;
use axum::middleware;
use axum::routing::{any, get, post};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// The session cookie's name. Over HTTPS it carries the `__Host-` prefix, so
/// browsers accept it only Secure, for this host alone and for the whole
/// site: no subdomain or plain-HTTP page can plant or overwrite it.
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-latchkey_session"
    } else {
        "latchkey_session"
    }
}

/// Brotli or gzip, as the browser prefers, at a level quick enough to do per
/// request: a browser fetches each hashed file once and keeps it for a year.
/// Never an HTML page (such as the not-found page this handler also serves):
/// a page may hold a secret beside text a visitor chose, which compression
/// would leak by its length (BREACH).
fn static_compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .no_deflate()
        .no_zstd()
        .quality(tower_http::CompressionLevel::Precise(5))
        .compress_when(DefaultPredicate::new().and(NotForContentType::const_new("text/html")))
}

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
        // cargo-leptos leaves `hash.txt` beside the binary when it put content
        // hashes in the asset names; a binary without one serves plain names.
        .hash_files(super::html::hash_file().is_some())
        .build()
}

/// Connects, migrates and returns the state the router runs on. A failed
/// migration is an error here, so start-up stops with its message.
pub async fn prepare(config: Config) -> Result<AppState, DbSetupError> {
    let url = config.database_url()?;
    let db = Db::connect(&url).await?;
    db.migrate().await?;
    let setup_code = if config.addr.ip().is_loopback() {
        None
    } else {
        crate::auth::server::setup_code_if_needed(&db).await
    };
    if std::env::var_os("LATCHKEY_TRUST_PROXY").is_some() {
        tracing::warn!(
            "LATCHKEY_TRUST_PROXY is no longer read: list your proxies' addresses in LATCHKEY_TRUSTED_PROXIES (e.g. 10.0.0.0/8) so client addresses cannot be forged"
        );
    }
    let form_error_key = FormErrorKey::new(
        db.server_key("form_errors")
            .await
            .map_err(DbSetupError::Keys)?,
    );
    let new_token_key = SealingKey::new(
        &db.server_key("new_token_page")
            .await
            .map_err(DbSetupError::Keys)?,
    )
    .ok_or_else(|| DbSetupError::Keys(sqlx::Error::Protocol("a key of 32 bytes".into())))?;
    let two_factor_key = SealingKey::new(
        &db.server_key("two_factor")
            .await
            .map_err(DbSetupError::Keys)?,
    )
    .ok_or_else(|| DbSetupError::Keys(sqlx::Error::Protocol("a key of 32 bytes".into())))?;
    let trusted = &config.trusted_proxies;
    let metrics = Metrics::default();
    Ok(AppState::new(AppStateParts {
        token_checks: TokenChecks::new(&db, &metrics),
        leptos_options: leptos_options(&config),
        db,
        rate_limits: rate_limit::per_address(
            config.public_rate_burst,
            config.public_rate_period_millis,
            trusted,
        ),
        introspection_limits: rate_limit::per_address(
            config.introspection_rate_burst,
            config.introspection_rate_period_millis,
            trusted,
        ),
        sign_in_limits: rate_limit::AddressLimiter::new(
            config.sign_in_rate_burst,
            config.sign_in_rate_period_millis,
        ),
        failed_tokens: rate_limit::FailedTokenLimiter::new(
            config.failed_token_burst,
            config.failed_token_period_millis,
        ),
        password_checks: tokio::sync::Semaphore::new(config.max_concurrent_password_checks.max(1)),
        draining: std::sync::atomic::AtomicBool::new(false),
        metrics,
        setup_code,
        form_error_key,
        new_token_key,
        two_factor_key,
        config: Arc::new(config),
    }))
}

/// The page routes, worked out once per process. Working them out renders the
/// app with resource loading switched off through a process-wide flag
/// (leptos_server's `SuppressResourceLoad`), so a page another instance in the
/// same process renders meanwhile would wait forever on a resource first
/// polled inside that window (leptos-rs/leptos#4773). Generated once, before
/// any router exists, no render can overlap it.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole application: pages, server functions, the API and probes.
pub fn router(state: AppState) -> Router {
    let routes = page_routes();
    let config = &state.config;
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(session_cookie(config.secure_cookies))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(
            config.session_hours,
        )));
    let leptos_options = state.leptos_options.clone();
    // Only when metrics are served: the middleware has a cost on every request.
    let record_requests = config
        .metrics_token
        .as_ref()
        .map(|_| middleware::from_fn_with_state(state.metrics.clone(), metrics::record_request));

    // The token API and the probes sit outside the session and page layers:
    // they never use cookies, and the token check is the hot path.
    use crate::apps::rest as apps_rest;
    use crate::orgs::rest as org_rest;
    use crate::tokens::{oauth, rest};
    let token_api = Router::new()
        .route("/api/v1/whoami", get(rest::whoami))
        .route("/api/v1/orgs/{org}/members", get(org_rest::org_members))
        .route("/api/v1/orgs/{org}/groups", get(org_rest::org_groups))
        .route(
            "/api/v1/orgs/{org}/groups/{group}/members",
            get(org_rest::group_members),
        )
        // One handler set for an organization's tokens and a group's: the
        // address says whose.
        .nest("/api/v1/orgs/{org}/tokens", rest::token_routes())
        .nest(
            "/api/v1/orgs/{org}/groups/{group}/tokens",
            rest::token_routes(),
        )
        .route(
            "/api/v1/tokens/self",
            get(rest::token_self).delete(rest::revoke_token_self),
        )
        .route("/api/v1/tokens/self/rotate", post(rest::rotate_token_self))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/{*rest}", any(api::api_not_found));
    // Anyone may call these without a token, so each client address is
    // rate-limited.
    let mut public_api = Router::new()
        .route("/api/v1/credentials/leaked", post(rest::report_leaked))
        // Browser-based OAuth clients call these from their own origin; none
        // of them reads a cookie, so any origin may (without credentials).
        .route(
            "/oauth/revoke",
            post(oauth::revoke).options(preflight).layer(oauth_cors()),
        )
        .route(
            apps_rest::TOKEN_PATH,
            post(apps_rest::token)
                .options(preflight)
                .layer(oauth_cors()),
        )
        .route(
            apps_rest::REGISTER_PATH,
            post(apps_rest::register)
                .options(preflight)
                .layer(oauth_cors()),
        );
    if let Some(limits) = state.rate_limits.clone() {
        public_api = public_api.layer(rate_limit::layer(limits));
    }

    // Services call introspection for every request they serve: a limit of
    // its own, generous by default.
    let mut introspection = Router::new().route("/oauth/introspect", post(oauth::introspect));
    if let Some(limits) = state.introspection_limits.clone() {
        introspection = introspection.layer(rate_limit::layer(limits));
    }
    // No layer of their own: every layer on a route is cloned for each of
    // its requests, and this is the token check's hot path. The body limit
    // and `no-store` (RFC 6749 §5.1) come from `around_every_request`.
    let api = token_api
        .merge(public_api)
        .merge(introspection)
        .method_not_allowed_fallback(api::api_method_not_allowed);
    let probes = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(metrics::serve))
        .route(
            "/.well-known/oauth-authorization-server",
            get(apps_rest::metadata).layer(oauth_cors()),
        );
    // The secret page is one of the app's pages, but only its own handler,
    // which claims the one showing, may render it.
    let routes = routes
        .into_iter()
        .filter(|route| route.path() != token_page::SHOW_PATH)
        .collect();
    let pages = Router::new()
        .route(token_page::SHOW_PATH, get(token_page::show_once))
        .leptos_routes(&state, routes, {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        // The consent page reads the session, so it sits inside its layer.
        .route(
            apps_rest::AUTHORIZE_PATH,
            get(apps_rest::authorize).post(apps_rest::decide),
        );
    // Scripts, WASM and styles, compressed for browsers that accept it
    // (pages are not: they carry secrets beside what a visitor typed).
    let files = leptos_axum::file_and_error_handler::<AppState, _>(shell);
    let pages = match &record_requests {
        Some(record) => pages.fallback(files.layer(static_compression()).layer(record.clone())),
        None => pages.fallback(files.layer(static_compression())),
    };
    let app = pages
        .layer(sessions)
        .layer(middleware::from_fn(server_fn_error_status))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            token_page::show_new_token_without_js,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::form_errors::carry_form_errors,
        ))
        .layer(RequestBodyLimitLayer::new(API_BODY_LIMIT))
        .layer(middleware::from_fn(no_store))
        .merge(api)
        .merge(probes);
    let app = match record_requests {
        Some(record) => app.route_layer(record),
        None => app,
    };
    app.with_state(state)
}

/// What every request passes through, wrapped once around the whole router
/// rather than around each route (axum clones a route's layers for each of
/// its requests; around the router, a request clones only the router's
/// shared pointer).
pub fn around_every_request(
    router: Router,
) -> impl tower::Service<
    axum::extract::Request,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    tower::ServiceBuilder::new()
        .map_response(axum::response::IntoResponse::into_response)
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(refuse_cross_site))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .service(router)
}

/// Answered by the CORS layer around it; a route needs the method for the
/// layer to see the request.
async fn preflight() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

fn oauth_cors() -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
}

/// The PostgreSQL advisory lock under which one instance at a time runs the
/// periodic database clean-ups.
const CLEAN_UP_LOCK: i64 = 74_602;

/// Periodic housekeeping: token last-use batches, expired sessions and old
/// sign-in failures; the last-use batches come from `state.token_checks`.
pub async fn spawn_background_jobs(state: &AppState) {
    let (db, usage) = (state.db.clone(), state.token_checks.usage.clone());
    let metrics = state.metrics.clone();
    let every = Duration::from_millis(state.config.usage_flush_millis.max(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match usage.flush(&db).await {
                Ok(written) => metrics.usage_written(written),
                Err(err) => tracing::warn!(error = %err, "could not record token use"),
            }
        }
    });
    // The first look happens before serving, so the first interval starts
    // from an epoch actually seen.
    state.db.follow_auth_changes().await;
    tokio::spawn(follow_auth_changes(
        state.db.clone(),
        Duration::from_millis(state.config.auth_sync_millis.max(10)),
    ));
    if state.db.backend == Backend::Postgres && state.config.auth_notifications {
        if let Ok(url) = state.config.database_url() {
            tokio::spawn(listen_for_auth_changes(
                state.db.clone(),
                url,
                state.metrics.clone(),
            ));
        }
    }
    let db = state.db.clone();
    let limits = state.clone();
    tokio::spawn(async move {
        let store = DbSessionStore::new(db.clone());
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            // The database clean-ups run on one instance at a time.
            let cleaned = db.exclusively(CLEAN_UP_LOCK, async {
                if let Err(err) = store.delete_expired().await {
                    tracing::warn!(error = %err, "could not delete expired sessions");
                }
                if let Err(err) = token_page::prune_shown(&db).await {
                    tracing::warn!(error = %err, "could not prune shown new-token tickets");
                }
                if let Err(err) = crate::auth::server::prune_sign_in_attempts(&db).await {
                    tracing::warn!(error = %err, "could not prune sign-in attempts");
                }
                if let Err(err) = crate::apps::server::prune(&db).await {
                    tracing::warn!(error = %err, "could not prune spent OAuth codes and tokens");
                }
                if let Err(err) = crate::people::server::prune(&db).await {
                    tracing::warn!(error = %err, "could not prune old invitations");
                }
                if let Err(err) = db.prune_auth_changes().await {
                    tracing::warn!(error = %err, "could not prune the auth change log");
                }
            });
            if let Err(err) = cleaned.await {
                tracing::warn!(error = %err, "could not take the clean-up lock");
            }
            // Forget addresses whose limits have refilled, so the tables stay small.
            for limits in [&limits.rate_limits, &limits.introspection_limits]
                .into_iter()
                .flatten()
            {
                limits.limiter().retain_recent();
            }
            if let Some(limits) = &limits.sign_in_limits {
                limits.retain_recent();
            }
            if let Some(limits) = &limits.failed_tokens {
                limits.retain_recent();
            }
        }
    });
}

/// Notes the changes to token checks that anyone committed — another
/// instance, the command line, plain SQL — once every `every`. On SQLite this
/// is how instances sharing a file follow each other; on PostgreSQL it is the
/// safety net under the notifications.
async fn follow_auth_changes(db: Db, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        db.follow_auth_changes().await;
    }
}

/// The channel PostgreSQL notifies when `auth_epoch` moves (migrations 0013
/// and 0014); the payload is the new epoch.
pub const AUTH_CHANGES_CHANNEL: &str = "latchkey_auth_changes";

/// On PostgreSQL: reads what changed as soon as any instance commits a change
/// that can alter token checks, without waiting for the poll. Whenever the
/// listening connection fails or was lost, notifications may have been
/// missed, so the whole cache is dropped then; the poll keeps running
/// meanwhile as the safety net.
async fn listen_for_auth_changes(db: Db, url: String, metrics: Metrics) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(AUTH_CHANGES_CHANNEL).await {
                Ok(()) => {
                    // Whatever changed before the listening began is unknown.
                    db.changes.note_everything();
                    backoff = Duration::from_millis(100);
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => {
                                metrics.notifications.inc();
                                db.follow_auth_changes().await;
                            }
                            // The connection was lost (and is made again on
                            // the next call): what came meanwhile is lost.
                            Ok(None) => {
                                tracing::warn!(
                                    "lost the auth change notifications; dropping cached token checks"
                                );
                                db.changes.note_everything();
                            }
                            Err(err) => {
                                tracing::warn!(error = %err, "auth change notifications failed; dropping cached token checks");
                                break;
                            }
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not listen for auth changes"),
            },
            Err(err) => {
                tracing::warn!(error = %err, "could not connect to listen for auth changes");
            }
        }
        db.changes.note_everything();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Starts the background jobs, then serves until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    spawn_background_jobs(&state).await;
    run(listener, state).await
}

/// Serves until Ctrl-C or SIGTERM; the background jobs must be running.
/// Then: `/readyz` fails at once, new connections are refused after the
/// drain delay, requests in flight get the grace period to finish, and the
/// waiting last-use batch is written before returning.
pub async fn run(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let drain = Duration::from_millis(state.config.shutdown_drain_millis);
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    let app = around_every_request(router(state.clone()));
    let signalled = {
        let state = state.clone();
        async move {
            shutdown_signal().await;
            state
                .draining
                .store(true, std::sync::atomic::Ordering::Release);
            tracing::info!("shutting down: not ready any more, finishing requests in flight");
            let _ = stopping.send(true);
            tokio::time::sleep(drain).await;
        }
    };
    let server =
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                SocketAddr,
            >(app),
        )
        .with_graceful_shutdown(signalled);
    let out_of_time = async move {
        let _ = stopped.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(drain + grace).await;
    };
    let served = tokio::select! {
        served = server => served,
        () = out_of_time => {
            tracing::warn!("shutting down: requests still in flight after the grace period are dropped");
            Ok(())
        }
    };
    match state.token_checks.usage.flush(&state.db).await {
        Ok(written) => {
            state.metrics.usage_written(written);
            tracing::info!(written, "last token uses written");
        }
        Err(err) => tracing::error!(error = %err, "could not write the last token uses"),
    }
    served
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
