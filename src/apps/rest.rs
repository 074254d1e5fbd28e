//! The authorization server's endpoints: discovery (RFC 8414), authorization
//! with a consent page that needs no JavaScript (RFC 6749 §4.1, PKCE per
//! RFC 7636 with S256 only, `iss` per RFC 9207), and the token endpoint
//! (RFC 6749 §3.2, errors per §5.2).

use super::server::{self, ClientRow, GrantError, Lifetimes};
use crate::access::{Scopes, BUILT_IN_SCOPES};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::server::html::{escape, page};
use crate::server::request::RequestCtx;
use crate::server::state::AppState;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use base64::Engine;
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use tower_sessions::Session;

pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub const TOKEN_PATH: &str = "/oauth/token";
pub const REGISTER_PATH: &str = "/oauth/register";

/// The issuer: the configured public URL, else this request's origin.
pub fn issuer(state: &AppState, headers: &HeaderMap) -> String {
    crate::server::request::public_origin(state, headers)
}

fn lifetimes(state: &AppState) -> Lifetimes {
    Lifetimes {
        access_secs: state.config.oauth_access_token_secs,
        session_secs: state.config.oauth_session_days * 86_400,
        idle_secs: state.config.oauth_idle_days * 86_400,
    }
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    summary = "Authorization server metadata (RFC 8414)",
    description = "Endpoints, grant types, `code_challenge_methods_supported: [\"S256\"]`, scopes and client authentication methods. `registration_endpoint` appears when dynamic client registration is on.",
    responses((status = 200, description = "The metadata document", body = Object)))]
pub async fn metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let issuer = issuer(&state, &headers);
    let mut scopes: Vec<String> = BUILT_IN_SCOPES
        .iter()
        .map(|scope| scope.name.to_string())
        .collect();
    if let Ok(custom) = crate::tokens::server::custom_scope_names(&state.db).await {
        scopes.extend(custom);
    }
    let body = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{issuer}/api-docs"),
    });
    let mut body = body;
    if state.config.oauth_dynamic_registration {
        body["registration_endpoint"] = format!("{issuer}{REGISTER_PATH}").into();
    }
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=300"),
        )],
        Json(body),
    )
        .into_response()
}

/// The parameters of an authorization request, from the query (GET) or the
/// consent form (POST), unchecked.
#[derive(Debug, Default, Clone)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
}

impl AuthorizeParams {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        AuthorizeParams {
            response_type: get("response_type"),
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            scope: get("scope"),
            state: get("state"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            prompt: get("prompt"),
        }
    }
}

/// A request whose client and redirect URI are known good: from here on,
/// errors go back to the client (RFC 6749 §4.1.2.1).
struct Checked {
    client: ClientRow,
    redirect_uri: String,
    scopes: Scopes,
    state: Option<String>,
    code_challenge: String,
}

enum Refusal {
    /// Shown to the person; never redirected (unknown client or redirect URI).
    Page(StatusCode, String),
    /// Sent back to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

async fn checked(state: &AppState, params: &AuthorizeParams) -> Result<Checked, Refusal> {
    let page_refusal = |message: &str| Refusal::Page(StatusCode::BAD_REQUEST, message.to_string());
    let client_id = params
        .client_id
        .as_deref()
        .ok_or_else(|| page_refusal("The request names no application (client_id is missing)."))?;
    let client = server::find_client(&state.db, client_id)
        .await
        .map_err(|_| {
            Refusal::Page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Please try again in a moment.".into(),
            )
        })?
        .filter(ClientRow::is_active)
        .ok_or_else(|| {
            page_refusal("This application is not registered here, or it has been disabled.")
        })?;
    let redirect_uri = params
        .redirect_uri
        .clone()
        .filter(|uri| client.allows_redirect(uri))
        .ok_or_else(|| {
            page_refusal("The redirect URI in this request is not one the application registered, so Latchkey will not send you there.")
        })?;
    let back = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description: description.to_string(),
        state: params.state.clone(),
    };
    if params.response_type.as_deref() != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "Only response_type=code is supported.",
        ));
    }
    let Some(code_challenge) = params.code_challenge.clone() else {
        return Err(back(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256.",
        ));
    };
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Err(back(
            "invalid_request",
            "code_challenge_method must be S256; plain is not accepted.",
        ));
    }
    // An S256 challenge is 43 base64url characters (RFC 7636 §4.2).
    if code_challenge.len() != 43
        || base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&code_challenge)
            .is_err()
    {
        return Err(back(
            "invalid_request",
            "code_challenge is not a base64url SHA-256.",
        ));
    }
    let allowed = client.scopes();
    let scopes = match params.scope.as_deref().map(str::trim) {
        None | Some("") => allowed.clone(),
        Some(requested) => Scopes::from_stored(requested),
    };
    if let Some(beyond) = scopes.beyond(&allowed).next() {
        return Err(back(
            "invalid_scope",
            &format!("The application may not ask for {beyond}."),
        ));
    }
    Ok(Checked {
        client,
        redirect_uri,
        scopes,
        state: params.state.clone(),
        code_challenge,
    })
}

