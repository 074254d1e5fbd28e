//! One routed page per file.

pub mod admin_apps;
pub mod admin_orgs;
pub mod admin_scopes;
pub mod admin_users;
pub mod api_docs;
pub mod apps;
pub mod group;
pub mod home;
pub mod invite;
pub mod not_found;
pub mod org;
pub mod people;
pub mod profile;
pub mod secret;
pub mod setup;
pub mod sign_in;
pub mod tokens;

use crate::app::Auth;
use crate::auth::{CurrentUser, SessionInfo};
use crate::components::{go_to, to_sign_in, ErrorView};
use crate::error::AppError;
use leptos::prelude::*;

/// Renders `page` for the signed-in user; sends anyone else to sign in (or to
/// the one-time setup while no account exists).
pub fn with_user<V: IntoView + 'static>(
    page: impl Fn(CurrentUser) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <Suspense fallback=crate::components::loading>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match auth.session.await {
                        Ok(SessionInfo { user: Some(user), .. }) => page(user).into_any(),
                        Ok(SessionInfo { needs_setup: true, .. }) => go_to("/setup".into()).into_any(),
                        Ok(_) => to_sign_in(),
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The value of a route parameter, empty when missing.
pub fn param(name: &'static str) -> Memo<String> {
    let params = leptos_router::hooks::use_params_map();
    Memo::new(move |_| params.read().get(name).unwrap_or_default())
}

pub type Loaded<T> = Result<T, AppError>;
