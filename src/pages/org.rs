//! Organization page: Members, Groups and Access Tokens tabs.

use super::{param, with_user, Loaded};
use crate::components::{
    action_error, format_date, loading, ErrorView, Field, FormAlert, RoleSelect, Saved, Tab, Tabs,
};
use crate::domain::Role;
use crate::orgs::api::{
    get_org, list_groups, list_org_members, AddOrgMember, CreateGroup, DeleteGroup,
    RemoveOrgMember, SetOrgMemberRole,
};
use crate::orgs::{Member, OrgView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Outlet;

#[derive(Clone, Copy)]
struct CurrentOrg(Resource<Loaded<OrgView>>);

#[component]
pub fn OrgLayout() -> impl IntoView {
    let slug = param("org");
    let org = Resource::new(move || slug.get(), get_org);
    provide_context(CurrentOrg(org));
    with_user(move |_| {
        view! {
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match org.await {
                        Ok(org) => {
                            let base = format!("/orgs/{}", org.slug);
                            view! {
                                <Title text=org.name.clone()/>
                                <header class="page-head">
                                    <p class="eyebrow">"Organization"</p>
                                    <h1>{org.name.clone()}</h1>
                                    <p class="muted">"Your role: " {org.my_role.label()}</p>
                                </header>
                                <Tabs label="Organization sections" tabs=vec![
                                    Tab { href: base.clone(), label: "Members" },
                                    Tab { href: format!("{base}/groups"), label: "Groups" },
                                    Tab { href: format!("{base}/tokens"), label: "Access Tokens" },
                                ]/>
                                <Outlet/>
                            }
                            .into_any()
                        }
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })}
            </Suspense>
        }
    })
}

/// The rows of a member table; `actions` renders the last cell for managers.
pub fn member_rows(members: Vec<Member>, actions: impl Fn(&Member) -> AnyView) -> impl IntoView {
    members
        .into_iter()
        .map(|m| {
            let cell = actions(&m);
            view! {
                <tr>
                    <th scope="row">
                        {m.display_name.clone()}
                        {m.technical.then(|| view! { <span class="badge badge-muted">"technical"</span> })}
                    </th>
                    <td>{m.email.clone().unwrap_or_default()}</td>
                    <td><span class="badge" class:badge-accent=m.role == Role::Admin>{m.role.label()}</span></td>
                    <td>{format_date(m.joined_at)}</td>
                    <td class="actions">{cell}</td>
                </tr>
            }
        })
        .collect_view()
}

