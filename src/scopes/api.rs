//! Server functions for scopes: what a create dialog offers, and the instance
//! admin's custom scopes.

use super::{GrantOptions, ScopeInfo};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server,
    crate::access::{self, Action, Caller},
    crate::auth::CurrentUser,
    crate::server::request::RequestCtx,
    crate::tokens::TokenScope,
};

/// The signed-in instance admin.
#[cfg(feature = "ssr")]
async fn instance_admin() -> Result<(RequestCtx, CurrentUser), AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    access::decide(
        Caller::Person {
            instance_admin: user.is_instance_admin,
        },
        Action::AdministerInstance,
    )?;
    Ok((ctx, user))
}

/// The scopes (and, for personal tokens, organizations) a new token here may
/// be given; for people who may create tokens here.
#[server(prefix = "/rpc", endpoint = "token_grant_options")]
pub async fn token_grant_options(
    #[server(default)] org: String,
    #[server(default)] group: String,
) -> Result<GrantOptions, AppError> {
    let scope = TokenScope::from_fields(&org, &group)?;
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let owner = crate::tokens::server::owner_for_person(ctx.db(), &user, &scope).await?;
    let built_in = access::applicable_built_in_scopes(owner.kind())
        .map(|scope| ScopeInfo {
            name: scope.name.to_string(),
            description: scope.description.to_string(),
        })
        .collect();
    let organizations = if scope.is_personal() {
        crate::orgs::server::list_my_orgs(ctx.db(), user.id)
            .await?
            .into_iter()
            .map(|org| (org.slug, org.name))
            .collect()
    } else {
        Vec::new()
    };
    Ok(GrantOptions {
        built_in,
        custom: server::list_custom(ctx.db()).await?,
        organizations,
    })
}

#[server(prefix = "/rpc", endpoint = "list_custom_scopes")]
pub async fn list_custom_scopes() -> Result<Vec<ScopeInfo>, AppError> {
    let (ctx, _) = instance_admin().await?;
    server::list_custom(ctx.db()).await
}

#[server(prefix = "/rpc", endpoint = "create_custom_scope")]
pub async fn create_custom_scope(name: String, description: String) -> Result<(), AppError> {
    let (ctx, user) = instance_admin().await?;
    server::create_custom(ctx.db(), &ctx.actor(&user), &name, &description)
        .await
        .map_err(|e| {
            e.with_input([
                ("name", name.as_str()),
                ("description", description.as_str()),
            ])
        })
}

#[server(prefix = "/rpc", endpoint = "delete_custom_scope")]
pub async fn delete_custom_scope(name: String) -> Result<(), AppError> {
    let (ctx, user) = instance_admin().await?;
    server::delete_custom(ctx.db(), &ctx.actor(&user), &name)
        .await
        .map(|_| ())
}