fn refusal_response(state: &AppState, headers: &HeaderMap, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page(status, message) => {
            let body = format!(
                r#"<section class="card narrow" aria-labelledby="oauth-error-title">
<h1 id="oauth-error-title">This authorization request cannot go on</h1>
<p role="alert">{}</p>
<p>Tell the application's developer; you can close this page.</p>
<p><a class="btn" href="/">Back to Latchkey</a></p>
</section>"#,
                escape(&message)
            );
            html_response(status, page("Authorization refused", &body))
        }
        Refusal::Redirect {
            redirect_uri,
            error,
            description,
            state: client_state,
        } => {
            let mut params = vec![
                ("error", error.to_string()),
                ("error_description", description),
            ];
            if let Some(client_state) = client_state {
                params.push(("state", client_state));
            }
            params.push(("iss", issuer(state, headers)));
            redirect_to_client(&redirect_uri, &params)
        }
    }
}

fn redirect_to_client(redirect_uri: &str, params: &[(&str, String)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in params {
            query.append_pair(key, value);
        }
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::REFERRER_POLICY, "no-referrer".to_string()),
        ],
    )
        .into_response()
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        ],
        html,
    )
        .into_response()
}

async fn signed_in(
    state: &AppState,
    session: Session,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(RequestCtx, Option<CurrentUser>), AppError> {
    let ctx = RequestCtx::new(state.clone(), session, headers, Some(peer));
    let user = ctx.user().await?;
    Ok((ctx, user))
}

fn sign_in_first(path_and_query: &str) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect();
    Redirect::to(&format!("/sign-in?next={next}")).into_response()
}

fn internal() -> Response {
    html_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        page(
            "Something went wrong",
            r#"<section class="card narrow"><h1>Something went wrong</h1><p>Please try again in a moment.</p></section>"#,
        ),
    )
}

/// `GET /oauth/authorize`: checks the request, has a signed-out person sign in
/// first, answers at once when an earlier consent covers it, and otherwise
/// shows the consent page.
#[utoipa::path(get, path = "/oauth/authorize", tag = "oauth",
    summary = "Authorization endpoint (RFC 6749 §4.1, PKCE per RFC 7636)",
    description = "Opened in the person's browser. PKCE with `code_challenge_method=S256` is required; `plain` is refused. An unknown client or a redirect URI the app did not register gets an error page and is never redirected to. Otherwise the browser goes back to the redirect URI with `code`, `state` and `iss` (RFC 9207), or with `error`.",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query, description = "The application's client ID"),
        ("redirect_uri" = String, Query, description = "One of the app's registered redirect URIs (a loopback one with any port)"),
        ("scope" = Option<String>, Query, description = "Space-separated scopes; default: all the app may ask for"),
        ("state" = Option<String>, Query, description = "Returned unchanged"),
        ("code_challenge" = String, Query, description = "BASE64URL(SHA-256(code_verifier))"),
        ("code_challenge_method" = String, Query, description = "`S256`"),
        ("prompt" = Option<String>, Query, description = "`consent` to ask again even when consent was given before"),
    ),
    responses(
        (status = 200, description = "The consent page (HTML)"),
        (status = 303, description = "To the redirect URI with a code or an error, or to sign in first"),
        (status = 400, description = "Unknown client or unregistered redirect URI (HTML page)"),
    ))]
