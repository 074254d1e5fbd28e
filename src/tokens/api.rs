//! Server functions for personal tokens: session check, then `server.rs`.

use super::{CreatedToken, TokenActivity, TokenList};
use crate::domain::ExpiryPolicy;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::server, crate::server::request::RequestCtx};

#[server(prefix = "/rpc", endpoint = "list_my_tokens")]
pub async fn list_my_tokens() -> Result<TokenList, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let tokens = server::list_personal(ctx.db(), user.id).await?;
    Ok(TokenList {
        now: crate::server::db::now(),
        tokens,
    })
}

#[server(prefix = "/rpc", endpoint = "my_token_activity")]
pub async fn my_token_activity() -> Result<Vec<TokenActivity>, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    server::recent_activity(ctx.db(), user.id, 10).await
}

/// The instance's expiry rules, so the dialog offers only allowed presets.
#[server(prefix = "/rpc", endpoint = "token_policy")]
pub async fn token_policy() -> Result<ExpiryPolicy, AppError> {
    let ctx = RequestCtx::load().await?;
    ctx.require_user().await?;
    Ok(ctx.state.config.expiry_policy())
}

#[server(prefix = "/rpc", endpoint = "create_my_token")]
pub async fn create_my_token(
    name: String,
    expiry: String,
    #[server(default)] custom_expiry: String,
) -> Result<CreatedToken, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let actor = ctx.actor(&user);
    let policy = ctx.state.config.expiry_policy();
    server::create_personal(
        ctx.db(),
        &actor,
        user.id,
        &name,
        &expiry,
        &custom_expiry,
        &policy,
    )
    .await
    .map_err(|e| {
        e.with_input([
            ("name", name.as_str()),
            ("expiry", expiry.as_str()),
            ("custom_expiry", custom_expiry.as_str()),
        ])
    })
}

#[server(prefix = "/rpc", endpoint = "set_my_token_enabled")]
pub async fn set_my_token_enabled(token_id: i64, enabled: bool) -> Result<(), AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let actor = ctx.actor(&user);
    server::set_personal_enabled(ctx.db(), &actor, user.id, token_id, enabled).await
}

#[server(prefix = "/rpc", endpoint = "delete_my_token")]
pub async fn delete_my_token(token_id: i64) -> Result<(), AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let actor = ctx.actor(&user);
    server::delete_personal(ctx.db(), &actor, user.id, token_id).await
}

#[server(prefix = "/rpc", endpoint = "revoke_all_my_tokens")]
pub async fn revoke_all_my_tokens() -> Result<u64, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let actor = ctx.actor(&user);
    server::revoke_all_personal(ctx.db(), &actor, user.id).await
}
