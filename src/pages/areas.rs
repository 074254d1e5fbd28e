//! The pages grouped into areas, each loaded on demand.
//!
//! The browser build is split (`cargo leptos build --split`): each area's
//! code is one lazily loaded WASM module, so a first visit downloads the shell
//! (layout, router, session) and the one area it lands in. An area holds the
//! pages people move between without leaving it, so a whole area loads once:
//! one split point per area rather than per page also keeps the number of
//! shared chunks, and so of requests, small.

use leptos::prelude::*;
use leptos_router::LazyRoute;

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
    org::{OrgAuditTab, OrgGroupsTab, OrgLayout, OrgMembersTab, OrgSettingsTab, OrgTokensTab},
    profile::ProfilePage,
    setup::SetupPage,
    sign_in::{SecondFactorPage, SignInPage},
    tokens::ProfileTokensPage,
};

/// Declares an area: the lazily loaded function that renders any of its
/// pages (with the preloading function `#[lazy]` makes for it), and one route
/// type per page for the router.
macro_rules! area {
    ($area:ident, $preload:ident, $pages:ident { $($route:ident => $page:ident),+ $(,)? }) => {
        // Named after the route types, which all end in `Route`.
        #[allow(clippy::enum_variant_names)]
        #[derive(Clone, Copy)]
        enum $pages {
            $($route),+
        }

        #[leptos::lazy]
        fn $area(page: $pages) -> AnyView {
            match page {
                $($pages::$route => view! { <$page/> }.into_any()),+
            }
        }

        $(
            pub struct $route;

            impl LazyRoute for $route {
                fn data() -> Self {
                    Self
                }

                async fn view(_this: Self) -> AnyView {
                    #[cfg(feature = "ssr")]
                    preload_area(stringify!($area));
                    $area($pages::$route).await
                }

                // Hydration loads the area before it hydrates the page, so
                // the page's view is ready at once, as the server's was.
                async fn preload() {
                    #[cfg(feature = "hydrate")]
                    $preload().await;
                }
            }
        )+
    };
}

area!(entry_area, __preload_entry_area, EntryPage {
    HomeRoute => HomePage,
    SetupRoute => SetupPage,
    SignInRoute => SignInPage,
    SecondFactorRoute => SecondFactorPage,
    InvitationRoute => InvitationPage,
});

area!(tokens_area, __preload_tokens_area, TokensPage {
    ProfileTokensRoute => ProfileTokensPage,
});

area!(account_area, __preload_account_area, AccountPage {
    ProfileRoute => ProfilePage,
    ConnectionsRoute => ConnectionsPage,
    DeveloperAppsRoute => DeveloperAppsPage,
});

area!(orgs_area, __preload_orgs_area, OrgPage {
    OrgLayoutRoute => OrgLayout,
    OrgMembersRoute => OrgMembersTab,
    OrgGroupsRoute => OrgGroupsTab,
    OrgTokensRoute => OrgTokensTab,
    OrgAppsRoute => OrgAppsTab,
    OrgAuditRoute => OrgAuditTab,
    OrgSettingsRoute => OrgSettingsTab,
    GroupLayoutRoute => GroupLayout,
    GroupMembersRoute => GroupMembersTab,
    GroupTokensRoute => GroupTokensTab,
});

area!(admin_area, __preload_admin_area, AdminPage {
    AdminUsersRoute => UsersAdminPage,
    AdminOrgsRoute => OrgsAdminPage,
    AdminScopesRoute => ScopesAdminPage,
    AdminAppsRoute => AppsAdminPage,
});

area!(api_docs_area, __preload_api_docs_area, ApiDocsArea {
    ApiDocsRoute => ApiDocsPage,
});

/// Which areas' modules this response already links for preloading.
#[cfg(feature = "ssr")]
#[derive(Clone, Copy)]
pub struct PreloadedAreas(StoredValue<Vec<&'static str>>);

#[cfg(feature = "ssr")]
impl PreloadedAreas {
    /// Provided once per page, at its root.
    pub fn provide() {
        provide_context(Self(StoredValue::new(Vec::new())));
    }
}

/// Links the page's area modules (and the split loader) in the head, so the
/// browser fetches them beside the main module rather than after it has
/// started. The split manifest lists each lazy function's modules under its
/// name and a number.
#[cfg(feature = "ssr")]
fn preload_area(area: &'static str) {
    use leptos_meta::Link;

    let Some(preloaded) = use_context::<PreloadedAreas>() else {
        return;
    };
    if preloaded.0.with_value(|areas| areas.contains(&area)) {
        return;
    }
    preloaded.0.update_value(|areas| areas.push(area));
    let Some(manifest) = use_context::<leptos::WasmSplitManifest>() else {
        return;
    };
    let Some(manifest) = manifest.0.try_get_value() else {
        return;
    };
    let (pkg, modules, loader) = manifest;
    let is_area = |key: &str| {
        key.strip_prefix(area)
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|number| number.bytes().all(|b| b.is_ascii_digit()))
    };
    for module in modules
        .iter()
        .filter(|(key, _)| is_area(key))
        .flat_map(|(_, stems)| stems)
    {
        // Rendering a leptos_meta link registers it with the page's head.
        let _ = view! {
            <Link rel="preload" href=format!("{pkg}/{module}.wasm") as_="fetch"
                type_="application/wasm" crossorigin="anonymous"/>
        }
        .to_html();
    }
    let _ = view! { <Link rel="modulepreload" href=format!("{pkg}/{loader}") crossorigin="anonymous"/> }.to_html();
}
