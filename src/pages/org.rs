//! Organization page: Members and Groups tabs, and for admins Access Tokens,
//! Audit and Settings.

use super::people::invitation_rows;
use super::tokens::TokensPanel;
use super::{param, Loaded};
use crate::components::{
    action_error, format_date, format_datetime, format_iso, format_timestamp, loading, ErrorView,
    Field, FormAlert, RoleSelect, Saved, Tab, TabErrorView, Tabs,
};
use crate::domain::Role;
use crate::orgs::api::{
    get_org, get_org_settings, list_groups, list_org_audit, list_org_members, AddOrgMember,
    CreateGroup, DeleteGroup, RemoveOrgMember, SetOrgMemberRole, UpdateOrgSettings,
};
use crate::orgs::{audit_action_label, AuditPage, Member, OrgView};
use crate::people::api::{list_org_invitations, InviteToOrg, WithdrawOrgInvitation};
use crate::tokens::api::{list_token_requests, DecideTokenRequest};
use crate::tokens::TokenScope;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Outlet;
use leptos_router::hooks::use_query_map;

/// The organization named in the path. The layout and each tab make their
/// own: one resource read by two Suspense boundaries has hung server renders
/// now and then (leptos-rs/leptos#4851), and the query is cheap.
fn org_resource() -> Resource<Loaded<OrgView>> {
    let slug = param("org");
    Resource::new(move || slug.get(), get_org)
}

