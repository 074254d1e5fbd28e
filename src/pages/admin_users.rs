//! Admin → Users: everyone with an account, invitations, and what an instance
//! admin may do to an account.

use super::people::invitation_rows;
use super::with_user;
use crate::components::{
    action_error, format_date, format_datetime, loading, ErrorView, Field, FormAlert, Tab, Tabs,
};
use crate::people::api::{
    list_invitations, list_people, DeletePerson, InvitePerson, SetInstanceAdmin, SetPersonDisabled,
    WithdrawInvitation,
};
use crate::people::PersonSummary;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The sections of the instance administration.
pub fn admin_tabs() -> impl IntoView {
    view! {
        <Tabs label="Instance administration" tabs=vec![
            Tab { href: "/admin/users".into(), label: "Users" },
            Tab { href: "/admin/orgs".into(), label: "Organizations" },
            Tab { href: "/admin/apps".into(), label: "Applications" },
            Tab { href: "/admin/scopes".into(), label: "Scopes" },
        ]/>
    }
}

pub fn admin_head(title: &'static str) -> impl IntoView {
    view! {
        <header class="page-head">
            <p class="eyebrow">"Instance administration"</p>
            <h1>{title}</h1>
        </header>
        {admin_tabs()}
    }
}

#[component]
pub fn UsersAdminPage() -> impl IntoView {
    view! {
        <Title text="Users"/>
        {with_user(|user| user.is_instance_admin.then(|| admin_head("Users")))}
        <UsersPanel/>
    }
}

