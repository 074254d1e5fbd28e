//! The HTML shell, the app's routes and the layout around every page.

use crate::auth::api::{get_session, SignOut};
use crate::auth::SessionInfo;
use crate::components::KeepScrollPosition;
use crate::error::AppError;
use crate::orgs::api::list_my_orgs;
use crate::pages::{
    admin_apps::AppsAdminPage,
    admin_orgs::OrgsAdminPage,
    admin_scopes::ScopesAdminPage,
    admin_users::UsersAdminPage,
    api_docs::ApiDocsPage,
    apps::{ConnectionsPage, DeveloperAppsPage, OrgAppsTab},
    group::{GroupLayout, GroupMembersTab, GroupTokensTab},
    home::HomePage,
    invite::InvitationPage,
    not_found::NotFound,
    org::{OrgAuditTab, OrgGroupsTab, OrgLayout, OrgMembersTab, OrgSettingsTab, OrgTokensTab},
    profile::ProfilePage,
    secret::ShownSecretPage,
    setup::SetupPage,
    sign_in::{SecondFactorPage, SignInPage},
    tokens::ProfileTokensPage,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Who is signed in; shared by every page.
#[derive(Clone, Copy)]
pub struct Auth {
    pub session: Resource<Result<SessionInfo, AppError>>,
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    #[cfg(feature = "ssr")]
    set_page_security_policy();
    view! {
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Title formatter=|page: String| {
            if page.is_empty() { "Latchkey".to_string() } else { format!("{page} · Latchkey") }
        }/>
        <Router>
            <Layout/>
        </Router>
    }
}

/// Pages get a CSP that admits only our own scripts and Leptos' inline
/// hydration scripts, which carry this response's nonce.
#[cfg(feature = "ssr")]
fn set_page_security_policy() {
    use axum::http::{header, HeaderValue};
    if let (Some(nonce), Some(options)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        let policy = crate::server::security::page_csp(&nonce.to_string());
        if let Ok(value) = HeaderValue::from_str(&policy) {
            options.insert_header(header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

#[component]
fn Layout() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    // Pages render on the server only (islands), once per request.
    let session = Resource::new(|| (), |_| get_session());
    provide_context(Auth { session });

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"⌘"</span>
                "Latchkey"
            </a>
            <a class="topbar-link" href="/api-docs">"API"</a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.await {
                        Ok(SessionInfo { user: Some(user), .. }) => view! {
                            <nav class="account" aria-label="Account">
                                {user.is_instance_admin.then(|| view! { <A href="/admin/users">"Administration"</A> })}
                                <A href="/profile">{user.display_name}</A>
                                <ActionForm action=sign_out>
                                    <button type="submit" class="btn btn-ghost">"Sign out"</button>
                                </ActionForm>
                            </nav>
                        }
                        .into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Transition>
        </header>
        <div class="layout">
            <Sidebar/>
            <main id="main" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in/two-factor") view=SecondFactorPage ssr=SsrMode::Async/>
                    <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async/>
                    <Route path=path!("/api-docs") view=ApiDocsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/scopes") view=ScopesAdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/apps") view=AppsAdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users") view=UsersAdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/orgs") view=OrgsAdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/invite/:code") view=InvitationPage ssr=SsrMode::Async/>
                    <Route path=path!("/profile/tokens") view=ProfileTokensPage ssr=SsrMode::Async/>
                    // Rendered only by `tokens::secret_page::show_once`, which hands it the secret.
                    <Route path=path!("/tokens/new") view=ShownSecretPage ssr=SsrMode::Async/>
                    <Route path=path!("/profile/connections") view=ConnectionsPage ssr=SsrMode::Async/>
                    <Route path=path!("/profile/apps") view=DeveloperAppsPage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("/orgs/:org") view=OrgLayout ssr=SsrMode::Async>
                        <Route path=path!("") view=OrgMembersTab/>
                        <Route path=path!("groups") view=OrgGroupsTab/>
                        <Route path=path!("tokens") view=OrgTokensTab/>
                        <Route path=path!("apps") view=OrgAppsTab/>
                        <Route path=path!("audit") view=OrgAuditTab/>
                        <Route path=path!("settings") view=OrgSettingsTab/>
                    </ParentRoute>
                    <ParentRoute path=path!("/orgs/:org/groups/:group") view=GroupLayout ssr=SsrMode::Async>
                        <Route path=path!("") view=GroupMembersTab/>
                        <Route path=path!("tokens") view=GroupTokensTab/>
                    </ParentRoute>
                </Routes>
            </main>
        </div>
        <KeepScrollPosition/>
    }
}

/// The organizations and groups the signed-in user belongs to.
#[component]
fn Sidebar() -> impl IntoView {
    // Asked only while someone is signed in.
    let session = expect_context::<Auth>().session;
    let orgs = Resource::new(
        || (),
        move |_| async move {
            match session.await {
                Ok(SessionInfo { user: Some(_), .. }) => list_my_orgs().await.map(Some),
                _ => Ok(None),
            }
        },
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match orgs.await {
                    Ok(Some(orgs)) => view! {
                        <nav class="sidebar" aria-label="Your organizations">
                            <h2 class="sidebar-title">"Organizations"</h2>
                            {if orgs.is_empty() {
                                view! { <p class="muted">"You are not in any organization yet."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="sidebar-list">
                                        {orgs
                                            .into_iter()
                                            .map(|org| {
                                                let org_href = format!("/orgs/{}", org.slug);
                                                view! {
                                                    <li>
                                                        <A href=org_href.clone()>{org.name}</A>
                                                        {(!org.groups.is_empty()).then(|| view! {
                                                            <ul>
                                                                {org
                                                                    .groups
                                                                    .into_iter()
                                                                    .map(|g| {
                                                                        let href = format!("{org_href}/groups/{}", g.slug);
                                                                        view! { <li><A href=href>{g.name}</A></li> }
                                                                    })
                                                                    .collect_view()}
                                                            </ul>
                                                        })}
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                .into_any()
                            }}
                        </nav>
                    }
                    .into_any(),
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}
