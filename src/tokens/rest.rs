//! The token-authenticated JSON API under /api/v1.

use crate::access::{self, Action, GroupStanding, Standing, TokensOf};
use crate::domain::Role;
use crate::error::AppError;
use crate::server::api_error::{
    ApiError, ApiPath, ErrorBody, JsonBodyRefusals, PolicyRefusal, TokenRefusals, Unauthenticated,
};
use crate::server::audit::Actor;
use crate::server::client::client_ip;
use crate::server::db::Db;
use crate::server::rate_limit;
use crate::server::state::AppState;
use crate::tokens::server::{
    authenticate, CreatorToken, NewToken, Owner, TokenIdentity, TokenRejection,
};
use crate::tokens::{self, lifecycle, CreatedToken, TokenScope, TokenSummary};
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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
pub fn unauthorized(rejection: TokenRejection) -> Response {
    let (challenge, code, message) = match rejection {
        TokenRejection::Missing => (
            r#"Bearer realm="latchkey""#,
            "unauthenticated",
            "Send an access token in the Authorization: Bearer header or the apiToken header."
                .to_string(),
        ),
        // The caller holds a valid secret: saying why helps them, and tells
        // them nothing about the token they did not know.
        TokenRejection::AddressNotAllowed(ip) => (
            r#"Bearer realm="latchkey", error="invalid_token""#,
            "invalid_token",
            match ip {
                Some(ip) => format!("This access token may not be used from {ip}."),
                None => "This access token may only be used from the addresses it allows.".into(),
            },
        ),
        _ => (
            r#"Bearer realm="latchkey", error="invalid_token""#,
            "invalid_token",
            "The access token is malformed, unknown, revoked or expired.".to_string(),
        ),
    };
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
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

/// The caller of a route that changes something, with what the audit trail
/// records of them: a label naming the token, and the client's address.
pub struct AuditedCaller {
    caller: Caller,
    label: String,
    ip: Option<String>,
}

impl FromRequestParts<AppState> for AuditedCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let ip =
            client_ip(&parts.headers, peer, &state.config.trusted_proxies).map(|ip| ip.to_string());
        Ok(AuditedCaller {
            label: caller.actor_label(),
            caller,
            ip,
        })
    }
}

impl AuditedCaller {
    fn actor(&self) -> Actor<'_> {
        Actor {
            user_id: Some(self.caller.0.user_id),
            label: &self.label,
            ip: self.ip.clone(),
        }
    }
}

impl std::ops::Deref for AuditedCaller {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl Caller {
    /// How the audit trail names whoever acted with this token.
    pub(crate) fn actor_label(&self) -> String {
        let identity = &self.0;
        match identity.email.as_deref() {
            Some(email) => format!("{email} (token \u{201c}{}\u{201d})", identity.token_name),
            None => format!("token \u{201c}{}\u{201d}", identity.token_name),
        }
    }

    /// The organization whose members and groups the token may read.
    pub(crate) fn org_reader(&self, slug: &str) -> Result<i64, AppError> {
        let standing = self.org_standing(slug);
        self.may(Action::ReadOrg(standing))?;
        standing.map(|s| s.org_id).ok_or(AppError::Internal)
    }

    /// Asks the access module; a denial becomes the API's answer.
    pub(crate) fn may(&self, action: Action) -> Result<(), AppError> {
        access::decide(self.0.caller(), action).map_err(AppError::from)
    }

    /// The token's standing in the organization called `slug`; none when it
    /// does not reach it (not a member, or outside its restriction).
    fn org_standing(&self, slug: &str) -> Option<Standing> {
        self.0.org(slug).map(|org| Standing {
            org_id: org.id,
            org_role: org.role,
            group: None,
        })
    }

