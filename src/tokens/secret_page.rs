//! The one-time secret page for browsers without JavaScript.
//!
//! With JavaScript, creating a token returns JSON and the copy dialog shows the
//! secret from memory. A plain form post to the same server function would be
//! answered with a redirect, losing the secret. This middleware turns that one
//! success into post/redirect/get: the answer is a `303` to `/tokens/new`,
//! carrying the new token in a cookie that is encrypted with a key of this
//! deployment (the browser, which is about to see the secret anyway, holds
//! only ciphertext), scoped to that one path and gone within two minutes. The
//! page shows it once: its ticket is claimed in the database by the first
//! request, on whichever instance, so a reload (or a replayed cookie) shows
//! "already shown" and never mints or reveals anything again.

use crate::account::RecoveryCodes;
use crate::apps::IssuedCredentials;
use crate::people::IssuedInvitation;
use crate::server::html::{escape, page};
use crate::server::security::request_cookie;
use crate::server::state::AppState;
use crate::tokens::CreatedToken;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The server functions whose answer carries a secret shown once.
const CREATE_PATH: &str = "/rpc/create_token";
const APP_SECRET_PATHS: [&str; 2] = ["/rpc/register_app", "/rpc/rotate_app_secret"];
const INVITATION_PATHS: [&str; 2] = ["/rpc/invite_person", "/rpc/invite_to_org"];
const RECOVERY_CODES_PATH: &str = "/rpc/confirm_two_factor";
/// Where the script-free secret page lives.
pub const SHOW_PATH: &str = "/tokens/new";
const COOKIE: &str = "latchkey_new_token";
const LIFETIME_SECS: i64 = 120;

/// What the cookie carries.
#[derive(Serialize, Deserialize)]
struct Pending {
    ticket: String,
    expires_at: i64,
    created: Secret,
}

/// The secret to show: a new token's, an OAuth application's credentials, or
/// an invitation link.
#[derive(Serialize, Deserialize)]
enum Secret {
    Token(Box<CreatedToken>),
    App(IssuedCredentials),
    Invitation(IssuedInvitation),
    RecoveryCodes(RecoveryCodes),
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

/// `GET /tokens/new`: the secret of the token just created, once.
pub async fn show_once(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let now = crate::server::db::now();
    let pending = request_cookie(&headers, COOKIE)
        .and_then(|value| state.new_token_key.open(value))
        .filter(|pending: &Pending| pending.expires_at > now);
    let first_showing = match &pending {
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
                Ok(done) => done.rows_affected() == 1,
                Err(err) => {
                    tracing::error!(error = %err, "could not claim a new-token ticket");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
        }
        None => false,
    };
    let html = match (&pending, first_showing) {
        (Some(pending), true) => match &pending.created {
            Secret::Token(created) => render(created),
            Secret::App(issued) => render_app(issued),
            Secret::Invitation(issued) => render_invitation(issued),
            Secret::RecoveryCodes(codes) => render_recovery_codes(codes),
        },
        _ => render_gone(),
    };
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self'"),
            ),
            (
                header::SET_COOKIE,
                cookie("", 0, state.config.secure_cookies),
            ),
        ],
        html,
    )
        .into_response()
}

/// Forgets tickets whose cookies have expired anyway.
pub async fn prune_shown(db: &crate::server::db::Db) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM shown_secrets WHERE expires_at < $1")
        .bind(crate::server::db::now())
        .execute(&db.pool)
        .await?;
    Ok(())
}

fn render_gone() -> String {
    page(
        "Already shown",
        r#"<section class="card narrow" aria-labelledby="gone-title">
<h1 id="gone-title">This token was already shown</h1>
<p>A new token's secret is shown once, right after it is created, and Latchkey keeps only a fingerprint of it. If you did not copy it, delete that token and create a new one.</p>
<p><a class="btn btn-primary" href="/profile/tokens">Your access tokens</a></p>
</section>"#,
    )
}

