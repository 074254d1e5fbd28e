//! Server functions of the account page. Each acts on the signed-in person
//! only: nothing here takes another person's id.

use super::{RecoveryCodes, SessionView, TwoFactorStatus};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::request::RequestCtx;

#[server(prefix = "/rpc", endpoint = "change_display_name")]
pub async fn change_display_name(display_name: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::server::change_display_name(&ctx, &user, &display_name)
            .await
            .map_err(|e| e.with_input([("display_name", display_name.as_str())]))
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "change_email")]
pub async fn change_email(email: String, current_password: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::server::change_email(&ctx, &user, &email, &current_password)
            .await
            .map_err(|e| e.with_input([("email", email.as_str())]))
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    new_password_confirm: String,
) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::server::change_password(
            &ctx,
            &user,
            &current_password,
            &new_password,
            &new_password_confirm,
        )
        .await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "list_my_sessions")]
pub async fn list_my_sessions() -> Result<Vec<SessionView>, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::server::list_sessions(&ctx, &user).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "end_session")]
pub async fn end_session(handle: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::server::end_session(&ctx, &user, &handle).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::server::end_other_sessions(&ctx, &user).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "get_two_factor")]
pub async fn get_two_factor() -> Result<TwoFactorStatus, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::two_factor::status(&ctx, &user).await
    }
    .await
}

/// Starts enrolment; the account page then shows the QR code.
#[server(prefix = "/rpc", endpoint = "begin_two_factor")]
pub async fn begin_two_factor() -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::two_factor::begin(&ctx, &user).await
    }
    .await
}

/// Confirms enrolment with a code; answers the recovery codes, once.
#[server(prefix = "/rpc", endpoint = "confirm_two_factor")]
pub async fn confirm_two_factor(code: String) -> Result<RecoveryCodes, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::two_factor::confirm(&ctx, &user, &code).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "disable_two_factor")]
pub async fn disable_two_factor(code: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let user = ctx.require_user().await?;
        super::two_factor::disable(&ctx, &user, &code).await
    }
    .await
}
