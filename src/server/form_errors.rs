//! Form errors for browsers without JavaScript, carried so that only Latchkey
//! can produce them.
//!
//! A plain form post to a server function that fails is answered by Leptos
//! with a redirect back to the form, the error encoded in the address
//! (`?__path=…&__err=…`), and the page reads it from there. Anyone could then
//! write such a link and have a real Latchkey page show their words beside a
//! field, and the address would carry what was typed (an email) into
//! histories and logs. So the error leaves the address: the redirect carries
//! it in a short-lived cookie signed with a key of this deployment, and a page
//! request shows only an error from a valid cookie — once. Addresses that
//! carry error parameters are redirected to themselves without them.
//!
//! A form that went through is carried the same way, with no error, so the
//! page after the redirect can say so once ("Settings saved.").

use super::security::request_cookie;
use super::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

const COOKIE: &str = "latchkey_form_error";
/// Long enough to follow a redirect, short enough to be gone soon after.
const LIFETIME_SECS: i64 = 60;
const PATH_PARAM: &str = "__path";
const ERROR_PARAM: &str = "__err";

/// Which server function's plain form post went through just before this
/// page load; in the request's extensions for the page to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormDone(pub String);

/// The key that signs form-error cookies, shared by every instance on one
/// database.
#[derive(Clone)]
pub struct FormErrorKey(Vec<u8>);

impl std::fmt::Debug for FormErrorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormErrorKey(…)")
    }
}

impl FormErrorKey {
    pub fn new(bytes: Vec<u8>) -> Self {
        FormErrorKey(bytes)
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(payload.as_bytes());
        mac
    }

    /// `path|error|expires|signature`: every part is cookie-safe (a server
    /// function path, URL-safe base64, digits, hex).
    fn seal(&self, path: &str, error: &str, now: i64) -> String {
        let payload = format!("{path}|{error}|{}", now + LIFETIME_SECS);
        let signature = self.mac(&payload).finalize().into_bytes();
        format!("{payload}|{}", hex::encode(signature))
    }

    /// The server function path and encoded error of a valid, unexpired
    /// cookie value.
    fn open(&self, value: &str, now: i64) -> Option<(String, String)> {
        let (payload, signature) = value.rsplit_once('|')?;
        let signature = hex::decode(signature).ok()?;
        self.mac(payload).verify_slice(&signature).ok()?;
        let mut parts = payload.splitn(3, '|');
        let (path, error, expires) = (parts.next()?, parts.next()?, parts.next()?);
        (expires.parse::<i64>().ok()? > now).then(|| (path.to_string(), error.to_string()))
    }
}

/// The query without Leptos' error parameters, and those parameters.
fn split_query(query: &str) -> (String, Option<String>, Option<String>) {
    let (mut path, mut error) = (None, None);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                PATH_PARAM => path = Some(value.to_string()),
                ERROR_PARAM => error = Some(value.to_string()),
                _ => return !pair.is_empty(),
            }
            false
        })
        .collect();
    (kept.join("&"), path, error)
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

fn set_cookie(value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

pub async fn carry_form_errors(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let now = super::db::now();
    let secure = state.config.secure_cookies;
    let key = &state.form_error_key;
    // A browser navigating: a page load, or a plain form post.
    let wants_page = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    // Page loads only: a script or stylesheet fetched meanwhile must not
    // take the error meant for the page.
    let page_load = wants_page && request.method() == Method::GET;
    let posted_to = (wants_page
        && request.method() == Method::POST
        && request.uri().path().starts_with("/rpc/"))
    .then(|| request.uri().path().to_string());
    let mut consumed = false;
    if page_load {
        let uri = request.uri().clone();
        let query = uri.query().unwrap_or("");
        let (kept, path, error) = split_query(query);
        if path.is_some() || error.is_some() {
            // Only Latchkey puts errors on a page, and never in its address.
            let location = with_query(uri.path(), &kept);
            return (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, location)],
                Body::empty(),
            )
                .into_response();
        }
        if let Some(value) = request_cookie(request.headers(), COOKIE) {
            consumed = true;
            match key.open(value, now) {
                Some((path, error)) if error.is_empty() => {
                    request.extensions_mut().insert(FormDone(path));
                }
                Some((path, error)) => {
                    // Handed to the page through the one channel Leptos reads,
                    // for this render only.
                    let query = [
                        kept.as_str(),
                        &format!("{PATH_PARAM}={path}&{ERROR_PARAM}={error}"),
                    ]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("&");
                    if let Ok(rewritten) = Uri::try_from(with_query(uri.path(), &query)) {
                        *request.uri_mut() = rewritten;
                    }
                }
                None => {}
            }
        }
    }
    let mut response = next.run(request).await;
    if response.status().is_redirection() {
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(location) = location {
            let (base, query) = location.split_once('?').unwrap_or((&location, ""));
            let (kept, path, error) = split_query(query);
            if let (Some(path), Some(error)) = (path, error) {
                let sealed = key.seal(&percent_decode_str(&path).decode_utf8_lossy(), &error, now);
                let headers = response.headers_mut();
                if let Ok(clean) = HeaderValue::from_str(&with_query(base, &kept)) {
                    headers.insert(header::LOCATION, clean);
                }
                if let Some(cookie) = set_cookie(&sealed, LIFETIME_SECS, secure) {
                    headers.append(header::SET_COOKIE, cookie);
                }
                return response;
            }
            if let Some(path) = posted_to {
                let sealed = key.seal(&path, "", now);
                if let Some(cookie) = set_cookie(&sealed, LIFETIME_SECS, secure) {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                return response;
            }
        }
    }
    if consumed {
        if let Some(cookie) = set_cookie("", 0, secure) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_errors_open_only_unchanged_and_in_time() {
        let key = FormErrorKey::new(vec![7; 32]);
        let sealed = key.seal("/rpc/sign_in", "eyJJbnZhbGlkIjp7fX0=", 1_000);
        assert_eq!(
            key.open(&sealed, 1_000),
            Some(("/rpc/sign_in".into(), "eyJJbnZhbGlkIjp7fX0=".into()))
        );
        assert_eq!(key.open(&sealed, 1_000 + LIFETIME_SECS), None, "expired");
        let forged = sealed.replace("eyJJ", "eyJK");
        assert_eq!(key.open(&forged, 1_000), None, "changed");
        let other = FormErrorKey::new(vec![8; 32]);
        assert_eq!(other.open(&sealed, 1_000), None, "another key");
        assert_eq!(key.open("garbage", 1_000), None);
    }

    #[test]
    fn error_parameters_are_split_off_the_query() {
        assert_eq!(
            split_query("page=2&__path=%2Frpc%2Fx&__err=abc&action=y"),
            (
                "page=2&action=y".to_string(),
                Some("%2Frpc%2Fx".to_string()),
                Some("abc".to_string())
            )
        );
        assert_eq!(split_query(""), (String::new(), None, None));
    }
}
