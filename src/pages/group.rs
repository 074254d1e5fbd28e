//! Group page: Members and Access Tokens tabs.

use super::org::{member_controls, member_rows};
use super::tokens::TokensPanel;
use super::{param, Loaded};
use crate::components::{
    action_error, loading, ErrorView, Field, FormAlert, RoleSelect, Saved, Tab, Tabs,
};
use crate::orgs::api::{
    get_group, list_group_members, AddGroupMember, RemoveGroupMember, SetGroupMemberRole,
};
use crate::orgs::GroupView;
use crate::tokens::TokenScope;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Outlet, A};

/// The group named in the path; made by the layout and the tab each, for the
/// reason given at `org_resource`.
fn group_resource() -> Resource<Loaded<GroupView>> {
    let org = param("org");
    let slug = param("group");
    Resource::new(
        move || (org.get(), slug.get()),
        |(org, group)| get_group(org, group),
    )
}

#[component]
pub fn GroupLayout() -> impl IntoView {
    let group = group_resource();
    // The tab stays outside the Suspense; see `OrgLayout`.
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match group.await {
                    Ok(group) => {
                        let base = format!("/orgs/{}/groups/{}", group.org_slug, group.slug);
                            view! {
                            <Title text=format!("{} · {}", group.name, group.org_name)/>
                            <header class="page-head">
                                <p class="eyebrow">
                                    "Group in " <A href=format!("/orgs/{}", group.org_slug)>{group.org_name.clone()}</A>
                                </p>
                                <h1>{group.name.clone()}</h1>
                                <p class="muted">
                                    "Your role: "
                                    {match group.my_role {
                                        Some(role) => role.label(),
                                        None if group.can_manage => "Organization admin",
                                        None => "Organization member",
                                    }}
                                </p>
                            </header>
                            <Tabs label="Group sections" tabs={
                                let mut tabs = vec![Tab { href: base.clone(), label: "Members" }];
                                if group.can_manage {
                                    tabs.push(Tab { href: format!("{base}/tokens"), label: "Access Tokens" });
                                }
                                tabs
                            }/>
                        }
                        .into_any()
                    }
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
        <Outlet/>
    }
}

#[component]
pub fn GroupMembersTab() -> impl IntoView {
    let group = group_resource();
    let org_slug = param("org");
    let group_slug = param("group");
    let add = ServerAction::<AddGroupMember>::new();
    let set_role = ServerAction::<SetGroupMemberRole>::new();
    let remove = ServerAction::<RemoveGroupMember>::new();
    let members = Resource::new(
        move || (org_slug.get(), group_slug.get()),
        |(org, group)| list_group_members(org, group),
    );
    let add_error = action_error(add);
    let row_error = Signal::derive(move || {
        action_error(set_role)
            .get()
            .or_else(|| action_error(remove).get())
    });
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                let Ok(group) = group.await else { return ().into_any() };
                let manage = group.can_manage;
                let hidden = vec![("org", group.org_slug.clone()), ("group", group.slug.clone())];
                let name = group.name.clone();
                view! {
                    <section class="card">
                        <h2>"Members"</h2>
                        <FormAlert error=row_error/>
                        <Transition fallback=loading>
                            {move || {
                                let hidden = hidden.clone();
                                let name = name.clone();
                                Suspend::new(async move {
                                    match members.await {
                                        Ok(members) if members.is_empty() => view! {
                                            <p class="muted">"Nobody is in this group yet."</p>
                                        }.into_any(),
                                        Ok(members) => view! {
                                            <div class="table-wrap">
                                                <table>
                                                    <caption class="visually-hidden">"Members of the group"</caption>
                                                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                                    <tbody>
                                                        {member_rows(members, |m| if manage {
                                                            member_controls!(m, hidden.clone(), set_role, remove, &name)
                                                        } else { ().into_any() })}
                                                    </tbody>
                                                </table>
                                            </div>
                                        }.into_any(),
                                        Err(error) => view! { <ErrorView error/> }.into_any(),
                                    }
                                })
                            }}
                        </Transition>
                    </section>
                    {manage.then(|| view! {
                        <section class="card">
                            <h2>"Add a member"</h2>
                            <p class="muted">"Members of the organization can join its groups."</p>
                            <ActionForm action=add>
                                <FormAlert error=add_error/>
                                <input type="hidden" name="org" value=group.org_slug.clone()/>
                                <input type="hidden" name="group" value=group.slug.clone()/>
                                <div class="field-row">
                                    <Field id="add-group-member-email" name="email" label="Email" kind="email" error=add_error/>
                                    <RoleSelect id="add-group-member-role" error=add_error/>
                                </div>
                                <button type="submit" class="btn btn-primary">"Add to group"</button>
                                <Saved action=add text="Member added."/>
                            </ActionForm>
                        </section>
                    })}
                }
                .into_any()
            })}
        </Suspense>
    }
}

/// For the group's admins and the organization's; for anyone else the server
/// functions answer 403 and the tab shows that. The panel's resources are made
/// up front, not inside a pending Suspend, which would make them again.
#[component]
pub fn GroupTokensTab() -> impl IntoView {
    let scope = TokenScope::Group {
        org: param("org").get_untracked(),
        group: param("group").get_untracked(),
    };
    view! { <TokensPanel scope/> }
}
