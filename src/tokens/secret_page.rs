//! The one-time secret page.
//!
//! Forms that mint a secret (a token, an application's credentials, an
//! invitation link, recovery codes) are plain form posts, and Leptos answers
//! a successful one with a redirect back, which would lose the secret. This
//! middleware turns that one success into post/redirect/get: the answer is a `303` to `/tokens/new`,
//! carrying the new token in a cookie that is encrypted with a key of this
//! deployment (the browser, which is about to see the secret anyway, holds
//! only ciphertext), scoped to that one path and gone within two minutes. The
//! page shows it once: its ticket is claimed in the database by the first
//! request, on whichever instance, so a reload (or a replayed cookie) shows
//! "already shown" and never mints or reveals anything again.

use crate::app::shell;
use crate::pages::secret::{ShownSecret as Secret, SHOWN_SECRET_PATH};
use crate::server::security::request_cookie;
use crate::server::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::prelude::provide_context;
use serde::{Deserialize, Serialize};

/// The server functions whose answer carries a secret shown once.
const CREATE_PATH: &str = "/rpc/create_token";
const APP_SECRET_PATHS: [&str; 2] = ["/rpc/register_app", "/rpc/rotate_app_secret"];
const INVITATION_PATHS: [&str; 2] = ["/rpc/invite_person", "/rpc/invite_to_org"];
const RECOVERY_CODES_PATH: &str = "/rpc/confirm_two_factor";
/// Where the secret page lives.
pub const SHOW_PATH: &str = SHOWN_SECRET_PATH;
const COOKIE: &str = "latchkey_new_token";
const LIFETIME_SECS: i64 = 120;

/// What the cookie carries.
#[derive(Serialize, Deserialize)]
struct Pending {
    ticket: String,
    expires_at: i64,
    created: Secret,
}

/// Which secret a server function's answer carries, if it is one of them.
#[derive(Clone, Copy)]
enum Carries {
    Token,
    App,
    Invitation,
    RecoveryCodes,
}

impl Carries {
    fn of(path: &str) -> Option<Self> {
        if path == CREATE_PATH {
            Some(Carries::Token)
        } else if APP_SECRET_PATHS.contains(&path) {
            Some(Carries::App)
        } else if INVITATION_PATHS.contains(&path) {
            Some(Carries::Invitation)
        } else if path == RECOVERY_CODES_PATH {
            Some(Carries::RecoveryCodes)
        } else {
            None
        }
    }

    fn read(self, bytes: &[u8]) -> serde_json::Result<Secret> {
        Ok(match self {
            Carries::Token => Secret::Token(Box::new(serde_json::from_slice(bytes)?)),
            Carries::App => Secret::App(serde_json::from_slice(bytes)?),
            Carries::Invitation => Secret::Invitation(serde_json::from_slice(bytes)?),
            Carries::RecoveryCodes => Secret::RecoveryCodes(serde_json::from_slice(bytes)?),
        })
    }
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Max-Age={max_age}; Path={SHOW_PATH}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn random_ticket() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub async fn show_new_token_without_js(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let carries = Carries::of(request.uri().path());
    let plain_form_post = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let response = next.run(request).await;
    let Some(carries) = carries.filter(|_| plain_form_post) else {
        return response;
    };
    if response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(created) = carries.read(&bytes) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let pending = Pending {
        ticket: random_ticket(),
        expires_at: crate::server::db::now() + LIFETIME_SECS,
        created,
    };
    let Some(sealed) = state.new_token_key.seal(&pending) else {
        tracing::error!("the new token could not be sealed for its page");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    parts.status = StatusCode::SEE_OTHER;
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::LOCATION, HeaderValue::from_static(SHOW_PATH));
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    parts.headers.append(
        header::SET_COOKIE,
        cookie(&sealed, LIFETIME_SECS, state.config.secure_cookies),
    );
    Response::from_parts(parts, Body::empty())
}

/// `GET /tokens/new`: the secret just created, once. The page is the app's
/// own, rendered with the secret in its context; only the first request for
/// a ticket, on whichever instance, gets it.
pub async fn show_once(State(state): State<AppState>, request: Request) -> Response {
    let now = crate::server::db::now();
    let pending = request_cookie(request.headers(), COOKIE)
        .and_then(|value| state.new_token_key.open(value))
        .filter(|pending: &Pending| pending.expires_at > now);
    let shown = match pending {
        Some(pending) => {
            let claimed = sqlx::query(
                "INSERT INTO shown_secrets (ticket, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (ticket) DO NOTHING",
            )
            .bind(&pending.ticket)
            .bind(pending.expires_at)
            .execute(&state.db.pool)
            .await;
            match claimed {
                Ok(done) if done.rows_affected() == 1 => Some(pending.created),
                Ok(_) => None,
                Err(err) => {
                    tracing::error!(error = %err, "could not claim a new-token ticket");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
        }
        None => None,
    };
    let options = state.leptos_options.clone();
    let secure_cookies = state.config.secure_cookies;
    let render = leptos_axum::render_app_async_with_context(
        {
            let options = options.clone();
            // What `leptos_routes` gives every page: the layout reads the
            // session through the app's state.
            move || {
                provide_context(state.clone());
                provide_context(options.clone());
                if let Some(secret) = shown.clone() {
                    provide_context(secret);
                }
            }
        },
        move || shell(options.clone()),
    );
    let mut response = render(request).await.into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie("", 0, secure_cookies));
    response
}

/// Forgets tickets whose cookies have expired anyway.
pub async fn prune_shown(db: &crate::server::db::Db) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM shown_secrets WHERE expires_at < $1")
        .bind(crate::server::db::now())
        .execute(&db.pool)
        .await?;
    Ok(())
}
