use super::with_user;
use crate::components::{Tab, Tabs};
use leptos::prelude::*;
use leptos_meta::Title;

pub(crate) fn profile_tabs() -> impl IntoView {
    view! {
        <Tabs label="Profile sections" tabs=vec![
            Tab { href: "/profile".into(), label: "Account" },
            Tab { href: "/profile/tokens".into(), label: "Access Tokens" },
            Tab { href: "/profile/connections".into(), label: "Apps and Connections" },
            Tab { href: "/profile/apps".into(), label: "Developer applications" },
        ]/>
    }
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Your profile"/>
        {with_user(|user| view! {
            <header class="page-head">
                <p class="eyebrow">"Profile"</p>
                <h1>{user.display_name.clone()}</h1>
            </header>
            {profile_tabs()}
            <section class="card">
                <dl class="facts">
                    <dt>"Email"</dt><dd>{user.email.clone()}</dd>
                    <dt>"Display name"</dt><dd>{user.display_name.clone()}</dd>
                    <dt>"Instance role"</dt>
                    <dd>{if user.is_instance_admin { "Instance admin (may create organizations)" } else { "Member" }}</dd>
                </dl>
            </section>
        })}
    }
}