pub async fn authorize(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let params = AuthorizeParams::from_pairs(&pairs);
    let checked = match checked(&state, &params).await {
        Ok(checked) => checked,
        Err(refusal) => return refusal_response(&state, &headers, refusal),
    };
    let (ctx, user) = match signed_in(&state, session, &headers, peer).await {
        Ok(found) => found,
        Err(_) => return internal(),
    };
    let Some(user) = user else {
        let here = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(AUTHORIZE_PATH);
        return sign_in_first(here);
    };
    let remembered = match server::live_grant(ctx.db(), &checked.client, user.id).await {
        Ok(grant) => grant,
        Err(_) => return internal(),
    };
    if params.prompt.as_deref() != Some("consent") {
        if let Some(grant) = remembered.filter(|g| server::covers(g, &checked.scopes)) {
            return answer_with_code(&state, &headers, &checked, grant.id).await;
        }
    }
    match consent_page(&ctx, &user, &checked).await {
        Ok(html) => html_response(StatusCode::OK, html),
        Err(_) => internal(),
    }
}

async fn answer_with_code(
    state: &AppState,
    headers: &HeaderMap,
    checked: &Checked,
    grant_id: i64,
) -> Response {
    match server::issue_code(
        &state.db,
        grant_id,
        &checked.redirect_uri,
        &checked.code_challenge,
        &checked.scopes,
    )
    .await
    {
        Ok(code) => {
            let mut params = vec![("code", code)];
            if let Some(client_state) = &checked.state {
                params.push(("state", client_state.clone()));
            }
            params.push(("iss", issuer(state, headers)));
            redirect_to_client(&checked.redirect_uri, &params)
        }
        Err(_) => internal(),
    }
}

fn scope_words(name: &str, custom: &[crate::scopes::ScopeInfo]) -> String {
    BUILT_IN_SCOPES
        .iter()
        .find(|scope| scope.name == name)
        .map(|scope| scope.description.to_string())
        .or_else(|| {
            custom
                .iter()
                .find(|scope| scope.name == name)
                .map(|scope| scope.description.clone())
        })
        .unwrap_or_default()
}

async fn consent_page(
    ctx: &RequestCtx,
    user: &CurrentUser,
    checked: &Checked,
) -> Result<String, AppError> {
    let custom = crate::scopes::server::list_custom(ctx.db()).await?;
    let orgs = crate::orgs::server::list_my_orgs(ctx.db(), user.id).await?;
    let forbidding = server::orgs_forbidding_apps(ctx.db(), user.id, &checked.client).await?;
    let client = &checked.client;
    let hidden = |name: &str, value: &str| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        )
    };
    let mut fields = String::new();
    fields.push_str(&hidden("response_type", "code"));
    fields.push_str(&hidden("client_id", &client.client_id));
    fields.push_str(&hidden("redirect_uri", &checked.redirect_uri));
    fields.push_str(&hidden("scope", &checked.scopes.to_stored()));
    fields.push_str(&hidden("code_challenge", &checked.code_challenge));
    fields.push_str(&hidden("code_challenge_method", "S256"));
    if let Some(client_state) = &checked.state {
        fields.push_str(&hidden("state", client_state));
    }
    let scopes: String = checked
        .scopes
        .iter()
        .map(|name| {
            format!(
                "<li><code>{}</code> {}</li>",
                escape(name),
                escape(&scope_words(name, &custom))
            )
        })
        .collect();
    let org_choices: String = orgs
        .iter()
        .map(|org| {
            let id = format!("acts-{}", escape(&org.slug));
            if forbidding.contains(&org.slug) {
                format!(
                    r#"<li><input type="checkbox" id="{id}" disabled> <label for="{id}">{} <span class="muted small">(does not allow this application)</span></label></li>"#,
                    escape(&org.name)
                )
            } else {
                format!(
                    r#"<li><input type="checkbox" id="{id}" name="acts_in" value="{slug}"> <label for="{id}">{name}</label></li>"#,
                    slug = escape(&org.slug),
                    name = escape(&org.name)
                )
            }
        })
        .collect();
    let orgs_section = if orgs.is_empty() {
        String::new()
    } else {
        format!(
            r#"<fieldset>
<legend>Where it may act</legend>
<div class="field field-check"><input type="radio" id="acts-all" name="acts" value="all" checked> <label for="acts-all">All my organizations</label></div>
<div class="field field-check"><input type="radio" id="acts-some" name="acts" value="some"> <label for="acts-some">Only these:</label></div>
<ul class="plain-list">{org_choices}</ul>
</fieldset>"#
        )
    };
    let unverified = if client.unverified != 0 {
        r#"<p class="alert alert-warning">This application registered itself; nobody here has checked who runs it.</p>"#
    } else {
        ""
    };
    let homepage = if client.homepage_url.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p class="muted small">Homepage: {}</p>"#,
            escape(&client.homepage_url)
        )
    };
    let host = url::Url::parse(&checked.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let body = format!(
        r#"<section class="card narrow" aria-labelledby="consent-title">
<h1 id="consent-title">Authorize {name}</h1>
<p><strong>{name}</strong>, registered by {owner}, wants to act as you, {person}.</p>
{homepage}
{unverified}
<form method="post" action="{AUTHORIZE_PATH}">
{fields}
<h2>It will be able to</h2>
<ul>{scopes}</ul>
{orgs_section}
<p class="muted small">Afterwards you are sent to {host}. You can revoke this access at any time under Profile, Apps and Connections.</p>
<div class="row-actions">
<button type="submit" name="decision" value="approve" class="btn btn-primary">Approve</button>
<button type="submit" name="decision" value="deny" class="btn">Deny</button>
</div>
</form>
</section>"#,
        name = escape(&client.name),
        owner = escape(&client.owner_label),
        person = escape(&user.display_name),
        host = escape(&host),
    );
    Ok(page(&format!("Authorize {}", client.name), &body))
}