/// Role switch and removal (with confirmation) for one member row. A macro
/// because `ActionForm` needs each concrete server-function type.
macro_rules! member_controls {
    ($m:expr, $hidden:expr, $set_role:expr, $remove:expr, $scope:expr) => {{
        let m: &crate::orgs::Member = $m;
        if m.technical {
            view! { <span class="muted">"Managed by its token"</span> }.into_any()
        } else {
            use crate::domain::Role;
            let other = if m.role == Role::Admin { Role::User } else { Role::Admin };
            let verb = if other == Role::Admin { "Make admin" } else { "Make user" };
            let hidden: Vec<(&'static str, String)> = $hidden;
            let user_id = m.user_id.to_string();
            let hidden_inputs = || {
                hidden
                    .iter()
                    .cloned()
                    .chain(std::iter::once(("user_id", user_id.clone())))
                    .map(|(name, value)| view! { <input type="hidden" name=name value=value/> })
                    .collect_view()
            };
            let (role_inputs, remove_inputs) = (hidden_inputs(), hidden_inputs());
            let (name, name_again) = (m.display_name.clone(), m.display_name.clone());
            let confirm = format!("Remove {} from {}", m.display_name, $scope);
            view! {
                <div class="row-actions">
                    <ActionForm action=$set_role>
                        {role_inputs}
                        <input type="hidden" name="role" value=other.as_str()/>
                        <button type="submit" class="btn btn-small">{verb}<span class="visually-hidden">": " {name_again}</span></button>
                    </ActionForm>
                    <details class="confirm">
                        <summary class="btn btn-small btn-danger-ghost">"Remove"<span class="visually-hidden">" " {name}</span></summary>
                        <div class="confirm-panel">
                            <p>{format!("{confirm}?")}</p>
                            <ActionForm action=$remove>
                                {remove_inputs}
                                <button type="submit" class="btn btn-small btn-danger">{confirm.clone()}</button>
                            </ActionForm>
                        </div>
                    </details>
                </div>
            }
            .into_any()
        }
    }};
}
pub(crate) use member_controls;

#[component]
pub fn OrgMembersTab() -> impl IntoView {
    let CurrentOrg(org) = expect_context();
    let slug = param("org");
    let add = ServerAction::<AddOrgMember>::new();
    let set_role = ServerAction::<SetOrgMemberRole>::new();
    let remove = ServerAction::<RemoveOrgMember>::new();
    let members = Resource::new(
        move || {
            (
                slug.get(),
                add.version().get(),
                set_role.version().get(),
                remove.version().get(),
            )
        },
        |(slug, ..)| list_org_members(slug),
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
                let Ok(org) = org.await else { return ().into_any() };
                let admin = org.is_admin();
                let org_slug = org.slug.clone();
                let org_name = org.name.clone();
                view! {
                    <section class="card">
                        <h2>"Members"</h2>
                        <FormAlert error=row_error/>
                        <Transition fallback=loading>
                            {move || {
                                let org_slug = org_slug.clone();
                                let org_name = org_name.clone();
                                Suspend::new(async move {
                                    match members.await {
                                        Ok(members) => view! {
                                            <div class="table-wrap">
                                                <table>
                                                    <caption class="visually-hidden">"Members of the organization"</caption>
                                                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                                    <tbody>
                                                        {member_rows(members, |m| if admin {
                                                            member_controls!(m, vec![("org", org_slug.clone())], set_role, remove, &org_name)
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
                    {admin.then(|| view! {
                        <section class="card">
                            <h2>"Add a member"</h2>
                            <p class="muted">"Add someone who already has a Latchkey account by their email address."</p>
                            <ActionForm action=add>
                                <FormAlert error=add_error/>
                                <input type="hidden" name="org" value=org.slug.clone()/>
                                <div class="field-row">
                                    <Field id="add-member-email" name="email" label="Email" kind="email" error=add_error/>
                                    <RoleSelect id="add-member-role" error=add_error/>
                                </div>
                                <button type="submit" class="btn btn-primary">"Add member"</button>
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

#[component]
pub fn OrgGroupsTab() -> impl IntoView {
    let CurrentOrg(org) = expect_context();
    let slug = param("org");
    let create = ServerAction::<CreateGroup>::new();
    let delete = ServerAction::<DeleteGroup>::new();
    let groups = Resource::new(
        move || (slug.get(), create.version().get(), delete.version().get()),
        |(slug, ..)| list_groups(slug),
    );
    let create_error = action_error(create);
    let delete_error = action_error(delete);
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                let Ok(org) = org.await else { return ().into_any() };
                let admin = org.is_admin();
                let org_slug = org.slug.clone();
                view! {
                    <section class="card">
                        <h2>"Groups"</h2>
                        <FormAlert error=delete_error/>
                        <Transition fallback=loading>
                            {move || {
                                let org_slug = org_slug.clone();
                                Suspend::new(async move {
                                    match groups.await {
                                        Ok(groups) if groups.is_empty() => view! {
                                            <p class="muted">"No groups yet. Groups gather members of the organization who work together, and later hold their own access tokens."</p>
                                        }.into_any(),
                                        Ok(groups) => view! {
                                            <div class="table-wrap">
                                                <table>
                                                    <caption class="visually-hidden">"Groups of the organization"</caption>
                                                    <thead><tr><th scope="col">"Group"</th><th scope="col">"Members"</th><th scope="col">"Created"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                                    <tbody>
                                                        {groups.into_iter().map(|g| {
                                                            let org_slug = org_slug.clone();
                                                            let href = format!("/orgs/{}/groups/{}", org_slug, g.slug);
                                                            let confirm = format!("Delete group {}", g.name);
                                                            view! {
                                                                <tr>
                                                                    <th scope="row"><a href=href>{g.name.clone()}</a></th>
                                                                    <td>{g.member_count}</td>
                                                                    <td>{format_date(g.created_at)}</td>
                                                                    <td class="actions">
                                                                        {admin.then(|| view! {
                                                                            <details class="confirm">
                                                                                <summary class="btn btn-small btn-danger-ghost">"Delete"<span class="visually-hidden">" " {g.name.clone()}</span></summary>
                                                                                <div class="confirm-panel">
                                                                                    <p>{format!("{confirm}? Its memberships are removed; people stay in the organization.")}</p>
                                                                                    <ActionForm action=delete>
                                                                                        <input type="hidden" name="org" value=org_slug.clone()/>
                                                                                        <input type="hidden" name="group" value=g.slug.clone()/>
                                                                                        <button type="submit" class="btn btn-small btn-danger">{confirm.clone()}</button>
                                                                                    </ActionForm>
                                                                                </div>
                                                                            </details>
                                                                        })}
                                                                    </td>
                                                                </tr>
                                                            }
                                                        }).collect_view()}
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
                    {admin.then(|| view! {
                        <section class="card">
                            <h2>"Create a group"</h2>
                            <ActionForm action=create>
                                <FormAlert error=create_error/>
                                <input type="hidden" name="org" value=org.slug.clone()/>
                                <div class="field-row">
                                    <Field id="group-name" name="name" label="Name" maxlength=80 error=create_error/>
                                    <Field id="group-slug" name="slug" label="URL name" required=false maxlength=40
                                        hint="Left empty, it is made from the name." error=create_error/>
                                </div>
                                <button type="submit" class="btn btn-primary">"Create group"</button>
                                <Saved action=create text="Group created."/>
                            </ActionForm>
                        </section>
                    })}
                }
                .into_any()
            })}
        </Suspense>
    }
}

#[component]
pub fn OrgTokensTab() -> impl IntoView {
    view! {
        <section class="card placeholder">
            <h2>"Organization access tokens"</h2>
            <p>"Organization access tokens are not available yet. When they are, organization admins will create them here for integrations that act for the whole organization."</p>
        </section>
    }
}
