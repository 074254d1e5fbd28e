//! Per-client rate limits (governor): for the endpoints anyone may call
//! without a token (a leak report or revocation request must not become a way
//! to hammer the database or guess at secrets), introspection, sign-in and
//! first-admin setup, and refused token authentications. All count by
//! `client::throttle_key`: an IPv4 address or an IPv6 /64.

use super::api_error::ApiError;
use super::client::{client_ip, throttle_key, TrustedProxies};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

/// Keys requests by the client's address, the same one the audit trail
/// records (X-Forwarded-For only from trusted proxies), IPv6 by /64.
#[derive(Debug, Clone)]
pub struct ClientIp {
    trusted: TrustedProxies,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        client_ip(req.headers(), peer, &self.trusted)
            .map(throttle_key)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

pub type PublicLimits = Arc<GovernorConfig<ClientIp, NoOpMiddleware>>;

/// A burst of `burst` requests per client address, one more every
/// `period_millis`; `None` when set to zero (no limit).
pub fn per_address(
    burst: u32,
    period_millis: u64,
    trusted: &TrustedProxies,
) -> Option<PublicLimits> {
    GovernorConfigBuilder::default()
        .period(Duration::from_millis(period_millis.max(1)))
        .burst_size(burst)
        .key_extractor(ClientIp {
            trusted: trusted.clone(),
        })
        .finish()
        .map(Arc::new)
}

/// What an in-handler limit counts by: the client's throttle key; requests
/// without an address share one.
fn address_key(ip: Option<IpAddr>) -> IpAddr {
    ip.map_or(IpAddr::from([0, 0, 0, 0]), throttle_key)
}

/// A per-address limit checked from inside a handler, for what a layer
/// cannot see (a server function's outcome, a token check's result).
pub struct AddressLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl AddressLimiter {
    /// `None` when `burst` is zero (no limit).
    pub fn new(burst: u32, period_millis: u64) -> Option<Self> {
        let burst = NonZeroU32::new(burst)?;
        let quota =
            Quota::with_period(Duration::from_millis(period_millis.max(1)))?.allow_burst(burst);
        Some(AddressLimiter {
            limiter: RateLimiter::keyed(quota),
        })
    }

    /// Takes one request's allowance for `ip`; when none is left, how long
    /// until there is. Requests without an address share one allowance.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        let key = address_key(ip);
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets addresses whose allowance has refilled.
    pub fn retain_recent(&self) {
        self.limiter.retain_recent();
    }
}

/// Refused token authentications per address. Each refusal takes from the
/// address's allowance; once it is spent, the address's API requests are
/// answered 429 before any token is looked up, until it refills. Made-up
/// but checksum-valid tokens cost a database read each, so this is what
/// bounds that cost.
pub struct FailedTokenLimiter {
    allowance: AddressLimiter,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    /// Whether any address waits: every API request asks, so the common
    /// answer (none) costs one atomic read and no lock.
    any_blocked: AtomicBool,
}

impl FailedTokenLimiter {
    pub fn new(burst: u32, period_millis: u64) -> Option<Self> {
        Some(FailedTokenLimiter {
            allowance: AddressLimiter::new(burst, period_millis)?,
            blocked: Mutex::new(HashMap::new()),
            any_blocked: AtomicBool::new(false),
        })
    }

    /// How long `ip` must still wait, if it spent its allowance.
    pub fn refused_for(&self, ip: Option<IpAddr>) -> Option<Duration> {
        if !self.any_blocked.load(Ordering::Relaxed) {
            return None;
        }
        let key = address_key(ip);
        let blocked = self.blocked.lock().ok()?;
        let until = *blocked.get(&key)?;
        until.checked_duration_since(Instant::now())
    }

    /// Notes one refused authentication from `ip`.
    pub fn note_refusal(&self, ip: Option<IpAddr>) {
        if let Err(wait) = self.allowance.check(ip) {
            let key = address_key(ip);
            if let Ok(mut blocked) = self.blocked.lock() {
                blocked.insert(key, Instant::now() + wait);
                self.any_blocked.store(true, Ordering::Relaxed);
            }
        }
    }

    pub fn retain_recent(&self) {
        self.allowance.retain_recent();
        let now = Instant::now();
        if let Ok(mut blocked) = self.blocked.lock() {
            blocked.retain(|_, until| *until > now);
            self.any_blocked
                .store(!blocked.is_empty(), Ordering::Relaxed);
        }
    }
}

/// A 429 in the API's JSON shape, with Retry-After in whole seconds.
pub fn too_many_requests(wait: Duration, what: &str) -> Response<Body> {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!("{what} from this address; try again in {seconds} s."),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The layer, answering refusals in the API's JSON shape with Retry-After.
pub fn layer(limits: PublicLimits) -> GovernorLayer<ClientIp, NoOpMiddleware, Body> {
    GovernorLayer::new(limits).error_handler(refusal)
}

fn refusal(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            too_many_requests(Duration::from_secs(wait_time), "Too many requests")
        }
        GovernorError::UnableToExtractKey => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The client address could not be determined.",
        )
        .into_response(),
        GovernorError::Other { code, msg, .. } => ApiError::new(
            code,
            "rate_limited",
            msg.unwrap_or_else(|| "The request was refused.".into()),
        )
        .into_response(),
    }
}