/// `POST /oauth/authorize`: the consent form. Same-site only (the router
/// refuses cross-site posts); every parameter is checked again.
pub async fn decide(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let params = AuthorizeParams::from_pairs(&pairs);
    let checked = match checked(&state, &params).await {
        Ok(checked) => checked,
        Err(refusal) => return refusal_response(&state, &headers, refusal),
    };
    let (ctx, user) = match signed_in(&state, session, &headers, peer).await {
        Ok(found) => found,
        Err(_) => return internal(),
    };
    let Some(user) = user else {
        return sign_in_first(AUTHORIZE_PATH);
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if field("decision") != Some("approve") {
        return refusal_response(
            &state,
            &headers,
            Refusal::Redirect {
                redirect_uri: checked.redirect_uri,
                error: "access_denied",
                description: "The person denied the request.".into(),
                state: checked.state,
            },
        );
    }
    let acts_in = if field("acts") == Some("some") {
        let chosen: BTreeSet<String> = pairs
            .iter()
            .filter(|(key, _)| key == "acts_in")
            .map(|(_, value)| value.clone())
            .collect();
        match server::org_ids_of_member(ctx.db(), user.id, &chosen).await {
            Ok(ids) => Some(ids),
            Err(_) => return internal(),
        }
    } else {
        None
    };
    let grant_id = match server::approve(
        ctx.db(),
        &ctx.actor(&user),
        &checked.client,
        user.id,
        &checked.scopes,
        acts_in.as_ref(),
    )
    .await
    {
        Ok(id) => id,
        Err(_) => return internal(),
    };
    answer_with_code(&state, &headers, &checked, grant_id).await
}

/// An RFC 6749 §5.1 success body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenAnswer {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    scope: String,
}

fn grant_error(error: GrantError, basic_auth: bool) -> Response {
    let (status, code, description) = match error {
        GrantError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
        GrantError::InvalidClient => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.".to_string(),
        ),
        GrantError::InvalidGrant(d) => (StatusCode::BAD_REQUEST, "invalid_grant", d),
        GrantError::UnauthorizedClient(d) => (StatusCode::BAD_REQUEST, "unauthorized_client", d),
        GrantError::UnsupportedGrantType => (
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Supported grant types: authorization_code, refresh_token.".to_string(),
        ),
        GrantError::InvalidScope(d) => (StatusCode::BAD_REQUEST, "invalid_scope", d),
    };
    let mut response = (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(serde_json::json!({ "error": code, "error_description": description })),
    )
        .into_response();
    // RFC 6749 §5.2: a client that authenticated with the Authorization
    // header gets the scheme it used back.
    if status == StatusCode::UNAUTHORIZED && basic_auth {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="latchkey""#),
        );
    }
    response
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: both parts
/// form-urlencoded): none without a Basic header, `Some(None)` when it does
/// not decode.
pub fn basic_client(headers: &HeaderMap) -> Option<Option<(String, String)>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decode = |part: &str| {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|decoded| {
                decoded
                    .split_once(':')
                    .map(|(id, secret)| (decode(id), decode(secret)))
            }),
    )
}