fn render(created: &CreatedToken) -> String {
    let name = escape(&created.token.name);
    let duplicate = if created.duplicate_name {
        "<p class=\"alert alert-warning\">You already had a token with this name. Give tokens distinct names to tell them apart later.</p>"
    } else {
        ""
    };
    page(
        "Your new access token",
        &format!(
            r#"<section class="card narrow" aria-labelledby="new-token-title">
<h1 id="new-token-title">Copy your new access token</h1>
<p>The token “{name}” is ready.</p>
<p class="alert alert-warning" role="alert"><strong>This is the only time it is shown.</strong> Copy it now and store it safely; Latchkey keeps only a fingerprint and cannot show it again.</p>
<div class="field">
<label for="new-token-secret">Access token</label>
<input id="new-token-secret" class="secret" type="text" readonly autocomplete="off" spellcheck="false" value="{secret}">
</div>
{duplicate}
<p><a class="btn btn-primary" href="{back}">Done, I have copied it</a></p>
</section>"#,
            secret = escape(&created.secret),
            back = escape(&created.scope.page()),
        ),
    )
}

fn render_app(issued: &IssuedCredentials) -> String {
    let secret = match &issued.client_secret {
        Some(secret) => format!(
            r#"<p class="alert alert-warning" role="alert"><strong>This is the only time the client secret is shown.</strong> Copy it into the application's configuration now; Latchkey keeps only a fingerprint.</p>
<div class="field">
<label for="new-app-secret">Client secret</label>
<input id="new-app-secret" class="secret" type="text" readonly autocomplete="off" spellcheck="false" value="{}">
</div>"#,
            escape(secret)
        ),
        None => "<p>A public client has no secret: it proves itself with PKCE on every authorization.</p>".to_string(),
    };
    page(
        "Your application's credentials",
        &format!(
            r#"<section class="card narrow" aria-labelledby="new-app-title">
<h1 id="new-app-title">{name} is ready</h1>
<div class="field">
<label for="new-app-client-id">Client ID</label>
<input id="new-app-client-id" type="text" readonly value="{client_id}">
</div>
{secret}
<p><a class="btn btn-primary" href="{back}">Done</a></p>
</section>"#,
            back = escape(&issued.manage_at),
            name = escape(&issued.name),
            client_id = escape(&issued.client_id),
        ),
    )
}

fn render_invitation(issued: &IssuedInvitation) -> String {
    page(
        "Invitation link",
        &format!(
            r#"<section class="card narrow" aria-labelledby="new-invitation-title">
<h1 id="new-invitation-title">Send this link to {email}</h1>
<p class="alert alert-warning" role="alert"><strong>This is the only time the link is shown.</strong> Whoever opens it can make the account, once, within 7 days. Send it to {email} privately; Latchkey keeps only a fingerprint.</p>
<div class="field">
<label for="new-invitation-link">Invitation link</label>
<input id="new-invitation-link" class="secret" type="text" readonly autocomplete="off" spellcheck="false" value="{link}">
</div>
<p><a class="btn btn-primary" href="{back}">Done, I have copied it</a></p>
</section>"#,
            email = escape(&issued.email),
            link = escape(&issued.link),
            back = escape(&issued.manage_at),
        ),
    )
}

fn render_recovery_codes(codes: &RecoveryCodes) -> String {
    let items: String = codes
        .codes
        .iter()
        .map(|code| format!("<li><code>{}</code></li>", escape(code)))
        .collect();
    page(
        "Your recovery codes",
        &format!(
            r#"<section class="card narrow" aria-labelledby="recovery-title">
<h1 id="recovery-title">Two-factor sign-in is on</h1>
<p class="alert alert-warning" role="alert"><strong>Save these recovery codes now: this is the only time they are shown.</strong> Each one signs you in once if you lose your device.</p>
<ul class="recovery-codes" aria-label="Recovery codes">{items}</ul>
<p><a class="btn btn-primary" href="{back}">Done, I have saved them</a></p>
</section>"#,
            back = escape(&codes.manage_at),
        ),
    )
}
