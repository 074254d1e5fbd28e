//! The token-authenticated JSON API under /api/v1.

use super::security::client_ip;
use super::state::AppState;
use crate::error::AppError;
use crate::tokens::server::{authenticate, TokenIdentity, TokenRejection};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// The token from `Authorization: Bearer …` or, for tools that cannot set
/// that header, `apiToken: …`.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    bearer.or_else(|| {
        headers
            .get("apitoken")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    })
}

/// 401 as RFC 6750 describes it: no error code when no token was sent,
/// `invalid_token` otherwise, and the same words for every kind of bad token.
fn unauthorized(rejection: TokenRejection) -> Response {
    let (challenge, code, message) = match rejection {
        TokenRejection::Missing => (
            r#"Bearer realm="latchkey""#,
            "unauthenticated",
            "Send an access token in the Authorization: Bearer header or the apiToken header.",
        ),
        _ => (
            r#"Bearer realm="latchkey", error="invalid_token""#,
            "invalid_token",
            "The access token is malformed, unknown, disabled or expired.",
        ),
    };
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        )],
        Json(json!({ "error": code, "message": message })),
    )
        .into_response()
}

fn internal(err: AppError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        Json(json!({ "error": err.code(), "message": err.to_string() })),
    )
        .into_response()
}

async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<TokenIdentity, Response> {
    let ip = client_ip(headers, peer, state.config.trust_proxy).map(|ip| ip.to_string());
    match authenticate(&state.db, &state.usage, presented_token(headers), ip).await {
        Ok(Ok(identity)) => Ok(identity),
        Ok(Err(rejection)) => Err(unauthorized(rejection)),
        Err(err) => Err(internal(err)),
    }
}

fn rfc3339(ts: Option<i64>) -> Value {
    ts.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::String)
}

/// Who the token acts as, the token itself, and the organizations and groups
/// (with roles) it reaches — always the acting user's current memberships.
pub async fn whoami(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let identity = match identify(&state, &headers, Some(peer)).await {
        Ok(identity) => identity,
        Err(response) => return response,
    };
    match memberships(&state, identity.user_id).await {
        Ok(organizations) => Json(json!({
            "acts_as": {
                "id": identity.user_id,
                "display_name": identity.display_name,
                "email": identity.email,
                "kind": identity.user_kind,
            },
            "token": {
                "id": identity.token_id,
                "name": identity.token_name,
                "kind": identity.kind,
                "expires_at": rfc3339(identity.expires_at),
            },
            "organizations": organizations,
        }))
        .into_response(),
        Err(err) => internal(err),
    }
}

async fn memberships(state: &AppState, user_id: i64) -> Result<Vec<Value>, AppError> {
    let orgs: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT o.id, o.slug, o.name, m.role FROM organizations o \
         JOIN org_memberships m ON m.org_id = o.id WHERE m.user_id = $1 ORDER BY o.slug",
    )
    .bind(user_id)
    .fetch_all(&state.db.pool)
    .await?;
    let groups: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT g.org_id, g.slug, g.name, gm.role FROM groups g \
         JOIN group_memberships gm ON gm.group_id = g.id WHERE gm.user_id = $1 ORDER BY g.slug",
    )
    .bind(user_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(orgs
        .into_iter()
        .map(|(id, slug, name, role)| {
            let groups: Vec<Value> = groups
                .iter()
                .filter(|(org_id, ..)| *org_id == id)
                .map(|(_, slug, name, role)| json!({ "slug": slug, "name": name, "role": role }))
                .collect();
            json!({ "slug": slug, "name": name, "role": role, "groups": groups })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::presented_token;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn token_comes_from_bearer_or_api_token_header() {
        assert_eq!(
            presented_token(&headers(&[("authorization", "Bearer abc")])),
            Some("abc")
        );
        assert_eq!(
            presented_token(&headers(&[("authorization", "bearer  abc ")])),
            Some("abc")
        );
        assert_eq!(
            presented_token(&headers(&[("apitoken", "xyz")])),
            Some("xyz")
        );
        assert_eq!(
            presented_token(&headers(&[("authorization", "Basic Zm9v")])),
            None
        );
        assert_eq!(presented_token(&headers(&[])), None);
    }
}