/// Client credentials from HTTP Basic or from the body.
fn client_credentials(
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<(String, Option<String>, bool), GrantError> {
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    if let Some(basic) = basic_client(headers) {
        let (id, secret) = basic.ok_or(GrantError::InvalidClient)?;
        if field("client_secret").is_some() {
            return Err(GrantError::InvalidRequest(
                "Use one client authentication method, not two.".into(),
            ));
        }
        return Ok((id, Some(secret), true));
    }
    let id = field("client_id").ok_or_else(|| {
        GrantError::InvalidRequest("client_id is missing (or authenticate with HTTP Basic).".into())
    })?;
    Ok((id, field("client_secret"), false))
}

/// The token endpoint's form (documentation; the handler reads the pairs
/// itself so that a repeated parameter can be refused).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenForm {
    /// `authorization_code` or `refresh_token`.
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    /// Optional on refresh: at most the scopes granted.
    scope: Option<String>,
    /// For `client_secret_post` and public clients.
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An RFC 6749 §5.2 error body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type` or `invalid_scope`.
    error: String,
    error_description: String,
}

/// `POST /oauth/token`.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    summary = "Token endpoint (RFC 6749 §3.2)",
    description = "`authorization_code` (single use, at most 10 minutes old, bound to the client, the redirect URI and the PKCE verifier; a second use revokes what the first issued) and `refresh_token` (rotates on every use; a spent one used again ends the whole token family). Confidential clients authenticate with HTTP Basic (`client_secret_basic`) or `client_secret_post`; public clients send `client_id` only. Rate-limited per address.",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "New tokens", body = TokenAnswer),
        (status = 400, description = "RFC 6749 §5.2 error", body = OAuthError),
        (status = 401, description = "`invalid_client`", body = OAuthError),
    ),
    security((), ("clientBasic" = [])))]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return grant_error(
            GrantError::InvalidRequest(
                "Send the parameters as application/x-www-form-urlencoded.".into(),
            ),
            false,
        );
    };
    let (client_id, secret, basic) = match client_credentials(&headers, &form) {
        Ok(found) => found,
        Err(error) => return grant_error(error, true),
    };
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    // RFC 6749 §3.2: parameters may appear at most once.
    for name in [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
    ] {
        if form.iter().filter(|(key, _)| key == name).count() > 1 {
            return grant_error(
                GrantError::InvalidRequest(format!("{name} is given more than once.")),
                basic,
            );
        }
    }
    let client = match server::find_client(&state.db, &client_id).await {
        Ok(Some(client)) if client.is_active() => client,
        Ok(_) => return grant_error(GrantError::InvalidClient, basic),
        Err(_) => {
            return grant_error(
                GrantError::InvalidRequest("Please try again.".into()),
                basic,
            )
        }
    };
    let authenticated = match (&secret, client.is_confidential()) {
        (Some(secret), true) => client.secret_matches(secret),
        (None, false) => true,
        // A public client sending a secret, or a confidential one without.
        _ => false,
    };
    if !authenticated {
        return grant_error(GrantError::InvalidClient, basic);
    }
    let lifetimes = lifetimes(&state);
    let issued = match field("grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri), Some(verifier)) =
                (field("code"), field("redirect_uri"), field("code_verifier"))
            else {
                return grant_error(
                    GrantError::InvalidRequest(
                        "code, redirect_uri and code_verifier are required.".into(),
                    ),
                    basic,
                );
            };
            server::exchange_code(&state.db, &client, code, redirect_uri, verifier, lifetimes).await
        }
        Some("refresh_token") => {
            let Some(refresh_token) = field("refresh_token") else {
                return grant_error(
                    GrantError::InvalidRequest("refresh_token is required.".into()),
                    basic,
                );
            };
            server::refresh(&state.db, &client, refresh_token, field("scope"), lifetimes).await
        }
        Some(_) => Err(GrantError::UnsupportedGrantType),
        None => Err(GrantError::InvalidRequest("grant_type is required.".into())),
    };
    match issued {
        Ok(tokens) => (
            StatusCode::OK,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(TokenAnswer {
                access_token: tokens.access_token,
                token_type: "Bearer",
                expires_in: tokens.expires_in,
                refresh_token: tokens.refresh_token,
                scope: tokens.scope,
            }),
        )
            .into_response(),
        Err(error) => grant_error(error, basic),
    }
}

/// An RFC 7591 §3.1 registration request; unknown members are ignored.
#[derive(serde::Deserialize, Default)]
pub struct RegistrationRequest {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    client_uri: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    scope: Option<String>,
}

fn registration_error(error: &str, description: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "error": error, "error_description": description.into() })),
    )
        .into_response()
}

/// `POST /oauth/register` (RFC 7591), when the instance turned it on:
/// public clients only, marked unverified.
#[utoipa::path(post, path = "/oauth/register", tag = "oauth",
    summary = "Dynamic client registration (RFC 7591)",
    description = "Off unless `LATCHKEY_OAUTH_DYNAMIC_REGISTRATION=true`. Registers a public client (`token_endpoint_auth_method: none`), shown as unverified on the consent page. Rate-limited per address.",
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Object),
        (status = 400, description = "`invalid_redirect_uri` or `invalid_client_metadata`", body = OAuthError),
        (status = 404, description = "Dynamic registration is off", body = crate::server::api_error::ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    body: Result<Json<RegistrationRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !state.config.oauth_dynamic_registration {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({
                "error": "not_found",
                "message": "Dynamic client registration is turned off on this server.",
            })),
        )
            .into_response();
    }
    let Ok(Json(request)) = body else {
        return registration_error(
            "invalid_client_metadata",
            "The body is not a JSON registration request.",
        );
    };
    if request
        .token_endpoint_auth_method
        .as_deref()
        .is_some_and(|method| method != "none")
    {
        return registration_error(
            "invalid_client_metadata",
            "Only public clients (token_endpoint_auth_method \"none\") can register themselves here.",
        );
    }
    let grant_types = request
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into()]);
    if grant_types
        .iter()
        .any(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return registration_error(
            "invalid_client_metadata",
            "Supported grant types: authorization_code, refresh_token.",
        );
    }
    let response_types = request
        .response_types
        .unwrap_or_else(|| vec!["code".into()]);
    if response_types.iter().any(|r| r != "code") {
        return registration_error(
            "invalid_client_metadata",
            "Only the response type code is supported.",
        );
    }
    let scopes: Vec<String> = match request.scope.as_deref() {
        Some(scope) => scope.split_whitespace().map(str::to_string).collect(),
        None => vec![crate::access::IDENTITY_READ.to_string()],
    };
    let name = request
        .client_name
        .unwrap_or_else(|| "Unnamed application".into());
    let form = server::Registration {
        name: &name,
        description: "",
        homepage_url: request.client_uri.as_deref().unwrap_or(""),
        redirect_uris: &request.redirect_uris.join("\n"),
        confidential: false,
        scopes: &scopes,
    };
    match server::register_dynamically(&state.db, form).await {
        Ok((client_id, redirect_uris, scopes)) => (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({
                "client_id": client_id,
                "client_id_issued_at": crate::server::db::now(),
                "client_name": name,
                "redirect_uris": redirect_uris,
                "grant_types": grant_types,
                "response_types": response_types,
                "token_endpoint_auth_method": "none",
                "scope": scopes.to_stored(),
            })),
        )
            .into_response(),
        Err(AppError::Invalid { field, message, .. }) => {
            let error = if field == "redirect_uris" {
                "invalid_redirect_uri"
            } else {
                "invalid_client_metadata"
            };
            registration_error(error, message)
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": "server_error", "error_description": "Please try again." })),
        )
            .into_response(),
    }
}
