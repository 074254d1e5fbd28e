//! The token-authenticated JSON API under /api/v1.

use super::audit::Actor;
use super::db::Db;
use super::security::client_ip;
use super::state::AppState;
use crate::domain::Role;
use crate::error::AppError;
use crate::orgs::{self, GroupSummary, Member};
use crate::tokens::secret::TokenKind;
use crate::tokens::server::{
    authenticate, NewToken, OrgMembership, Owner, TokenIdentity, TokenRejection,
};
use crate::tokens::{self, TokenScope, TokenSummary};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

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
    ApiError(err).into_response()
}

/// Any failure of an API route: its status and `{"error", "message"}`. A
/// refusal for lack of rights names the RFC 6750 `insufficient_scope` error.
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        ApiError(err)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match &err {
            AppError::Forbidden => {
                "This access token does not have the role this needs.".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(json!({ "error": err.code(), "message": message })),
        )
            .into_response();
        if status == StatusCode::FORBIDDEN {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="latchkey", error="insufficient_scope""#),
            );
        }
        response
    }
}

/// The checked token behind a request; extracting it answers 401 by itself.
pub struct Caller(pub Arc<TokenIdentity>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        identify(state, &parts.headers, peer).await.map(Caller)
    }
}

impl Caller {
    /// How the audit trail names whoever acted with this token.
    fn actor_label(&self) -> String {
        let identity = &self.0;
        match identity.email.as_deref() {
            Some(email) => format!("{email} (token \u{201c}{}\u{201d})", identity.token_name),
            None => format!("token \u{201c}{}\u{201d}", identity.token_name),
        }
    }

    fn actor<'a>(
        &self,
        label: &'a str,
        peer: SocketAddr,
        headers: &HeaderMap,
        state: &AppState,
    ) -> Actor<'a> {
        Actor {
            user_id: Some(self.0.user_id),
            label,
            ip: client_ip(headers, Some(peer), state.config.trust_proxy).map(|ip| ip.to_string()),
        }
    }

    /// The organization called `slug` if this token reaches it at all; 404
    /// otherwise, exactly as for one that does not exist.
    fn org(&self, slug: &str) -> Result<&OrgMembership, AppError> {
        self.0
            .org(slug)
            .ok_or_else(|| AppError::not_found("Organization"))
    }

    /// An organization whose member and group lists this token may read: it
    /// acts as a member of it (any role).
    fn org_reader(&self, slug: &str) -> Result<&OrgMembership, AppError> {
        let org = self.org(slug)?;
        if org.role.is_none() {
            return Err(AppError::Forbidden);
        }
        Ok(org)
    }

    /// The organization's tokens, when this is an admin-role token of it.
    fn org_token_manager(&self, slug: &str) -> Result<Owner, AppError> {
        let org = self.org(slug)?;
        if self.0.is_kind(TokenKind::Organization)
            && self.0.org_id == Some(org.id)
            && org.role == Some(Role::Admin)
        {
            Ok(Owner::Organization { org_id: org.id })
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// A group's tokens, when this is an admin-role token of that group or of
    /// its organization.
    async fn group_token_manager(
        &self,
        db: &Db,
        org_slug: &str,
        group_slug: &str,
    ) -> Result<Owner, AppError> {
        let org = self.org(org_slug)?;
        if self.0.is_kind(TokenKind::Organization) && org.role == Some(Role::Admin) {
            let group_id = group_in_org(db, org.id, group_slug).await?;
            return Ok(Owner::Group {
                org_id: org.id,
                group_id,
            });
        }
        match org.groups.iter().find(|g| g.slug == group_slug) {
            Some(group)
                if self.0.is_kind(TokenKind::Group)
                    && self.0.group_id == Some(group.id)
                    && group.role == Role::Admin =>
            {
                Ok(Owner::Group {
                    org_id: org.id,
                    group_id: group.id,
                })
            }
            Some(_) => Err(AppError::Forbidden),
            // A member of the organization may know its groups exist.
            None if org.role.is_some() => {
                group_in_org(db, org.id, group_slug).await?;
                Err(AppError::Forbidden)
            }
            None => Err(AppError::not_found("Group")),
        }
    }
}

async fn group_in_org(db: &Db, org_id: i64, slug: &str) -> Result<i64, AppError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM groups WHERE org_id = $1 AND slug = $2")
            .bind(org_id)
            .bind(slug)
            .fetch_optional(&db.pool)
            .await?;
    row.map(|(id,)| id)
        .ok_or_else(|| AppError::not_found("Group"))
}

