//! Server functions of Admin → Users, organization invitations and the
//! invitation page.

use super::{InvitationView, IssuedInvitation, PendingInvitation, PersonSummary};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{
    access::{self, Action, Caller},
    auth::CurrentUser,
    server::request::RequestCtx,
};

/// The signed-in instance admin, or 403 for anyone else.
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

#[server(prefix = "/rpc", endpoint = "list_people")]
pub async fn list_people(#[server(default)] query: String) -> Result<Vec<PersonSummary>, AppError> {
    async {
        let (ctx, admin) = instance_admin().await?;
        super::server::list_people(ctx.db(), &admin, &query).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "set_person_disabled")]
pub async fn set_person_disabled(user_id: i64, disabled: bool) -> Result<(), AppError> {
    async {
        let (ctx, admin) = instance_admin().await?;
        super::server::set_disabled(&ctx, &admin, user_id, disabled).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "set_instance_admin")]
pub async fn set_instance_admin(user_id: i64, instance_admin: bool) -> Result<(), AppError> {
    async {
        let (ctx, admin) = self::instance_admin().await?;
        super::server::set_instance_admin(&ctx, &admin, user_id, instance_admin).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "delete_person")]
pub async fn delete_person(user_id: i64) -> Result<(), AppError> {
    async {
        let (ctx, admin) = instance_admin().await?;
        super::server::delete_person(&ctx, &admin, user_id).await
    }
    .await
}

/// Invites someone to make an account on this instance.
#[server(prefix = "/rpc", endpoint = "invite_person")]
pub async fn invite_person(
    email: String,
    #[server(default)] instance_admin: bool,
) -> Result<IssuedInvitation, AppError> {
    async {
        let (ctx, admin) = self::instance_admin().await?;
        let invitee = super::server::Invitee::Instance {
            admin: instance_admin,
        };
        let mut issued = super::server::invite(&ctx, &admin, &email, invitee)
            .await
            .map_err(|e| e.with_input([("email", email.as_str())]))?;
        issued.manage_at = "/admin/users".into();
        Ok(issued)
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "list_invitations")]
pub async fn list_invitations() -> Result<Vec<PendingInvitation>, AppError> {
    async {
        let (ctx, _) = instance_admin().await?;
        super::server::pending(ctx.db(), None).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "withdraw_invitation")]
pub async fn withdraw_invitation(id: i64) -> Result<(), AppError> {
    async {
        let (ctx, admin) = instance_admin().await?;
        super::server::withdraw(&ctx, &admin, id, None).await
    }
    .await
}

/// Invites someone new straight into an organization (its admins only).
#[server(prefix = "/rpc", endpoint = "invite_to_org")]
pub async fn invite_to_org(
    org: String,
    email: String,
    role: String,
) -> Result<IssuedInvitation, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        let access = crate::orgs::server::org_admin_access(ctx.db(), &user, &org).await?;
        let echo = [("email", email.as_str()), ("role", role.as_str())];
        let role = crate::domain::Role::parse(&role).map_err(|e| e.with_input(echo))?;
        let invitee = super::server::Invitee::Organization {
            org_id: access.id,
            role,
        };
        let mut issued = super::server::invite(&ctx, &user, &email, invitee)
            .await
            .map_err(|e| e.with_input(echo))?;
        issued.manage_at = format!("/orgs/{}", access.slug);
        Ok(issued)
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "list_org_invitations")]
pub async fn list_org_invitations(org: String) -> Result<Vec<PendingInvitation>, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        let access = crate::orgs::server::org_admin_access(ctx.db(), &user, &org).await?;
        super::server::pending(ctx.db(), Some(access.id)).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "withdraw_org_invitation")]
pub async fn withdraw_org_invitation(org: String, id: i64) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        let access = crate::orgs::server::org_admin_access(ctx.db(), &user, &org).await?;
        super::server::withdraw(&ctx, &user, id, Some(access.id)).await
    }
    .await
}

/// What an invitation link offers; anyone holding the link may ask.
#[server(prefix = "/rpc", endpoint = "get_invitation")]
pub async fn get_invitation(code: String) -> Result<InvitationView, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        super::server::invitation(ctx.db(), &code).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "accept_invitation")]
pub async fn accept_invitation(
    code: String,
    display_name: String,
    password: String,
    password_confirm: String,
) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        super::server::accept(&ctx, &code, &display_name, &password, &password_confirm)
            .await
            .map_err(|e| e.with_input([("display_name", display_name.as_str())]))?;
        leptos_axum::redirect("/");
        Ok(())
    }
    .await
}
