//! What an operator watches across instances, at `GET /metrics` in the
//! OpenMetrics text format Prometheus reads. Off unless a bearer secret is
//! configured (`LATCHKEY_METRICS_TOKEN`); each instance keeps its own counts.

use super::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    state: &'static str,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 16 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 17))
}

/// The counters every part of one instance adds to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Parts>);

#[derive(Debug)]
pub struct Parts {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latencies: Latencies,
    pub token_checks: Family<OutcomeLabels, Counter>,
    /// `token_checks{outcome="ok"}`, held apart: nearly every check ends
    /// there, and incrementing it then takes no lock or label lookup.
    token_checks_ok: Counter,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub cache_evictions: Counter,
    pub cache_entries: Gauge,
    pub notifications: Counter,
    pub usage_batches: Counter,
    pub usage_rows: Counter,
    pub db_connections: Family<ConnectionLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("latchkey");
        let parts = Parts {
            requests: Family::default(),
            latencies: Latencies::new_with_constructor(latency_histogram),
            token_checks: Family::default(),
            token_checks_ok: Counter::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_evictions: Counter::default(),
            cache_entries: Gauge::default(),
            notifications: Counter::default(),
            usage_batches: Counter::default(),
            usage_rows: Counter::default(),
            db_connections: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern and status",
            parts.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route pattern",
            parts.latencies.clone(),
        );
        registry.register(
            "token_checks",
            "Access tokens presented to the API, by outcome",
            parts.token_checks.clone(),
        );
        registry.register(
            "token_cache_hits",
            "Token checks answered from memory",
            parts.cache_hits.clone(),
        );
        registry.register(
            "token_cache_misses",
            "Token checks that read the database",
            parts.cache_misses.clone(),
        );
        registry.register(
            "token_cache_evictions",
            "Cached token checks dropped because a change reached them",
            parts.cache_evictions.clone(),
        );
        registry.register(
            "token_cache_entries",
            "Token checks held in memory",
            parts.cache_entries.clone(),
        );
        registry.register(
            "auth_notifications",
            "Change notifications received from PostgreSQL",
            parts.notifications.clone(),
        );
        registry.register(
            "usage_batches",
            "Batches of token last-use times written",
            parts.usage_batches.clone(),
        );
        registry.register(
            "usage_rows",
            "Token last-use times written",
            parts.usage_rows.clone(),
        );
        registry.register(
            "db_connections",
            "Database pool connections, in use or idle",
            parts.db_connections.clone(),
        );
        let token_checks_ok = parts
            .token_checks
            .get_or_create(&OutcomeLabels { outcome: "ok" })
            .clone();
        Metrics(Arc::new(Parts {
            registry,
            token_checks_ok,
            ..parts
        }))
    }
}

impl std::ops::Deref for Metrics {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl Metrics {
    /// The token cache's counters, registered here.
    pub fn cache_stats(&self) -> crate::tokens::cache::CacheStats {
        crate::tokens::cache::CacheStats {
            hits: self.cache_hits.clone(),
            misses: self.cache_misses.clone(),
            evictions: self.cache_evictions.clone(),
        }
    }

    pub fn token_check(&self, outcome: &'static str) {
        if outcome == "ok" {
            self.token_checks_ok.inc();
        } else {
            self.token_checks
                .get_or_create(&OutcomeLabels { outcome })
                .inc();
        }
    }

    /// Notes a batch of last-use times just written.
    pub fn usage_written(&self, rows: usize) {
        if rows > 0 {
            self.usage_batches.inc();
            self.usage_rows.inc_by(rows as u64);
        }
    }

    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Counts and times every request by its route pattern (never the path
/// itself, which would let callers mint new series). Requests no route
/// matched — static files and not-found pages — share one label.
pub async fn record_request(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(no route)", |path| path.as_str())
        .to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    if status == 403 && refused_for_scope(response.headers()) {
        metrics.token_check("insufficient_scope");
    }
    metrics
        .latencies
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(elapsed);
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status,
        })
        .inc();
    response
}

/// A valid token refused because it lacks a scope (RFC 6750 section 3.1).
fn refused_for_scope(headers: &HeaderMap) -> bool {
    headers
        .get(header::WWW_AUTHENTICATE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("insufficient_scope"))
}

/// `GET /metrics`: for a scraper holding the configured secret. Without one
/// configured the route is not there at all; a wrong or missing secret gets
/// the same 404, so the endpoint cannot be found by probing.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(secret) = state.config.metrics_token.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if !presented.is_some_and(|presented| secret.matches(presented)) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let metrics = &state.metrics;
    metrics
        .cache_entries
        .set(i64::try_from(state.token_checks.cache.len()).unwrap_or(i64::MAX));
    let pool = &state.db.pool;
    let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
    let open = i64::from(pool.size());
    for (label, value) in [("idle", idle), ("in_use", (open - idle).max(0))] {
        metrics
            .db_connections
            .get_or_create(&ConnectionLabels { state: label })
            .set(value);
    }
    match metrics.render() {
        Ok(text) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