    /// The token's standing in a group of an organization it reaches; the
    /// access module decides what the group's existence may reveal.
    pub(crate) async fn group_standing(
        &self,
        db: &Db,
        org_slug: &str,
        group_slug: &str,
    ) -> Result<Option<Standing>, AppError> {
        let Some(org) = self.0.org(org_slug) else {
            return Ok(None);
        };
        let group_id = group_in_org(db, org.id, group_slug).await?;
        Ok(Some(Standing {
            org_id: org.id,
            org_role: org.role,
            group: group_id.map(|group_id| GroupStanding {
                group_id,
                role: org.groups.iter().find(|g| g.id == group_id).map(|g| g.role),
            }),
        }))
    }

    /// The organization's or group's tokens, if this token may manage them.
    async fn token_owner(&self, db: &Db, place: &TokenScope) -> Result<Owner, AppError> {
        match place {
            TokenScope::Personal => {
                self.may(Action::ManageTokens(TokensOf::OwnPersonal))?;
                Ok(Owner::Personal {
                    user_id: self.0.user_id,
                })
            }
            TokenScope::Organization { org } => {
                let standing = self.org_standing(org);
                self.may(Action::ManageTokens(TokensOf::Organization(standing)))?;
                let org_id = standing.map(|s| s.org_id).ok_or(AppError::Internal)?;
                Ok(Owner::Organization { org_id })
            }
            TokenScope::Group { org, group } => {
                let standing = self.group_standing(db, org, group).await?;
                self.may(Action::ManageTokens(TokensOf::Group(standing)))?;
                match standing {
                    Some(Standing {
                        org_id,
                        group: Some(group),
                        ..
                    }) => Ok(Owner::Group {
                        org_id,
                        group_id: group.group_id,
                    }),
                    _ => Err(AppError::Internal),
                }
            }
        }
    }
}

async fn group_in_org(db: &Db, org_id: i64, slug: &str) -> Result<Option<i64>, AppError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM groups WHERE org_id = $1 AND slug = $2")
            .bind(org_id)
            .bind(slug)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(id,)| id))
}

/// Checks the request's token.
pub(crate) async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Arc<TokenIdentity>, Response> {
    let ip = client_ip(headers, peer, &state.config.trusted_proxies);
    // An address that spent its allowance of refused tokens waits before any
    // token it sends is looked up.
    if let Some(wait) = state
        .failed_tokens
        .as_ref()
        .and_then(|limits| limits.refused_for(ip))
    {
        return Err(rate_limit::too_many_requests(
            wait,
            "Too many refused access tokens",
        ));
    }
    match authenticate(&state.db, &state.token_checks, presented_token(headers), ip).await {
        Ok(Ok(identity)) => Ok(identity),
        Ok(Err(rejection)) => {
            if rejection != TokenRejection::Missing {
                if let Some(limits) = &state.failed_tokens {
                    limits.note_refusal(ip);
                }
            }
            Err(unauthorized(rejection))
        }
        Err(err) => Err(ApiError::from(err).into_response()),
    }
}