#[component]
pub fn OrgLayout() -> impl IntoView {
    let org = org_resource();
    // The tab (the Outlet) stays outside the Suspense: a Suspend re-runs when
    // what it awaits resolves, and a tab made inside it would make its
    // resources (and ask the server) again. A visitor who is not signed in gets `Unauthenticated` here and is sent
    // to sign in by the error view.
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
                            <Tabs label="Organization sections" tabs=org_tabs(&base, org.is_admin())/>
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
                    <td data-label="Email">{m.email.clone().unwrap_or_default()}</td>
                    <td data-label="Role"><span class="badge" class:badge-accent=m.role == Role::Admin>{m.role.label()}</span></td>
                    <td data-label="Joined">{format_date(m.joined_at)}</td>
                    // Present only where the caller may see it (organization admins).
                    {m.two_factor.map(|on| view! {
                        <td data-label="Two-factor">
                            {if on {
                                view! { <span class="badge badge-success">"On"</span> }.into_any()
                            } else {
                                view! { <span class="badge badge-muted">"Off"</span> }.into_any()
                            }}
                        </td>
                    })}
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
    let org = org_resource();
    let slug = param("org");
    let add = ServerAction::<AddOrgMember>::new();
    let set_role = ServerAction::<SetOrgMemberRole>::new();
    let remove = ServerAction::<RemoveOrgMember>::new();
    let members = Resource::new(move || slug.get(), list_org_members);
    let add_error = action_error(add);
    let row_error = Signal::derive(move || {
        action_error(set_role)
            .get()
            .or_else(|| action_error(remove).get())
    });
    let invite = ServerAction::<InviteToOrg>::new();
    let withdraw = ServerAction::<WithdrawOrgInvitation>::new();
    // Asked only of admins, so a member's page makes no refused request.
    let invitations = Resource::new(
        move || slug.get(),
        |slug| async move {
            match get_org(slug.clone()).await {
                Ok(org) if org.is_admin() => list_org_invitations(slug).await.map(Some),
                _ => Ok(None),
            }
        },
    );
    let invite_error = action_error(invite);
    let withdraw_error = action_error(withdraw);
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
                                                    <thead><tr>
                                                        <th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th>
                                                        {admin.then(|| view! { <th scope="col">"Two-factor"</th> })}
                                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                                    </tr></thead>
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
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let Ok(Some(pending)) = invitations.await else { return ().into_any() };
                let org_slug = slug.get_untracked();
                view! {
                    <section class="card">
                        <h2>"Invite someone new"</h2>
                        <p class="muted">"For someone without an account: a one-time link, valid for 7 days, with which they choose their name and password and join this organization. Latchkey does not send email: copy the link and send it yourself."</p>
                        <ActionForm action=invite>
                            <FormAlert error=invite_error/>
                            <input type="hidden" name="org" value=slug.get_untracked()/>
                            <div class="field-row">
                                <Field id="invite-member-email" name="email" label="Email address" kind="email" error=invite_error/>
                                <RoleSelect id="invite-member-role" label="Joins as" error=invite_error/>
                            </div>
                            <button type="submit" class="btn btn-primary">"Create invitation link"</button>
                        </ActionForm>
                        {(!pending.is_empty()).then(move || view! {
                            <h3>"Not accepted yet"</h3>
                            <FormAlert error=withdraw_error/>
                            {invitation_rows(pending, move |invitation| {
                                let (id, email, org) = (invitation.id, invitation.email.clone(), org_slug.clone());
                                view! {
                                    <ActionForm action=withdraw>
                                        <input type="hidden" name="org" value=org/>
                                        <input type="hidden" name="id" value=id/>
                                        <button type="submit" class="btn btn-small btn-danger-ghost">
                                            "Withdraw"<span class="visually-hidden">" the invitation of " {email}</span>
                                        </button>
                                    </ActionForm>
                                }.into_any()
                            })}
                        })}
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
pub fn OrgGroupsTab() -> impl IntoView {
    let org = org_resource();
    let slug = param("org");
    let create = ServerAction::<CreateGroup>::new();
    let delete = ServerAction::<DeleteGroup>::new();
    let groups = Resource::new(move || slug.get(), list_groups);
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

// The admin-only tabs create their resources up front (not inside a pending
// Suspend, which would make them again); for anyone but an admin the server
// functions answer 403 and the tab shows that.
#[component]
pub fn OrgTokensTab() -> impl IntoView {
    let org = param("org").get_untracked();
    view! {
        <TokenRequests org=org.clone()/>
        <TokensPanel scope=TokenScope::Organization { org }/>
    }
}

/// Members' personal tokens waiting for an admin's approval, when the
/// organization requires it; nothing when none is waiting.
#[component]
fn TokenRequests(org: String) -> impl IntoView {
    let decide = ServerAction::<DecideTokenRequest>::new();
    let requests = Resource::new(|| (), {
        let org = org.clone();
        move |_| list_token_requests(org.clone())
    });
    let error = action_error(decide);
    view! {
        <Transition fallback=|| ()>
            {move || {
                let org = org.clone();
                Suspend::new(async move {
                    let requests = requests.await.unwrap_or_default();
                    (!requests.is_empty()).then(|| view! {
                        <section class="card">
                            <h2>"Requests"</h2>
                            <p class="muted">"These personal tokens act in this organization only once an admin approves them."</p>
                            <FormAlert error/>
                            <div class="table-wrap">
                                <table>
                                    <caption class="visually-hidden">"Personal tokens awaiting approval"</caption>
                                    <thead><tr>
                                        <th scope="col">"Token"</th>
                                        <th scope="col">"Owner"</th>
                                        <th scope="col">"Scopes"</th>
                                        <th scope="col">"Expires"</th>
                                        <th scope="col"><span class="visually-hidden">"Decision"</span></th>
                                    </tr></thead>
                                    <tbody>
                                        {requests.into_iter().map(|request| {
                                            let id = request.token_id.to_string();
                                            let org = org.clone();
                                            let name = request.name.clone();
                                            let decision = move |value: &'static str, label: &'static str, class: &'static str| {
                                                let (org, id, name) = (org.clone(), id.clone(), name.clone());
                                                view! {
                                                    <ActionForm action=decide>
                                                        <input type="hidden" name="org" value=org/>
                                                        <input type="hidden" name="token_id" value=id/>
                                                        <input type="hidden" name="decision" value=value/>
                                                        <button type="submit" class=class>{label}<span class="visually-hidden">" " {name}</span></button>
                                                    </ActionForm>
                                                }
                                            };
                                            view! {
                                                <tr>
                                                    <th scope="row">{request.name.clone()}</th>
                                                    <td>{request.owner.clone()}</td>
                                                    <td>{request.scopes.join(", ")}</td>
                                                    <td>{request.expires_at.map(format_datetime).unwrap_or_else(|| "Never".into())}</td>
                                                    <td class="actions"><div class="row-actions">
                                                        {decision("approve", "Approve", "btn btn-small btn-primary")}
                                                        {decision("deny", "Deny", "btn btn-small btn-danger-ghost")}
                                                    </div></td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        </section>
                    })
                })
            }}
        </Transition>
    }
}

fn org_tabs(base: &str, admin: bool) -> Vec<Tab> {
    let mut tabs = vec![
        Tab {
            href: base.to_string(),
            label: "Members",
        },
        Tab {
            href: format!("{base}/groups"),
            label: "Groups",
        },
    ];
    if admin {
        tabs.extend([
            Tab {
                href: format!("{base}/tokens"),
                label: "Access Tokens",
            },
            Tab {
                href: format!("{base}/apps"),
                label: "Applications",
            },
            Tab {
                href: format!("{base}/audit"),
                label: "Audit",
            },
            Tab {
                href: format!("{base}/settings"),
                label: "Settings",
            },
        ]);
    }
    tabs
}

#[component]
pub fn OrgAuditTab() -> impl IntoView {
    view! { <AuditTrail org=param("org").get_untracked()/> }
}

/// The audit trail, filtered and paged by the address (`?action=…&page=…`), so
/// the filter form and the page links work without JavaScript too.
#[component]
fn AuditTrail(org: String) -> impl IntoView {
    let query = use_query_map();
    let trail = Resource::new(
        move || {
            let q = query.read();
            (
                q.get("action").unwrap_or_default(),
                q.get("page")
                    .and_then(|p| p.parse::<i64>().ok())
                    .unwrap_or(1),
            )
        },
        {
            let org = org.clone();
            move |(action, page)| list_org_audit(org.clone(), Some(page), action)
        },
    );
    let base = format!("/orgs/{org}/audit");
    view! {
        <Transition fallback=loading>
            {move || {
                let base = base.clone();
                Suspend::new(async move {
                    match trail.await {
                        Ok(page) => view! {
                            <section class="card">
                                <h2>"Audit trail"</h2>
                                <p class="muted">"Token, membership and settings changes in this organization and its groups, newest first."</p>
                                {audit_view(page, base)}
                            </section>
                        }.into_any(),
                        Err(error) => view! { <TabErrorView error/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

fn audit_view(page: AuditPage, base: String) -> impl IntoView {
    let link = {
        let base = base.clone();
        let action = page.action.clone();
        move |n: i64| {
            if action.is_empty() {
                format!("{base}?page={n}")
            } else {
                format!("{base}?action={action}&page={n}")
            }
        }
    };
    let (prev, next) = (
        (page.page > 1).then(|| link(page.page - 1)),
        page.has_more.then(|| link(page.page + 1)),
    );
    let chosen = page.action.clone();
    view! {
        <form method="get" action=base class="filter-row">
            <div class="field">
                <label for="audit-action">"Action"</label>
                <select id="audit-action" name="action">
                    <option value="" selected=chosen.is_empty()>"All actions"</option>
                    {page.actions.iter().map(|a| view! {
                        <option value=a.clone() selected=*a == chosen>{audit_action_label(a)}</option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit" class="btn">"Filter"</button>
        </form>
        {if page.entries.is_empty() {
            view! { <p class="empty-note">"No events match."</p> }.into_any()
        } else {
            view! {
                <ol class="audit-list" aria-label="Audit events, newest first">
                    {page.entries.into_iter().map(|e| view! {
                        <li>
                            <p class="audit-sentence">{e.sentence()}</p>
                            <p class="audit-meta">
                                <time datetime=format_iso(e.at)>{format_timestamp(e.at)}</time>
                                {e.actor_detail.map(|who| format!(" · {who}"))}
                                {e.ip.map(|ip| format!(" · from {ip}"))}
                            </p>
                        </li>
                    }).collect_view()}
                </ol>
            }.into_any()
        }}
        <nav class="pager" aria-label="Audit pages">
            {prev.map(|href| view! { <a class="btn btn-small" href=href rel="prev">"Newer"</a> })}
            <span class="muted">{format!("Page {}", page.page)}</span>
            {next.map(|href| view! { <a class="btn btn-small" href=href rel="next">"Older"</a> })}
        </nav>
    }
}

#[component]
pub fn OrgSettingsTab() -> impl IntoView {
    view! { <TokenSettings org=param("org").get_untracked()/> }
}

#[component]
fn TokenSettings(org: String) -> impl IntoView {
    let update = ServerAction::<UpdateOrgSettings>::new();
    let settings = Resource::new(|| (), {
        let org = org.clone();
        move |_| get_org_settings(org.clone())
    });
    let error = action_error(update);
    view! {
        <Transition fallback=loading>
            {move || {
                let org = org.clone();
                Suspend::new(async move {
                    let current = match settings.await {
                        Ok(current) => current,
                        Err(error) => return view! { <TabErrorView error/> }.into_any(),
                    };
                        let limit = current.instance_max_lifetime_days
                            .map(|d| format!("This server allows at most {d} days; a longer limit here has no effect."))
                            .unwrap_or_else(|| "Leave empty for no limit beyond the server's.".into());
                        let max_days = current.token_max_lifetime_days.map(|d| d.to_string()).unwrap_or_default();
                        let max_message = move || error.get().and_then(|e| e.field_message("token_max_lifetime_days"));
                        let two_factor_message = move || error.get().and_then(|e| e.field_message("require_two_factor"));
                        let without = current.members_without_two_factor;
                        let two_factor_hint = format!(
                            "Members without it cannot open this organization, and their personal tokens and connected applications do not act in it, until they turn it on. {}",
                            match without {
                                0 => "Every member has it on.".to_string(),
                                1 => "1 member has not turned it on yet (see Members).".to_string(),
                                n => format!("{n} members have not turned it on yet (see Members)."),
                            }
                        );
                        view! {
                            <section class="card">
                                <h2>"Policy"</h2>
                                <ActionForm action=update>
                                    <FormAlert error/>
                                    <input type="hidden" name="org" value=org/>
                                    <fieldset>
                                        <legend>"Which tokens may exist"</legend>
                                        <div class="field field-check">
                                            <input id="allow-org-tokens" type="checkbox" name="allow_org_tokens" checked=current.allow_org_tokens/>
                                            <label for="allow-org-tokens">"Allow organization access tokens"</label>
                                        </div>
                                        <div class="field field-check">
                                            <input id="allow-group-tokens" type="checkbox" name="allow_group_tokens" checked=current.allow_group_tokens/>
                                            <label for="allow-group-tokens">"Allow group access tokens"</label>
                                        </div>
                                        <p class="field-hint">"Turning a kind off stops its existing tokens at once and refuses new ones; turning it back on restores them."</p>
                                    </fieldset>
                                    <fieldset>
                                        <legend>"Expiry of organization and group tokens"</legend>
                                        <div class="field field-check">
                                            <input id="allow-non-expiring" type="checkbox" name="allow_non_expiring_tokens"
                                                checked=current.allow_non_expiring_tokens disabled=!current.instance_allows_non_expiring/>
                                            <label for="allow-non-expiring">"Allow tokens that never expire"</label>
                                        </div>
                                        <div class="field" class:field-invalid=move || max_message().is_some()>
                                            <label for="max-lifetime">"Longest lifetime (days)"</label>
                                            <input id="max-lifetime" type="number" name="token_max_lifetime_days" min="1" max="3650"
                                                value=max_days aria-describedby="max-lifetime-hint max-lifetime-error"
                                                aria-invalid=move || max_message().is_some().then_some("true")/>
                                            <p class="field-hint" id="max-lifetime-hint">{limit}</p>
                                            <p class="field-error" id="max-lifetime-error" role="alert">{max_message}</p>
                                        </div>
                                    </fieldset>
                                    <fieldset>
                                        <legend>"Personal tokens"</legend>
                                        <div class="field field-check">
                                            <input id="need-approval" type="checkbox" name="personal_tokens_need_approval"
                                                checked=current.personal_tokens_need_approval aria-describedby="need-approval-hint"/>
                                            <label for="need-approval">"Personal tokens need approval to act in this organization"</label>
                                            <p class="field-hint" id="need-approval-hint">"Members' personal tokens reach this organization only after an admin approves them under Access Tokens, Requests. Turning this on stops the ones not approved yet."</p>
                                        </div>
                                    </fieldset>
                                    <fieldset>
                                        <legend>"Applications"</legend>
                                        <div class="field field-check">
                                            <input id="allow-oauth-apps" type="checkbox" name="allow_oauth_apps"
                                                checked=current.allow_oauth_apps aria-describedby="allow-oauth-apps-hint"/>
                                            <label for="allow-oauth-apps">"Allow OAuth applications to act in this organization"</label>
                                            <p class="field-hint" id="allow-oauth-apps-hint">"Members can authorize applications to act in their name. Turning this off stops every application's access here at once; elsewhere they keep working."</p>
                                        </div>
                                    </fieldset>
                                    <fieldset>
                                        <legend>"Sign-in"</legend>
                                        <div class="field field-check" class:field-invalid=move || two_factor_message().is_some()>
                                            <input id="require-two-factor" type="checkbox" name="require_two_factor"
                                                checked=current.require_two_factor aria-describedby="require-two-factor-hint require-two-factor-error"
                                                aria-invalid=move || two_factor_message().is_some().then_some("true")/>
                                            <label for="require-two-factor">"Members must use two-factor sign-in"</label>
                                            <p class="field-hint" id="require-two-factor-hint">{two_factor_hint}</p>
                                            <p class="field-error" id="require-two-factor-error" role="alert">{two_factor_message}</p>
                                        </div>
                                    </fieldset>
                                    <button type="submit" class="btn btn-primary">"Save settings"</button>
                                    <Saved action=update text="Settings saved."/>
                                </ActionForm>
                            </section>
                        }.into_any()
                })
            }}
        </Transition>
    }
}
