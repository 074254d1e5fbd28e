//! Server functions for tokens: session check, scope check, then `server.rs`.
//!
//! Every function takes the scope as two form fields, `org` and `group`: both
//! empty means the caller's personal tokens; an organization's tokens need its
//! admin role; a group's need the group's or the organization's admin role.

// A server function takes its form's fields as arguments, one per field.
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "ssr")]
use super::TokenScope;
use super::{CreatedToken, TokenActivity, TokenList, TokenRequest};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server::{self, owner_for_person, NewToken, Owner},
    crate::auth::CurrentUser,
    crate::server::request::RequestCtx,
};

/// The signed-in caller and the owner they may manage, or why not.
#[cfg(feature = "ssr")]
async fn cleared(org: &str, group: &str) -> Result<(RequestCtx, CurrentUser, Owner), AppError> {
    let scope = TokenScope::from_fields(org, group)?;
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let owner = owner_for_person(ctx.db(), &user, &scope).await?;
    Ok((ctx, user, owner))
}

#[server(prefix = "/rpc", endpoint = "list_tokens")]
pub async fn list_tokens(
    #[server(default)] org: String,
    #[server(default)] group: String,
) -> Result<TokenList, AppError> {
    let (ctx, _, owner) = cleared(&org, &group).await?;
    let tokens = server::list(ctx.db(), owner).await?;
    // The create dialog offers only what the policy allows; when the kind
    // is turned off the page says so instead of offering to create one.
    let (policy, turned_off) =
        match server::creation_policy(ctx.db(), owner, ctx.state.config.expiry_policy()).await {
            Ok(policy) => (Some(policy), None),
            Err(AppError::Conflict(reason)) => (None, Some(reason)),
            Err(other) => return Err(other),
        };
    Ok(TokenList {
        now: crate::server::db::now(),
        tokens,
        policy,
        turned_off,
    })
}

#[server(prefix = "/rpc", endpoint = "list_token_activity")]
pub async fn list_token_activity(
    #[server(default)] org: String,
    #[server(default)] group: String,
) -> Result<Vec<TokenActivity>, AppError> {
    let (ctx, _, owner) = cleared(&org, &group).await?;
    server::recent_activity(ctx.db(), owner, 10).await
}

#[server(prefix = "/rpc", endpoint = "create_token")]
pub async fn create_token(
    name: String,
    expiry: String,
    #[server(default)] custom_expiry: String,
    #[server(default)] org: String,
    #[server(default)] group: String,
    // A checkbox: present ("on") only when ticked.
    #[server(default)] admin: String,
    // Checkboxes named `scopes[]`.
    #[server(default)] scopes: Vec<String>,
    // "all" (the default) or "some": then the `acts_in[]` checkboxes.
    #[server(default)] acts: String,
    #[server(default)] acts_in: Vec<String>,
    #[server(default)] allowed_ips: String,
) -> Result<CreatedToken, AppError> {
    let scopes_typed = scopes.join(" ");
    let acts_in_typed = acts_in.join(" ");
    let echo = |e: AppError| {
        e.with_input([
            ("name", name.as_str()),
            ("expiry", expiry.as_str()),
            ("custom_expiry", custom_expiry.as_str()),
            ("admin", admin.as_str()),
            ("scopes", scopes_typed.as_str()),
            ("acts", acts.as_str()),
            ("acts_in", acts_in_typed.as_str()),
            ("allowed_ips", allowed_ips.as_str()),
        ])
    };
    let restricted = acts.trim() == "some";
    let (ctx, user, owner) = cleared(&org, &group).await?;
    let policy = server::creation_policy(ctx.db(), owner, ctx.state.config.expiry_policy())
        .await
        .map_err(echo)?;
    server::create(
        ctx.db(),
        &ctx.actor(&user),
        owner,
        TokenScope::from_fields(&org, &group)?,
        NewToken {
            name: &name,
            expiry: &expiry,
            custom_expiry: &custom_expiry,
            admin: matches!(admin.as_str(), "on" | "true"),
            creator: None,
            scopes: &scopes,
            acts_in: restricted.then_some(acts_in.as_slice()),
            allowed_ips: &allowed_ips,
        },
        &policy,
    )
    .await
    .map_err(echo)
}

#[server(prefix = "/rpc", endpoint = "set_token_enabled")]
pub async fn set_token_enabled(
    token_id: i64,
    enabled: bool,
    #[server(default)] org: String,
    #[server(default)] group: String,
) -> Result<(), AppError> {
    let (ctx, user, owner) = cleared(&org, &group).await?;
    server::set_enabled(ctx.db(), &ctx.actor(&user), owner, token_id, enabled)
        .await
        .map(|_| ())
}

#[server(prefix = "/rpc", endpoint = "delete_token")]
pub async fn delete_token(
    token_id: i64,
    #[server(default)] org: String,
    #[server(default)] group: String,
) -> Result<(), AppError> {
    let (ctx, user, owner) = cleared(&org, &group).await?;
    server::delete(ctx.db(), &ctx.actor(&user), owner, token_id).await
}

#[server(prefix = "/rpc", endpoint = "revoke_all_tokens")]
pub async fn revoke_all_tokens(
    #[server(default)] org: String,
    #[server(default)] group: String,
) -> Result<u64, AppError> {
    let (ctx, user, owner) = cleared(&org, &group).await?;
    server::revoke_all(ctx.db(), &ctx.actor(&user), owner).await
}

/// Personal tokens awaiting this organization's approval (for its admins).
#[server(prefix = "/rpc", endpoint = "list_token_requests")]
pub async fn list_token_requests(org: String) -> Result<Vec<TokenRequest>, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let org = crate::orgs::server::org_token_access(ctx.db(), &user, &org).await?;
    super::approvals::requests(ctx.db(), org.id).await
}

/// `decision` is `approve` or `deny`.
#[server(prefix = "/rpc", endpoint = "decide_token_request")]
pub async fn decide_token_request(
    org: String,
    token_id: i64,
    decision: String,
) -> Result<(), AppError> {
    let approve = match decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return Err(AppError::BadRequest("decide approve or deny".into())),
    };
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let org = crate::orgs::server::org_token_access(ctx.db(), &user, &org).await?;
    super::approvals::decide(ctx.db(), &ctx.actor(&user), org.id, token_id, approve).await
}