async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Arc<TokenIdentity>, Response> {
    let ip = client_ip(headers, peer, state.config.trust_proxy);
    match authenticate(&state.db, &state.usage, presented_token(headers), ip).await {
        Ok(Ok(identity)) => Ok(identity),
        Ok(Err(rejection)) => Err(unauthorized(rejection)),
        Err(err) => Err(internal(err)),
    }
}

fn rfc3339(ts: Option<i64>) -> Option<String> {
    ts.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
}

#[derive(Serialize)]
struct WhoAmI<'a> {
    acts_as: ActingUser<'a>,
    token: TokenInfo<'a>,
    organizations: Vec<OrgInfo<'a>>,
}

#[derive(Serialize)]
struct ActingUser<'a> {
    id: i64,
    display_name: &'a str,
    email: Option<&'a str>,
    kind: &'a str,
}

#[derive(Serialize)]
struct TokenInfo<'a> {
    id: i64,
    name: &'a str,
    kind: &'a str,
    expires_at: Option<String>,
}

#[derive(Serialize)]
struct OrgInfo<'a> {
    slug: &'a str,
    name: &'a str,
    /// None when the token reaches the organization only through a group.
    role: Option<Role>,
    groups: Vec<GroupInfo<'a>>,
}

#[derive(Serialize)]
struct GroupInfo<'a> {
    slug: &'a str,
    name: &'a str,
    role: Role,
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
    Json(WhoAmI {
        acts_as: ActingUser {
            id: identity.user_id,
            display_name: &identity.display_name,
            email: identity.email.as_deref(),
            kind: &identity.user_kind,
        },
        token: TokenInfo {
            id: identity.token_id,
            name: &identity.token_name,
            kind: &identity.kind,
            expires_at: rfc3339(identity.expires_at),
        },
        organizations: identity
            .organizations
            .iter()
            .map(|org| OrgInfo {
                slug: &org.slug,
                name: &org.name,
                role: org.role,
                groups: org
                    .groups
                    .iter()
                    .map(|g| GroupInfo {
                        slug: &g.slug,
                        name: &g.name,
                        role: g.role,
                    })
                    .collect(),
            })
            .collect(),
    })
    .into_response()
}

/// Members of an organization the token acts in (any role).
pub async fn org_members(
    caller: Caller,
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let org = caller.org_reader(&org)?;
    Ok(Json(
        orgs::server::list_org_members(&state.db, org.id).await?,
    ))
}

/// Groups of an organization the token acts in (any role).
pub async fn org_groups(
    caller: Caller,
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Json<Vec<GroupSummary>>, ApiError> {
    let org = caller.org_reader(&org)?;
    Ok(Json(orgs::server::list_groups(&state.db, org.id).await?))
}

/// Members of a group: for tokens acting in its organization, and for tokens
/// acting in that group.
pub async fn group_members(
    caller: Caller,
    State(state): State<AppState>,
    Path((org, group)): Path<(String, String)>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let membership = caller.org(&org)?;
    let group_id = if membership.role.is_some() {
        group_in_org(&state.db, membership.id, &group).await?
    } else {
        membership
            .groups
            .iter()
            .find(|g| g.slug == group)
            .map(|g| g.id)
            .ok_or_else(|| AppError::not_found("Group"))?
    };
    Ok(Json(
        orgs::server::list_group_members(&state.db, group_id).await?,
    ))
}

/// The body of a token creation: the same fields as the dialog.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    /// A preset (`30m`, `6h`, `7d`, `30d`, `90d`, `never`) or `custom`.
    pub expiry: String,
    /// With `custom`: `YYYY-MM-DDTHH:MM` in UTC.
    #[serde(default)]
    pub custom_expiry: String,
    /// Give the token the admin role of its organization or group.
    #[serde(default)]
    pub admin: bool,
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v)
        .map_err(|rejection| ApiError(AppError::BadRequest(rejection.body_text())))
}

