//! Request-level defences: cross-site request refusal and security headers.

use crate::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses state-changing requests that a browser marks as coming from another
/// site. Browsers always send `Sec-Fetch-Site` or `Origin` on such requests;
/// clients that send neither (scripts) carry no victim's cookies, so they pass.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // The token-authenticated API ignores cookies, so cross-site calls cannot
    // borrow a session there.
    // The OAuth token, registration and revocation endpoints are called by
    // clients on other sites (a browser app's own origin) and read no cookie.
    let path = request.uri().path();
    let token_api = path.starts_with("/api/v1/")
        || matches!(path, "/oauth/token" | "/oauth/register" | "/oauth/revoke");
    if !safe && !token_api && is_cross_site(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"cross_site_request","message":"Cross-site requests are refused."}"#,
        )
            .into_response();
    }
    next.run(request).await
}

pub fn is_cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some("null") => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            host.is_none() || origin_host != host
        }
    }
}

/// The value of the request cookie called `name`, if sent.
pub fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Headers every response carries. HTML pages set their own CSP with a nonce
/// (see `app.rs`); this strict one covers everything else. Every API and
/// OAuth answer is someone's data, and some carry secrets: no cache keeps
/// any (RFC 6749 §5.1) unless the route chose its own policy.
pub async fn security_headers(request: Request, next: Next) -> Response<Body> {
    let path = request.uri().path();
    let api = path.starts_with("/api/") || path.starts_with("/oauth/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if api {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Keeps what is personal or secret out of every cache, for the pages and
/// server functions (`security_headers` covers the API). Server
/// functions answer with account data and, on create, secrets: `no-store`
/// (RFC 6749 §5.1). Pages show members, audit trails and tokens: `private,
/// no-store`. Static assets (scripts, styles, images) are left cacheable; a
/// route that set its own policy keeps it.
pub async fn no_store(request: Request, next: Next) -> Response {
    let data = request.uri().path().starts_with("/rpc/");
    let asset = asset_cache_policy(request.uri().path());
    let mut response = next.run(request).await;
    let asset = asset.filter(|_| response.status().is_success() || response.status() == 304);
    let headers = response.headers_mut();
    if headers.contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if data {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else if let Some(policy) = asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        // One name is sent as brotli, gzip or plain (a precompressed copy
        // comes without this header): a shared cache must tell them apart.
        let varies = headers.get_all(header::VARY).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
        });
        if !varies {
            headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
    } else if html {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

/// Built assets whose name carries their content hash never change: a
/// browser keeps them a year. Without the hash (a development build) it asks
/// again each time, and gets `304 Not Modified` when nothing changed.
fn asset_cache_policy(path: &str) -> Option<&'static str> {
    let name = path.strip_prefix("/pkg/")?;
    let parts: Vec<&str> = name.split('.').collect();
    let hashed = matches!(parts.as_slice(), [_, hash, _] if hash.len() == 22
        && hash.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    Some(if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    })
}

/// Server functions answer every error with 500; this gives each `AppError` its
/// own status (422 for bad input, 404, 403, …), including errors raised before
/// the function body ran, such as a malformed argument. Plain HTML form posts
/// are redirects and pass untouched.
pub async fn server_fn_error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The policy for server-rendered pages; `nonce` marks Leptos' inline scripts.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
         base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod asset_tests {
    use super::asset_cache_policy;

    #[test]
    fn hashed_assets_are_kept_a_year_and_plain_ones_revalidated() {
        assert_eq!(
            asset_cache_policy("/pkg/latchkey.Xq3f0bRZgN1v0HcP9kYw2A.wasm"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(asset_cache_policy("/pkg/latchkey.wasm"), Some("no-cache"));
        assert_eq!(asset_cache_policy("/favicon.svg"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_requests_pass() {
        assert!(!is_cross_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!is_cross_site(&headers(&[
            ("origin", "http://a.test:3000"),
            ("host", "a.test:3000")
        ])));
        assert!(!is_cross_site(&headers(&[])));
    }

    #[test]
    fn cross_site_requests_are_detected() {
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(is_cross_site(&headers(&[
            ("origin", "http://evil.test"),
            ("host", "a.test:3000")
        ])));
        assert!(is_cross_site(&headers(&[
            ("origin", "null"),
            ("host", "a.test")
        ])));
    }
}
