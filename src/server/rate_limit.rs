//! Per-client rate limits (tower_governor) for the endpoints anyone may call
//! without a token: a leak report or revocation request must not become a way
//! to hammer the database or guess at secrets.

use super::config::Config;
use super::rest::ApiError;
use super::security::client_ip;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

/// Keys requests by the client's address, the same one the audit trail
/// records (X-Forwarded-For only when the proxy is trusted).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    trust_proxy: bool,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        client_ip(req.headers(), peer, self.trust_proxy).ok_or(GovernorError::UnableToExtractKey)
    }
}

pub type PublicLimits = Arc<GovernorConfig<ClientIp, NoOpMiddleware>>;

/// The limits from the configuration; `None` when they are set to zero.
pub fn public_limits(config: &Config) -> Option<PublicLimits> {
    GovernorConfigBuilder::default()
        .period(Duration::from_millis(config.public_rate_period_millis))
        .burst_size(config.public_rate_burst)
        .key_extractor(ClientIp {
            trust_proxy: config.trust_proxy,
        })
        .finish()
        .map(Arc::new)
}

/// The layer, answering refusals in the API's JSON shape with Retry-After.
pub fn layer(limits: PublicLimits) -> GovernorLayer<ClientIp, NoOpMiddleware, Body> {
    GovernorLayer::new(limits).error_handler(refusal)
}

fn refusal(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("Too many requests from this address; try again in {wait_time} s."),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&wait_time.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
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