async fn list_owned(state: &AppState, owner: Owner) -> Result<Json<Vec<TokenSummary>>, ApiError> {
    Ok(Json(tokens::server::list(&state.db, owner).await?))
}

async fn create_owned(
    state: &AppState,
    actor: &Actor<'_>,
    owner: Owner,
    scope: TokenScope,
    body: CreateTokenRequest,
) -> Result<Response, ApiError> {
    let policy =
        tokens::server::creation_policy(&state.db, owner, state.config.expiry_policy()).await?;
    let created = tokens::server::create(
        &state.db,
        actor,
        owner,
        scope,
        NewToken {
            name: &body.name,
            expiry: &body.expiry,
            custom_expiry: &body.custom_expiry,
            admin: body.admin,
        },
        &policy,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// What a status change does, from the last path segment.
fn enabling(action: &str) -> Result<bool, AppError> {
    match action {
        "reactivate" => Ok(true),
        "revoke" => Ok(false),
        _ => Err(AppError::not_found("Route")),
    }
}

pub async fn list_org_tokens(
    caller: Caller,
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Json<Vec<TokenSummary>>, ApiError> {
    list_owned(&state, caller.org_token_manager(&org)?).await
}

pub async fn create_org_token(
    caller: Caller,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(org): Path<String>,
    body: Result<Json<CreateTokenRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let owner = caller.org_token_manager(&org)?;
    let body = json_body(body)?;
    let label = caller.actor_label();
    let actor = caller.actor(&label, peer, &headers, &state);
    create_owned(
        &state,
        &actor,
        owner,
        TokenScope::Organization { org },
        body,
    )
    .await
}

pub async fn change_org_token(
    caller: Caller,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((org, token_id, action)): Path<(String, i64, String)>,
) -> Result<Json<TokenSummary>, ApiError> {
    let owner = caller.org_token_manager(&org)?;
    let enabled = enabling(&action)?;
    let label = caller.actor_label();
    let actor = caller.actor(&label, peer, &headers, &state);
    Ok(Json(
        tokens::server::set_enabled(&state.db, &actor, owner, token_id, enabled).await?,
    ))
}

pub async fn delete_org_token(
    caller: Caller,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((org, token_id)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let owner = caller.org_token_manager(&org)?;
    let label = caller.actor_label();
    let actor = caller.actor(&label, peer, &headers, &state);
    tokens::server::delete(&state.db, &actor, owner, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_group_tokens(
    caller: Caller,
    State(state): State<AppState>,
    Path((org, group)): Path<(String, String)>,
) -> Result<Json<Vec<TokenSummary>>, ApiError> {
    let owner = caller.group_token_manager(&state.db, &org, &group).await?;
    list_owned(&state, owner).await
}

pub async fn create_group_token(
    caller: Caller,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((org, group)): Path<(String, String)>,
    body: Result<Json<CreateTokenRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let owner = caller.group_token_manager(&state.db, &org, &group).await?;
    let body = json_body(body)?;
    let label = caller.actor_label();
    let actor = caller.actor(&label, peer, &headers, &state);
    create_owned(
        &state,
        &actor,
        owner,
        TokenScope::Group { org, group },
        body,
    )
    .await
}

pub async fn change_group_token(
    caller: Caller,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((org, group, token_id, action)): Path<(String, String, i64, String)>,
) -> Result<Json<TokenSummary>, ApiError> {
    let owner = caller.group_token_manager(&state.db, &org, &group).await?;
    let enabled = enabling(&action)?;
    let label = caller.actor_label();
    let actor = caller.actor(&label, peer, &headers, &state);
    Ok(Json(
        tokens::server::set_enabled(&state.db, &actor, owner, token_id, enabled).await?,
    ))
}

pub async fn delete_group_token(
    caller: Caller,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((org, group, token_id)): Path<(String, String, i64)>,
) -> Result<StatusCode, ApiError> {
    let owner = caller.group_token_manager(&state.db, &org, &group).await?;
    let label = caller.actor_label();
    let actor = caller.actor(&label, peer, &headers, &state);
    tokens::server::delete(&state.db, &actor, owner, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
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
