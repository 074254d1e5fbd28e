//! The HTML shell, the app's routes and the layout around every page.

use crate::auth::api::{get_session, SignOut};
use crate::auth::SessionInfo;
use crate::error::AppError;
use crate::orgs::api::list_my_orgs;
use crate::pages::{areas::*, not_found::NotFound};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes, A};
use leptos_router::hooks::use_location;
use leptos_router::{path, Lazy, SsrMode};

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
                <HydrationScripts options/>
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
    /// Moved after a change to the person's own account (their name, say),
    /// so every page reads the session again.
    pub changed: RwSignal<u32>,
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    #[cfg(feature = "ssr")]
    {
        set_page_security_policy();
        crate::pages::areas::PreloadedAreas::provide();
    }
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
    let location = use_location();
    // Signing in, setting up and signing out all end in a redirect, so a new
    // path is when the session may have changed.
    let changed = RwSignal::new(0);
    let session = Resource::new(
        move || {
            (
                location.pathname.get(),
                sign_out.version().get(),
                changed.get(),
            )
        },
        |_| get_session(),
    );
    provide_context(Auth { session, changed });

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
                    <Route path=path!("/") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/setup") view={Lazy::<SetupRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in") view={Lazy::<SignInRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in/two-factor") view={Lazy::<SecondFactorRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/profile") view={Lazy::<ProfileRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/api-docs") view={Lazy::<ApiDocsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/scopes") view={Lazy::<AdminScopesRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/apps") view={Lazy::<AdminAppsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users") view={Lazy::<AdminUsersRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/orgs") view={Lazy::<AdminOrgsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/invite/:code") view={Lazy::<InvitationRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/profile/tokens") view={Lazy::<ProfileTokensRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/profile/connections") view={Lazy::<ConnectionsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/profile/apps") view={Lazy::<DeveloperAppsRoute>::new()} ssr=SsrMode::Async/>
                    <ParentRoute path=path!("/orgs/:org") view={Lazy::<OrgLayoutRoute>::new()} ssr=SsrMode::Async>
                        <Route path=path!("") view={Lazy::<OrgMembersRoute>::new()}/>
                        <Route path=path!("groups") view={Lazy::<OrgGroupsRoute>::new()}/>
                        <Route path=path!("tokens") view={Lazy::<OrgTokensRoute>::new()}/>
                        <Route path=path!("apps") view={Lazy::<OrgAppsRoute>::new()}/>
                        <Route path=path!("audit") view={Lazy::<OrgAuditRoute>::new()}/>
                        <Route path=path!("settings") view={Lazy::<OrgSettingsRoute>::new()}/>
                    </ParentRoute>
                    <ParentRoute path=path!("/orgs/:org/groups/:group") view={Lazy::<GroupLayoutRoute>::new()} ssr=SsrMode::Async>
                        <Route path=path!("") view={Lazy::<GroupMembersRoute>::new()}/>
                        <Route path=path!("tokens") view={Lazy::<GroupTokensRoute>::new()}/>
                    </ParentRoute>
                </Routes>
            </main>
        </div>
    }
}

/// The organizations and groups the signed-in user belongs to.
#[component]
fn Sidebar() -> impl IntoView {
    let location = use_location();
    // Refetched on navigation, so a new organization or group shows up (and
    // signing in or out always navigates). Keyed on nothing that resolves
    // during the server render: a key that changed mid-render would refetch
    // and shift the ids that hydration matches resources by.
    // Asked only while someone is signed in: signing out must not end in a
    // refused request.
    let session = expect_context::<Auth>().session;
    let orgs = Resource::new(
        move || location.pathname.get(),
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
