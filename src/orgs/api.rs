//! Server functions for organizations and groups: each checks the session, parses
//! its input and hands over to `server.rs`, which checks the caller's role.

// A server function takes its form's fields as arguments, one per field.
#![allow(clippy::too_many_arguments)]

use super::{AuditPage, GroupSummary, GroupView, Member, MyOrg, OrgOverview, OrgSettings, OrgView};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::server, crate::server::request::RequestCtx};

#[server(prefix = "/rpc", endpoint = "list_my_orgs")]
pub async fn list_my_orgs() -> Result<Vec<MyOrg>, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::list_my_orgs(ctx.db(), user.id).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "create_org")]
pub async fn create_org(
    name: String,
    slug: String,
    #[server(default)] admin_email: String,
) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        let slug = server::create_org_as(&ctx, &user, &name, &slug, &admin_email)
            .await
            .map_err(|e| {
                e.with_input([
                    ("name", name.as_str()),
                    ("slug", slug.as_str()),
                    ("admin_email", admin_email.as_str()),
                ])
            })?;
        leptos_axum::redirect(&format!("/orgs/{slug}"));
        Ok(())
    }
    .await
}

/// Admin → Organizations.
#[server(prefix = "/rpc", endpoint = "list_all_orgs")]
pub async fn list_all_orgs() -> Result<Vec<OrgOverview>, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::all_orgs(&ctx, &user).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "delete_org")]
pub async fn delete_org(org: String, confirm: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::delete_org(&ctx, &user, &org, &confirm)
            .await
            .map_err(|e| e.with_input([("confirm", confirm.as_str())]))
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "get_org")]
pub async fn get_org(org: String) -> Result<OrgView, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        let access = server::org_access(ctx.db(), &user, &org).await?;
        Ok(OrgView {
            slug: access.slug,
            name: access.name,
            my_role: access.role,
        })
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "list_org_members")]
pub async fn list_org_members(org: String) -> Result<Vec<Member>, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        let access = server::org_access(ctx.db(), &user, &org).await?;
        server::list_org_members(
            ctx.db(),
            access.id,
            access.role == crate::domain::Role::Admin,
        )
        .await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "add_org_member")]
pub async fn add_org_member(org: String, email: String, role: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::add_org_member(&ctx, &user, &org, &email, &role)
            .await
            .map_err(|e| e.with_input([("email", email.as_str()), ("role", role.as_str())]))
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "set_org_member_role")]
pub async fn set_org_member_role(org: String, user_id: i64, role: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::set_org_member_role(&ctx, &user, &org, user_id, &role).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "remove_org_member")]
pub async fn remove_org_member(org: String, user_id: i64) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::remove_org_member(&ctx, &user, &org, user_id).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "list_groups")]
pub async fn list_groups(org: String) -> Result<Vec<GroupSummary>, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        let access = server::org_access(ctx.db(), &user, &org).await?;
        server::list_groups(ctx.db(), access.id).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "create_group")]
pub async fn create_group(org: String, name: String, slug: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::create_group(&ctx, &user, &org, &name, &slug)
            .await
            .map_err(|e| e.with_input([("name", name.as_str()), ("slug", slug.as_str())]))
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "delete_group")]
pub async fn delete_group(org: String, group: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::delete_group(&ctx, &user, &org, &group).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "get_group")]
pub async fn get_group(org: String, group: String) -> Result<GroupView, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        let access = server::group_access(ctx.db(), &user, &org, &group).await?;
        Ok(access.view())
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "list_group_members")]
pub async fn list_group_members(org: String, group: String) -> Result<Vec<Member>, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        let access = server::group_access(ctx.db(), &user, &org, &group).await?;
        server::list_group_members(ctx.db(), access.group_id).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "add_group_member")]
pub async fn add_group_member(
    org: String,
    group: String,
    email: String,
    role: String,
) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::add_group_member(&ctx, &user, &org, &group, &email, &role)
            .await
            .map_err(|e| e.with_input([("email", email.as_str()), ("role", role.as_str())]))
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "set_group_member_role")]
pub async fn set_group_member_role(
    org: String,
    group: String,
    user_id: i64,
    role: String,
) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::set_group_member_role(&ctx, &user, &org, &group, user_id, &role).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "remove_group_member")]
pub async fn remove_group_member(org: String, group: String, user_id: i64) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        server::remove_group_member(&ctx, &user, &org, &group, user_id).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "get_org_settings")]
pub async fn get_org_settings(org: String) -> Result<OrgSettings, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let access = server::org_admin_access(ctx.db(), &user, &org).await?;
    server::org_settings(&ctx, access.id).await
}

/// Checkboxes are present ("on") only when ticked.
#[server(prefix = "/rpc", endpoint = "update_org_settings")]
pub async fn update_org_settings(
    org: String,
    #[server(default)] allow_org_tokens: String,
    #[server(default)] allow_group_tokens: String,
    #[server(default)] allow_non_expiring_tokens: String,
    #[server(default)] token_max_lifetime_days: String,
    #[server(default)] personal_tokens_need_approval: String,
    #[server(default)] allow_oauth_apps: String,
    #[server(default)] require_two_factor: String,
) -> Result<OrgSettings, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let ticked = |v: &str| matches!(v, "on" | "true");
    server::update_org_settings(
        &ctx,
        &user,
        &org,
        server::SettingsChange {
            allow_org_tokens: ticked(&allow_org_tokens),
            allow_group_tokens: ticked(&allow_group_tokens),
            allow_non_expiring_tokens: ticked(&allow_non_expiring_tokens),
            max_lifetime_days: &token_max_lifetime_days,
            personal_tokens_need_approval: ticked(&personal_tokens_need_approval),
            allow_oauth_apps: ticked(&allow_oauth_apps),
            require_two_factor: ticked(&require_two_factor),
        },
    )
    .await
    .map_err(|e| {
        e.with_input([
            ("allow_org_tokens", allow_org_tokens.as_str()),
            ("allow_group_tokens", allow_group_tokens.as_str()),
            (
                "allow_non_expiring_tokens",
                allow_non_expiring_tokens.as_str(),
            ),
            ("token_max_lifetime_days", token_max_lifetime_days.as_str()),
            (
                "personal_tokens_need_approval",
                personal_tokens_need_approval.as_str(),
            ),
            ("allow_oauth_apps", allow_oauth_apps.as_str()),
            ("require_two_factor", require_two_factor.as_str()),
        ])
    })
}

#[server(prefix = "/rpc", endpoint = "list_org_audit")]
pub async fn list_org_audit(
    org: String,
    #[server(default)] page: Option<i64>,
    #[server(default)] action: String,
) -> Result<AuditPage, AppError> {
    let ctx = RequestCtx::load().await?;
    let user = ctx.require_user().await?;
    let access = server::org_admin_access(ctx.db(), &user, &org).await?;
    server::org_audit(ctx.db(), access.id, page.unwrap_or(1), &action).await
}
