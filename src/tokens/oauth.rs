//! The OAuth 2.0 token endpoints other systems already know how to call:
//! introspection (RFC 7662) and revocation (RFC 7009).

use super::rest::Caller;
use crate::access::{self, Action};
use crate::error::AppError;
use crate::server::api_error::{ApiError, ErrorBody, Unauthenticated};
use crate::server::audit::Actor;
use crate::server::client::client_ip;
use crate::server::state::AppState;
use crate::tokens::lifecycle::{self, Introspection};
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use std::net::SocketAddr;

/// The form both endpoints take (`application/x-www-form-urlencoded`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// The token string asked about.
    pub token: String,
    /// Accepted and ignored: every Latchkey token is an access token.
    #[serde(default)]
    pub token_type_hint: Option<String>,
}

fn form<T>(body: Result<Form<T>, FormRejection>) -> Result<T, ApiError> {
    body.map(|Form(v)| v).map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            "unsupported_media_type"
        } else {
            "invalid_request"
        };
        ApiError::new(status, code, rejection.body_text())
    })
}

/// `POST /oauth/introspect`.
#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth",
    summary = "Token introspection (RFC 7662)",
    description = "For a resource server: a confidential OAuth client an instance admin allowed to introspect (Admin → Applications), with its client id and secret in HTTP Basic; it may ask about any token. Or for an active admin-role organization token (about tokens of its organization and its groups) or an instance admin's personal token (about any token; a token restricted to some organizations, about their tokens only), holding the scope `tokens:introspect`. An active answer's `scope` lists the token's scopes, space-separated; `organization`, `group`, `role` and `acts_in` say where it acts. Unknown, revoked, expired or foreign tokens get `{\"active\": false}` alone. Rate-limited per address (generously: `LATCHKEY_INTROSPECTION_RATE_*`).",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Success", body = Introspection), Unauthenticated, (status = 403, description = "The token lacks the role this needs, or the scope `tokens:introspect` (`insufficient_scope`)", body = ErrorBody), (status = 415, description = "The body is not a form", body = ErrorBody), (status = 422, description = "The form lacks `token`", body = ErrorBody)),
    security(("bearer" = []), ("apiToken" = []), ("clientBasic" = [])))]
pub async fn introspect(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Response, ApiError> {
    // A resource server authenticates with its client credentials; anyone
    // else with a token.
    let identity;
    let caller = match crate::apps::rest::basic_client(&headers) {
        Some(credentials) => {
            let server = match credentials {
                Some((id, secret)) => {
                    crate::apps::server::resource_server(&state.db, &id, &secret).await?
                }
                None => None,
            };
            if server.is_none() {
                return Ok(invalid_client());
            }
            access::Caller::ResourceServer
        }
        None => {
            identity = match super::rest::identify(&state, &headers, Some(peer)).await {
                Ok(identity) => identity,
                Err(response) => return Ok(response),
            };
            identity.caller()
        }
    };
    access::decide(caller, Action::Introspect).map_err(AppError::from)?;
    let request = form(body)?;
    let answer = match lifecycle::active_identity(&state.db, &request.token).await? {
        Some(target)
            if access::decide(
                caller,
                Action::IntrospectToken {
                    target_org: target.org_id,
                },
            )
            .is_ok() =>
        {
            lifecycle::introspection(&target)
        }
        _ => Introspection::inactive(),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}

/// 401 for client credentials that are wrong or not allowed to introspect.
fn invalid_client() -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Client authentication failed, or this client may not introspect tokens.".to_string(),
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static(r#"Basic realm="latchkey""#),
    );
    response
}

/// `POST /oauth/revoke`. Holding a secret is enough to revoke it, so the
/// request needs no other credentials; when it carries a token anyway, that
/// token must be valid and is named in the audit trail. Unknown and malformed
/// tokens get the same 200, as RFC 7009 asks.
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    summary = "Token revocation (RFC 7009)",
    description = "Revokes the token sent in the form: holding its secret is enough. A token in the Authorization header is optional; when sent it must be valid, and it is named in the audit trail. Answers 200 for unknown tokens too. Rate-limited per address.",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or nothing to revoke"), Unauthenticated, (status = 415, description = "The body is not a form", body = ErrorBody), (status = 422, description = "The form lacks `token`", body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Response, ApiError> {
    let caller = if super::rest::presented_token(&headers).is_some() {
        match super::rest::identify(&state, &headers, Some(peer)).await {
            Ok(identity) => Some(Caller(identity)),
            Err(response) => return Ok(response),
        }
    } else {
        None
    };
    let request = form(body)?;
    let label = match &caller {
        Some(caller) => caller.actor_label(),
        None => "holder of the token (revocation request)".to_string(),
    };
    let actor = Actor {
        user_id: caller.as_ref().map(|c| c.0.user_id),
        label: &label,
        ip: client_ip(&headers, Some(peer), &state.config.trusted_proxies).map(|ip| ip.to_string()),
    };
    lifecycle::revoke_by_secret(&state.db, &actor, &request.token).await?;
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response())
}