fn rfc3339(ts: Option<i64>) -> Option<String> {
    ts.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WhoAmI<'a> {
    acts_as: ActingUser<'a>,
    token: TokenInfo<'a>,
    organizations: Vec<OrgInfo<'a>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ActingUser<'a> {
    id: i64,
    display_name: &'a str,
    email: Option<&'a str>,
    kind: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenInfo<'a> {
    id: i64,
    /// The token's name; for an OAuth access token, the application's.
    name: &'a str,
    /// `personal`, `organization`, `group`, or `oauth` (held by an application).
    kind: &'a str,
    /// What the token may do.
    #[schema(example = json!(["identity:read", "orgs:read"]))]
    scopes: Vec<&'a str>,
    expires_at: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgInfo<'a> {
    slug: &'a str,
    name: &'a str,
    /// None when the token reaches the organization only through a group.
    role: Option<Role>,
    groups: Vec<GroupInfo<'a>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupInfo<'a> {
    slug: &'a str,
    name: &'a str,
    role: Role,
}

/// Who the token acts as, the token itself, and the organizations and groups
/// (with roles) it reaches — always the acting user's current memberships.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "tokens",
    summary = "Who the calling token acts as",
    description = "The acting user, the token, and the organizations and groups (with roles) the token reaches: always the acting user's current memberships.",
    responses((status = 200, description = "Success", body = WhoAmI), Unauthenticated, (status = 403, description = "The token lacks the scope `identity:read` (`insufficient_scope`)", body = ErrorBody)),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn whoami(caller: Caller) -> Response {
    if let Err(denied) = caller.may(Action::ReadIdentity) {
        return ApiError::from(denied).into_response();
    }
    let identity = caller.0;
    // The answer is the same on every call with one cached identity, and this
    // is the route integrations poll: serialise it once, then hand out the
    // shared bytes.
    let body = match identity.whoami_json.get() {
        Some(body) => body.clone(),
        None => match serde_json::to_vec(&WhoAmI::of(&identity)) {
            Ok(json) => identity.whoami_json.get_or_init(|| json.into()).clone(),
            Err(err) => {
                tracing::error!("whoami answer could not be serialised: {err}");
                return ApiError::from(AppError::Internal).into_response();
            }
        },
    };
    let mut response = Response::new(axum::body::Body::from(body));
    // Room for the headers every API answer gets on its way out (the
    // security headers and `no-store`), so the map is allocated once.
    *response.headers_mut() = HeaderMap::with_capacity(8);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl<'a> WhoAmI<'a> {
    fn of(identity: &'a TokenIdentity) -> Self {
        WhoAmI {
            acts_as: ActingUser {
                id: identity.user_id,
                display_name: &identity.display_name,
                email: identity.email.as_deref(),
                kind: &identity.user_kind,
            },
            token: TokenInfo {
                id: identity.token_id,
                name: &identity.token_name,
                kind: identity.kind.name(),
                scopes: identity.grant.scopes.iter().collect(),
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
        }
    }
}

/// The body of a token creation: the same fields as the dialog.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
    /// Scope names. Left out: the calling token's own scopes that apply to
    /// the new token; never more than the calling token holds.
    #[serde(default)]
    #[schema(example = json!(["identity:read", "orgs:read"]))]
    pub scopes: Vec<String>,
    /// Addresses or CIDR networks (IPv4 or IPv6, at most 10) the new token
    /// may be used from; left out or empty: anywhere.
    #[serde(default)]
    #[schema(example = json!(["203.0.113.7", "10.0.0.0/8"]))]
    pub allowed_ips: Vec<String>,
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(ApiError::from)
}

/// What a status change does, from the last path segment.
fn enabling(action: &str) -> Result<bool, AppError> {
    match action {
        "reactivate" => Ok(true),
        "revoke" => Ok(false),
        _ => Err(AppError::not_found("Route")),
    }
}

/// Where a token route is mounted: `/api/v1/orgs/{org}/tokens…` for an
/// organization's tokens, `/api/v1/orgs/{org}/groups/{group}/tokens…` for a
/// group's. One handler set serves both; the address says whose tokens.
pub struct TokensPath {
    place: TokenScope,
    token_id: Option<i64>,
    action: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for TokensPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiPath(mut params): ApiPath<HashMap<String, String>> =
            ApiPath::from_request_parts(parts, state).await?;
        let org = params.remove("org").unwrap_or_default();
        let place = match params.remove("group") {
            Some(group) => TokenScope::Group { org, group },
            None => TokenScope::Organization { org },
        };
        let token_id = match params.remove("token_id") {
            Some(raw) => Some(raw.parse().map_err(|_| ApiError::unknown_id())?),
            None => None,
        };
        Ok(TokensPath {
            place,
            token_id,
            action: params.remove("action"),
        })
    }
}

/// The token routes, nested under an organization's or a group's address.
pub fn token_routes() -> axum::Router<AppState> {
    use axum::routing::{delete, get, post};
    axum::Router::new()
        .route("/", get(list_tokens).post(create_token))
        .route("/{token_id}", delete(delete_token))
        .route("/{token_id}/{action}", post(change_token))
}

impl TokensPath {
    fn token_id(&self) -> Result<i64, AppError> {
        self.token_id.ok_or_else(|| AppError::not_found("Route"))
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/tokens", tag = "organization tokens",
    operation_id = "list_org_tokens",
    summary = "List an organization's tokens",
    description = "Only with an admin-role organization token of that organization holding `tokens:manage`.",
    params(("org" = String, Path, description = "The organization's slug")),
    responses((status = 200, description = "Success", body = Vec<TokenSummary>), TokenRefusals),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn list_tokens(
    caller: Caller,
    State(state): State<AppState>,
    path: TokensPath,
) -> Result<Json<Vec<TokenSummary>>, ApiError> {
    let owner = caller.token_owner(&state.db, &path.place).await?;
    Ok(Json(tokens::server::list(&state.db, owner).await?))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/tokens", tag = "organization tokens",
    operation_id = "create_org_token",
    summary = "Create an organization token",
    description = "Only with an admin-role organization token of that organization holding `tokens:manage`. The new token gets the scopes asked for (by default the calling token's own that apply), never more than the calling token holds; it expires no later than the calling token (a calling token that expires cannot create one that never does), and it records which token created it. The secret is in this answer and nowhere else, ever.",
    params(("org" = String, Path, description = "The organization's slug")), request_body = CreateTokenRequest,
    responses((status = 201, description = "Created; the secret is in this answer and nowhere else", body = CreatedToken), JsonBodyRefusals, TokenRefusals, PolicyRefusal),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn create_token(
    caller: AuditedCaller,
    State(state): State<AppState>,
    path: TokensPath,
    body: Result<Json<CreateTokenRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let owner = caller.token_owner(&state.db, &path.place).await?;
    let body = json_body(body)?;
    let actor = caller.actor();
    let identity = &caller.0;
    let policy =
        tokens::server::creation_policy(&state.db, owner, state.config.expiry_policy()).await?;
    let created = tokens::server::create(
        &state.db,
        &actor,
        owner,
        path.place,
        NewToken {
            name: &body.name,
            expiry: &body.expiry,
            custom_expiry: &body.custom_expiry,
            admin: body.admin,
            creator: Some(CreatorToken {
                id: identity.token_id,
                name: &identity.token_name,
                expires_at: identity.expires_at,
                scopes: &identity.grant.scopes,
            }),
            scopes: &body.scopes,
            acts_in: None,
            allowed_ips: &body.allowed_ips.join(" "),
        },
        &policy,
    )
    .await?;
    // The secret is in this answer: no cache may keep it (RFC 6749 §5.1).
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(created),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/tokens/{token_id}/{action}", tag = "organization tokens",
    operation_id = "change_org_token",
    summary = "Revoke or reactivate an organization token",
    description = "A revoked token is refused at once; reactivating brings it back unless it has expired.",
    params(("org" = String, Path, description = "The organization's slug"), ("token_id" = i64, Path, description = "The token's id"), ("action" = String, Path, description = "`revoke` or `reactivate`")),
    responses((status = 200, description = "Success", body = TokenSummary), TokenRefusals, PolicyRefusal),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn change_token(
    caller: AuditedCaller,
    State(state): State<AppState>,
    path: TokensPath,
) -> Result<Json<TokenSummary>, ApiError> {
    let owner = caller.token_owner(&state.db, &path.place).await?;
    let enabled = enabling(path.action.as_deref().unwrap_or_default())?;
    let actor = caller.actor();
    Ok(Json(
        tokens::server::set_enabled(&state.db, &actor, owner, path.token_id()?, enabled).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/tokens/{token_id}", tag = "organization tokens",
    operation_id = "delete_org_token",
    summary = "Delete an organization token",
    description = "For good, with its technical user.",
    params(("org" = String, Path, description = "The organization's slug"), ("token_id" = i64, Path, description = "The token's id")),
    responses((status = 204, description = "Deleted"), TokenRefusals),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn delete_token(
    caller: AuditedCaller,
    State(state): State<AppState>,
    path: TokensPath,
) -> Result<StatusCode, ApiError> {
    let owner = caller.token_owner(&state.db, &path.place).await?;
    let actor = caller.actor();
    tokens::server::delete(&state.db, &actor, owner, path.token_id()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/tokens/self`: the calling token as its owner's list shows it.
#[utoipa::path(get, path = "/api/v1/tokens/self", tag = "tokens",
    summary = "The calling token itself",
    responses((status = 200, description = "Success", body = TokenSummary), Unauthenticated, (status = 403, description = "The token lacks the scope `identity:read` (`insufficient_scope`)", body = ErrorBody)),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn token_self(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<TokenSummary>, ApiError> {
    caller.may(Action::ReadIdentity)?;
    Ok(Json(lifecycle::describe_self(&state.db, &caller.0).await?))
}

/// `DELETE /api/v1/tokens/self`: the calling token revokes itself.
#[utoipa::path(delete, path = "/api/v1/tokens/self", tag = "tokens",
    summary = "Revoke the calling token",
    description = "The token is refused from now on; its owner can reactivate it.",
    responses((status = 204, description = "Revoked"), Unauthenticated),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn revoke_token_self(
    caller: AuditedCaller,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    caller.may(Action::RevokeSelf)?;
    let actor = caller.actor();
    lifecycle::revoke_self(&state.db, &actor, &caller.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of a rotation; it may be left out altogether.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old secret keeps working, 0 to 86400 seconds; 0 (the
    /// default) ends it at once.
    #[serde(default)]
    pub grace_seconds: i64,
}

/// A rotation's answer: the new token and its secret, shown this once.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RotatedToken {
    pub token: TokenSummary,
    pub secret: String,
    pub previous_token_id: i64,
    /// When the old secret stops working (Unix seconds).
    pub previous_expires_at: i64,
}

/// A JSON body that may be absent: no body means the defaults; anything sent
/// must be JSON.
fn optional_json<T: serde::de::DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("application/json") || v.to_ascii_lowercase().ends_with("+json")
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with Content-Type: application/json.",
        ));
    }
    serde_json::from_slice(body).map_err(|err| {
        let status = if err.is_data() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        let code = if err.is_data() {
            "invalid_input"
        } else {
            "bad_request"
        };
        ApiError::new(status, code, format!("The JSON body is not valid: {err}"))
    })
}

/// `POST /api/v1/tokens/self/rotate`: a new secret for this token; the old one
/// keeps working for the grace period asked for.
#[utoipa::path(post, path = "/api/v1/tokens/self/rotate", tag = "tokens",
    summary = "Rotate the calling token",
    description = "Returns a new secret for the same owner, name, role, scopes, organization restriction and address allowlist, expiring when the old token would have: rotating never lengthens a token's life, so a leaked token cannot keep itself alive. The old secret keeps working for `grace_seconds` (0 to 86400, default 0), so an integration can switch without downtime. Only the newest token of a rotation chain may rotate, and a token revoked, reported leaked or deleted meanwhile (through any instance) gets 401 and no successor. Revoking a rotated token later also revokes what it was rotated into; to end the old secret's grace early, delete it. The body may be left out.",
    request_body(content = Option<RotateRequest>, content_type = "application/json"),
    responses((status = 201, description = "Rotated; the new secret is in this answer and nowhere else", body = RotatedToken), JsonBodyRefusals, Unauthenticated, (status = 403, description = "The token lacks the scope `self:rotate` (`insufficient_scope`)", body = ErrorBody), PolicyRefusal),
    security(("bearer" = []), ("apiToken" = [])))]
pub async fn rotate_token_self(
    caller: AuditedCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.may(Action::RotateSelf)?;
    let request: RotateRequest = optional_json(&headers, &body)?;
    let identity = &caller.0;
    let owner = Owner::of_token(identity.user_id, identity.org_id, identity.group_id);
    let policy =
        tokens::server::creation_policy(&state.db, owner, state.config.expiry_policy()).await?;
    let actor = caller.actor();
    let Some(rotated) =
        lifecycle::rotate(&state.db, &actor, identity, request.grace_seconds, &policy).await?
    else {
        // Revoked, reported leaked, deleted, replaced or expired since this
        // instance last checked it.
        return Ok(unauthorized(TokenRejection::Revoked));
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(RotatedToken {
            token: rotated.token,
            secret: rotated.secret,
            previous_token_id: rotated.previous_token_id,
            previous_expires_at: rotated.previous_expires_at,
        }),
    )
        .into_response())
}

/// One finding of a secret scanner: the string alone, or with where it was
/// seen (GitHub's secret-scanning partner format).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LeakedCredential {
    Bare(String),
    Located {
        token: String,
        /// Where it was found, such as a commit URL.
        #[serde(default)]
        url: Option<String>,
        /// Which scanner or service reported it.
        #[serde(default)]
        source: Option<String>,
        /// The reporter's own type name; ignored.
        #[serde(default, rename = "type")]
        kind: Option<String>,
    },
}

/// The answer to a leak report: the same whatever was reported.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeakReportReceipt {
    /// How many entries the report held.
    pub received: usize,
}

/// `POST /api/v1/credentials/leaked`: secret scanners report token strings
/// found in public. No authentication; the answer never says whether a
/// string was a token, nor whose.
#[utoipa::path(post, path = "/api/v1/credentials/leaked", tag = "leak reports",
    summary = "Report token strings found in public",
    description = "For secret scanners. Each entry is a token string or an object with `token` (and optionally `url`, `source`, `type`). Latchkey tokens among them are revoked at once and their owners notified. Needs no token, is rate-limited per address, answers the same whatever was sent, and never says whose a token was. At most 100 entries.",
    request_body = Vec<LeakedCredential>,
    responses((status = 202, description = "Received (the same answer whatever was sent)", body = LeakReportReceipt), JsonBodyRefusals, (status = 413, description = "Too many entries or too large a body", body = ErrorBody), (status = 429, description = "Rate limit reached; see Retry-After", body = ErrorBody)))]
pub async fn report_leaked(
    State(state): State<AppState>,
    body: Result<Json<Vec<LeakedCredential>>, JsonRejection>,
) -> Result<Response, ApiError> {
    let reports = json_body(body)?;
    if reports.len() > lifecycle::MAX_LEAK_REPORT_ITEMS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "Report at most {} credentials per request.",
                lifecycle::MAX_LEAK_REPORT_ITEMS
            ),
        ));
    }
    let received = reports.len();
    let findings: Vec<(String, Option<String>)> = reports
        .into_iter()
        .map(|report| match report {
            LeakedCredential::Bare(token) => (token, None),
            LeakedCredential::Located {
                token, url, source, ..
            } => {
                let location = match (source, url) {
                    (Some(source), Some(url)) => Some(format!("{source}: {url}")),
                    (source, url) => source.or(url),
                };
                (token, location.map(|l| l.chars().take(500).collect()))
            }
        })
        .collect();
    lifecycle::report_leaked(&state.db, &findings).await?;
    Ok((StatusCode::ACCEPTED, Json(LeakReportReceipt { received })).into_response())
}

#[cfg(test)]
mod tests {
    use super::presented_token;
    use crate::tokens::secret::PlainToken;
    use axum::http::{header, HeaderMap, HeaderValue};
    use proptest::prelude::*;

    proptest! {
        /// Whatever bytes arrive in the two token headers, picking the
        /// presented token and parsing it refuse cleanly, never panic.
        #[test]
        fn arbitrary_header_bytes_never_panic(
            authorization in proptest::collection::vec(any::<u8>(), 0..160),
            api_token in proptest::collection::vec(any::<u8>(), 0..160),
            bearer in any::<bool>(),
        ) {
            let mut headers = HeaderMap::new();
            let mut value = if bearer { b"Bearer ".to_vec() } else { Vec::new() };
            value.extend(authorization);
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.insert(header::AUTHORIZATION, value);
            }
            if let Ok(value) = HeaderValue::from_bytes(&api_token) {
                headers.insert("apitoken", value);
            }
            if let Some(token) = presented_token(&headers) {
                prop_assert!(PlainToken::parse(token).is_err() || !token.is_empty());
            }
        }
    }

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
