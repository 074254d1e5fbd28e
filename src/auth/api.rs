use super::SessionInfo;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::request::RequestCtx;

#[server(prefix = "/rpc", endpoint = "get_session")]
pub async fn get_session() -> Result<SessionInfo, AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        super::server::session_info(&ctx).await
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "setup_first_admin")]
pub async fn setup_first_admin(
    email: String,
    display_name: String,
    password: String,
    password_confirm: String,
    #[server(default)] setup_code: String,
) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let form = super::server::FirstAdmin {
            email: &email,
            display_name: &display_name,
            password: &password,
            password_confirm: &password_confirm,
            setup_code: &setup_code,
        };
        super::server::setup_first_admin(&ctx, form)
            .await
            .map_err(|e| {
                e.with_input([
                    ("email", email.as_str()),
                    ("display_name", display_name.as_str()),
                ])
            })?;
        leptos_axum::redirect("/");
        Ok(())
    }
    .await
}

/// Signs in, then goes to `next` when it is a path on this site (the page
/// that sent the person to sign in, such as an OAuth authorization request).
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(
    email: String,
    password: String,
    #[server(default)] next: String,
) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        let step = super::server::sign_in(&ctx, &email, &password)
            .await
            .map_err(|e| e.with_input([("email", email.as_str()), ("next", next.as_str())]))?;
        let next = crate::auth::local_path(&next).unwrap_or("/");
        match step {
            super::server::SignInStep::Done => leptos_axum::redirect(next),
            super::server::SignInStep::SecondFactor => {
                let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                leptos_axum::redirect(&format!("/sign-in/two-factor?next={next}"))
            }
        }
        Ok(())
    }
    .await
}

/// The code that completes a sign-in with two-factor sign-in on.
#[server(prefix = "/rpc", endpoint = "sign_in_code")]
pub async fn sign_in_code(code: String, #[server(default)] next: String) -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        super::server::sign_in_second_factor(&ctx, &code)
            .await
            .map_err(|e| e.with_input([("next", next.as_str())]))?;
        leptos_axum::redirect(crate::auth::local_path(&next).unwrap_or("/"));
        Ok(())
    }
    .await
}

#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    async {
        let ctx = RequestCtx::load().await?;
        super::server::sign_out(&ctx).await?;
        leptos_axum::redirect("/sign-in");
        Ok(())
    }
    .await
}