#[component]
fn UsersPanel() -> impl IntoView {
    let query = Memo::new(|_| use_query_map().read().get("q").unwrap_or_default());
    let set_disabled = ServerAction::<SetPersonDisabled>::new();
    let set_admin = ServerAction::<SetInstanceAdmin>::new();
    let delete = ServerAction::<DeletePerson>::new();
    let invite = ServerAction::<InvitePerson>::new();
    let withdraw = ServerAction::<WithdrawInvitation>::new();
    let people = Resource::new(move || query.get(), list_people);
    let invitations = Resource::new(|| (), |_| list_invitations());
    let row_error = Signal::derive(move || {
        action_error(set_disabled)
            .get()
            .or_else(|| action_error(set_admin).get())
            .or_else(|| action_error(delete).get())
    });
    let invite_error = action_error(invite);
    let withdraw_error = action_error(withdraw);
    view! {
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match people.await {
                    Ok(people) => view! {
                        <section class="card">
                            <h2>"People"</h2>
                            <form method="get" action="/admin/users" class="search-row" role="search">
                                <div class="field">
                                    <label for="people-search">"Find by name or email"</label>
                                    <input id="people-search" name="q" type="search" value=move || query.get()/>
                                </div>
                                <button type="submit" class="btn">"Search"</button>
                            </form>
                            <FormAlert error=row_error/>
                            {if people.is_empty() {
                                view! { <p class="empty-note">"Nobody matches."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-wrap">
                                        <table>
                                            <caption class="visually-hidden">"People with an account"</caption>
                                            <thead><tr>
                                                <th scope="col">"Person"</th>
                                                <th scope="col">"Status"</th>
                                                <th scope="col">"Organizations"</th>
                                                <th scope="col">"Personal tokens"</th>
                                                <th scope="col">"Last active"</th>
                                                <th scope="col">"Joined"</th>
                                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                            </tr></thead>
                                            <tbody>
                                                {people.into_iter().map(|person| view! {
                                                    <PersonRow person set_disabled set_admin delete/>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                }.into_any()
                            }}
                        </section>
                    }.into_any(),
                    Err(error) => view! { <section class="card"><ErrorView error/></section> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match invitations.await {
                    Ok(pending) => view! {
                        <section class="card">
                            <h2>"Invite someone"</h2>
                            <p class="muted">"An invitation is a one-time link, valid for 7 days, with which the person chooses their name and password. Latchkey does not send email: copy the link and send it yourself."</p>
                            <ActionForm action=invite>
                                <FormAlert error=invite_error/>
                                <Field id="invite-email" name="email" label="Email" kind="email" error=invite_error/>
                                <div class="field field-check">
                                    <input id="invite-admin" type="checkbox" name="instance_admin" value="true"/>
                                    <label for="invite-admin">"Make them an instance admin (they can manage every account and organization)"</label>
                                </div>
                                <button type="submit" class="btn btn-primary">"Create invitation link"</button>
                            </ActionForm>
                            <h3>"Not accepted yet"</h3>
                            <FormAlert error=withdraw_error/>
                            {if pending.is_empty() {
                                view! { <p class="empty-note">"No open invitations."</p> }.into_any()
                            } else {
                                invitation_rows(pending, |invitation| {
                                    let (id, email) = (invitation.id, invitation.email.clone());
                                    view! {
                                        <ActionForm action=withdraw>
                                            <input type="hidden" name="id" value=id/>
                                            <button type="submit" class="btn btn-small btn-danger-ghost">
                                                "Withdraw"<span class="visually-hidden">" the invitation of " {email}</span>
                                            </button>
                                        </ActionForm>
                                    }.into_any()
                                }).into_any()
                            }}
                        </section>
                    }.into_any(),
                    Err(_) => ().into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PersonRow(
    person: PersonSummary,
    set_disabled: ServerAction<SetPersonDisabled>,
    set_admin: ServerAction<SetInstanceAdmin>,
    delete: ServerAction<DeletePerson>,
) -> impl IntoView {
    let PersonSummary {
        id,
        email,
        display_name,
        is_instance_admin,
        is_disabled,
        created_at,
        organizations,
        personal_tokens,
        last_active_at,
        is_you,
    } = person;
    let consequences = format!(
        "Their {personal_tokens} personal token{} stop working at once and are deleted; they leave {organizations} organization{} and their groups; their sessions end and applications they authorized lose access. Organization and group tokens they created stay with the organization. This cannot be undone.",
        if personal_tokens == 1 { "" } else { "s" },
        if organizations == 1 { "" } else { "s" },
    );
    let toggle_word = if is_disabled { "Enable" } else { "Disable" };
    let toggle_confirm = format!("{toggle_word} {email}");
    let delete_confirm = format!("Delete {email}");
    let (for_admin, for_toggle, for_delete) = (email.clone(), email.clone(), email.clone());
    view! {
        <tr>
            <th scope="row">
                <span class="person-name">{display_name.clone()}</span>
                {is_you.then(|| view! { " " <span class="badge badge-muted">"You"</span> })}
                <br/><span class="muted">{email.clone()}</span>
            </th>
            <td>
                {if is_disabled {
                    view! { <span class="badge badge-danger">"Disabled"</span> }.into_any()
                } else {
                    view! { <span class="badge badge-success">"Active"</span> }.into_any()
                }}
                {is_instance_admin.then(|| view! { " " <span class="badge badge-accent">"Instance admin"</span> })}
            </td>
            <td data-label="Organizations">{organizations}</td>
            <td data-label="Personal tokens">{personal_tokens}</td>
            <td data-label="Last active">{last_active_at.map(format_datetime).unwrap_or_else(|| "Never".into())}</td>
            <td data-label="Joined">{format_date(created_at)}</td>
            <td class="actions">
                {(!is_you).then(move || view! {
                    <ActionForm action=set_admin>
                        <input type="hidden" name="user_id" value=id/>
                        <input type="hidden" name="instance_admin" value=(!is_instance_admin).to_string()/>
                        <button type="submit" class="btn btn-small">
                            {if is_instance_admin { "Remove instance admin" } else { "Make instance admin" }}
                            <span class="visually-hidden">" " {for_admin}</span>
                        </button>
                    </ActionForm>
                    <details class="confirm">
                        <summary class="btn btn-small">
                            {toggle_word}
                            <span class="visually-hidden">" " {for_toggle}</span>
                        </summary>
                        <div class="confirm-panel">
                            <p>{if is_disabled {
                                "They can sign in again, and their tokens work again unless they expired meanwhile."
                            } else {
                                "They are signed out everywhere and cannot sign in; their tokens are refused until you enable them again. Nothing is deleted."
                            }}</p>
                            <ActionForm action=set_disabled>
                                <input type="hidden" name="user_id" value=id/>
                                <input type="hidden" name="disabled" value=(!is_disabled).to_string()/>
                                <button type="submit" class="btn btn-small btn-danger">
                                    {toggle_confirm}
                                </button>
                            </ActionForm>
                        </div>
                    </details>
                    <details class="confirm">
                        <summary class="btn btn-small btn-danger-ghost">"Delete"<span class="visually-hidden">" " {for_delete}</span></summary>
                        <div class="confirm-panel">
                            <p>{consequences}</p>
                            <ActionForm action=delete>
                                <input type="hidden" name="user_id" value=id/>
                                <button type="submit" class="btn btn-small btn-danger">{delete_confirm}</button>
                            </ActionForm>
                        </div>
                    </details>
                })}
            </td>
        </tr>
    }
}
