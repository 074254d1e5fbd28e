//! Server functions for Profile → Developer applications and Profile → Apps
//! and Connections. Thin: the signed-in person, then `server`.

use super::{AdminAppView, AppInOrg, AppSummary, Connection, IssuedCredentials};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::server::{self, AppOwner},
    crate::access::{self, Action, Caller},
    crate::auth::CurrentUser,
    crate::server::request::RequestCtx,
};

/// Whose applications a request is about: the signed-in person's own, or
/// (with `org`) those of an organization they administer.
#[cfg(feature = "ssr")]
async fn owner_for(ctx: &RequestCtx, user: &CurrentUser, org: &str) -> Result<AppOwner, AppError> {
    if org.is_empty() {
        return Ok(AppOwner::Person(user.id));
    }
    let org = crate::orgs::server::org_admin_access(ctx.db(), user, org).await?;
    Ok(AppOwner::Organization(org.id))
}

/// The applications the signed-in person registered, or (with `org`) the
/// organization's.
#[server(prefix = "/rpc", endpoint = "list_my_apps")]
pub async fn list_my_apps(#[server(default)] org: String) -> Result<Vec<AppSummary>, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let owner = owner_for(&ctx, &user, &org).await?;
    server::owned_by(ctx.db(), owner).await
}

/// (name, description) of the scopes an application may be registered for.
#[server(prefix = "/rpc", endpoint = "registrable_scopes")]
pub async fn registrable_scopes() -> Result<Vec<(String, String)>, AppError> {
    let ctx = RequestCtx::load().await?;
    ctx.require_user().await?;
    server::registrable_scopes(ctx.db()).await
}

#[server(prefix = "/rpc", endpoint = "register_app")]
pub async fn register_app(
    #[server(default)] org: String,
    name: String,
    #[server(default)] description: String,
    #[server(default)] homepage_url: String,
    redirect_uris: String,
    #[server(default)] client_type: String,
    #[server(default)] scopes: Vec<String>,
) -> Result<IssuedCredentials, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let owner = owner_for(&ctx, &user, &org).await?;
    let form = server::Registration {
        name: &name,
        description: &description,
        homepage_url: &homepage_url,
        redirect_uris: &redirect_uris,
        confidential: client_type != "public",
        scopes: &scopes,
    };
    let typed_scopes = scopes.join(" ");
    server::register(ctx.db(), &ctx.actor(&user), owner, form)
        .await
        .map_err(|e| {
            e.with_input([
                ("scopes", typed_scopes.as_str()),
                ("client_type", client_type.as_str()),
                ("name", name.as_str()),
                ("description", description.as_str()),
                ("homepage_url", homepage_url.as_str()),
                ("redirect_uris", redirect_uris.as_str()),
            ])
        })
}

/// Changes an application's name, description, homepage, redirect URIs and
/// scopes; its owner (or its organization's admins) only.
#[server(prefix = "/rpc", endpoint = "update_app")]
pub async fn update_app(
    client_id: String,
    name: String,
    #[server(default)] description: String,
    #[server(default)] homepage_url: String,
    redirect_uris: String,
    #[server(default)] scopes: Vec<String>,
) -> Result<(), AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let form = server::Registration {
        name: &name,
        description: &description,
        homepage_url: &homepage_url,
        redirect_uris: &redirect_uris,
        confidential: true,
        scopes: &scopes,
    };
    server::update(ctx.db(), &ctx.actor(&user), &user, &client_id, form)
        .await
        .map_err(|e| {
            e.with_input([
                ("client_id", client_id.as_str()),
                ("name", name.as_str()),
                ("description", description.as_str()),
                ("homepage_url", homepage_url.as_str()),
                ("redirect_uris", redirect_uris.as_str()),
            ])
        })
}

#[server(prefix = "/rpc", endpoint = "rotate_app_secret")]
pub async fn rotate_app_secret(client_id: String) -> Result<IssuedCredentials, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    server::rotate_secret(ctx.db(), &ctx.actor(&user), &user, &client_id).await
}

#[server(prefix = "/rpc", endpoint = "set_app_disabled")]
pub async fn set_app_disabled(client_id: String, disabled: bool) -> Result<(), AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    server::set_disabled(ctx.db(), &ctx.actor(&user), &user, &client_id, disabled).await
}

#[server(prefix = "/rpc", endpoint = "delete_app")]
pub async fn delete_app(client_id: String) -> Result<(), AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    server::delete(ctx.db(), &ctx.actor(&user), &user, &client_id).await
}

/// The apps the signed-in person let act in their name.
#[server(prefix = "/rpc", endpoint = "list_connections")]
pub async fn list_connections() -> Result<Vec<Connection>, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    server::connections(ctx.db(), user.id).await
}

/// "Revoke access": the grant and every token issued under it end at once.
#[server(prefix = "/rpc", endpoint = "revoke_connection")]
pub async fn revoke_connection(grant_id: i64) -> Result<(), AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    server::revoke_connection(ctx.db(), &ctx.actor(&user), user.id, grant_id).await
}

/// Every application on the instance; instance admins only.
#[server(prefix = "/rpc", endpoint = "list_all_apps")]
pub async fn list_all_apps() -> Result<Vec<AdminAppView>, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    access::decide(
        Caller::Person {
            instance_admin: user.is_instance_admin,
        },
        Action::AdministerInstance,
    )?;
    server::every_app(ctx.db()).await
}

/// Lets a confidential client introspect tokens with its own credentials (a
/// resource server), or stops it; instance admins only.
#[server(prefix = "/rpc", endpoint = "set_app_introspection")]
pub async fn set_app_introspection(client_id: String, allowed: bool) -> Result<(), AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    access::decide(
        Caller::Person {
            instance_admin: user.is_instance_admin,
        },
        Action::AdministerInstance,
    )?;
    server::set_may_introspect(ctx.db(), &ctx.actor(&user), &client_id, allowed).await
}

/// The applications acting in an organization; its admins only.
#[server(prefix = "/rpc", endpoint = "list_org_app_use")]
pub async fn list_org_app_use(org: String) -> Result<Vec<AppInOrg>, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let org = crate::orgs::server::org_admin_access(ctx.db(), &user, &org).await?;
    server::acting_in_org(ctx.db(), org.id).await
}

/// Stops an application from acting in the organization, or lets it again;
/// its admins only.
#[server(prefix = "/rpc", endpoint = "set_app_blocked_in_org")]
pub async fn set_app_blocked_in_org(
    org: String,
    client_id: String,
    blocked: bool,
) -> Result<(), AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let org = crate::orgs::server::org_admin_access(ctx.db(), &user, &org).await?;
    server::set_blocked_in_org(ctx.db(), &ctx.actor(&user), org.id, &client_id, blocked).await
}
