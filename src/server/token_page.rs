//! The one-time secret page for browsers without JavaScript.
//!
//! With JavaScript, creating a token returns JSON and the copy dialog shows the
//! secret from memory. A plain form post to the same server function would be
//! answered with a redirect, losing the secret; this middleware turns that one
//! success into a page that shows it once. The page has no scripts, is never
//! cached, and a reload cannot bring the secret back.

use crate::tokens::CreatedToken;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const CREATE_PATH: &str = "/rpc/create_token";

pub async fn show_new_token_without_js(request: Request, next: Next) -> Response {
    let plain_form_post = request.uri().path() == CREATE_PATH
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    let response = next.run(request).await;
    if !plain_form_post || response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(created) = serde_json::from_slice::<CreatedToken>(&bytes) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    parts.status = StatusCode::OK;
    parts.headers.remove(header::LOCATION);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    parts.headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    Response::from_parts(parts, Body::from(render(&created)))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render(created: &CreatedToken) -> String {
    let name = escape(&created.token.name);
    let duplicate = if created.duplicate_name {
        "<p class=\"alert alert-warning\">You already had a token with this name. Give tokens distinct names to tell them apart later.</p>"
    } else {
        ""
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Your new access token · Latchkey</title>
<link rel="stylesheet" href="/pkg/latchkey.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
</head>
<body>
<main id="main">
<section class="card narrow" aria-labelledby="new-token-title">
<h1 id="new-token-title">Copy your new access token</h1>
<p>The token “{name}” is ready.</p>
<p class="alert alert-warning" role="alert"><strong>This is the only time it is shown.</strong> Copy it now and store it safely; Latchkey keeps only a fingerprint and cannot show it again.</p>
<div class="field">
<label for="new-token-secret">Access token</label>
<input id="new-token-secret" class="secret" type="text" readonly autocomplete="off" spellcheck="false" value="{secret}">
</div>
{duplicate}
<p><a class="btn btn-primary" href="{back}">Done, I have copied it</a></p>
</section>
</main>
</body>
</html>"#,
        secret = escape(&created.secret),
        back = escape(&created.scope.page()),
    )
}
