//! Admin → Organizations: every organization on the instance; create one for
//! someone, or delete one.

use super::admin_users::admin_head;
use super::with_user;
use crate::components::{action_error, format_date, loading, ErrorView, Field, FormAlert};
use crate::orgs::api::{list_all_orgs, CreateOrg, DeleteOrg};
use crate::orgs::OrgOverview;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn OrgsAdminPage() -> impl IntoView {
    view! {
        <Title text="Organizations"/>
        {with_user(|user| user.is_instance_admin.then(|| admin_head("Organizations")))}
        <OrgsPanel/>
    }
}

#[component]
fn OrgsPanel() -> impl IntoView {
    let create = ServerAction::<CreateOrg>::new();
    let delete = ServerAction::<DeleteOrg>::new();
    let orgs = Resource::new(|| (), |_| list_all_orgs());
    let create_error = action_error(create);
    let delete_error = action_error(delete);
    view! {
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match orgs.await {
                    Ok(orgs) => view! {
                        <section class="card">
                            <h2>"Organizations"</h2>
                            <FormAlert error=delete_error/>
                            {delete_error.get().and_then(|e| e.field_message("confirm")).map(|message| view! {
                                <p class="alert alert-error" role="alert">{message}</p>
                            })}
                            {if orgs.is_empty() {
                                view! { <p class="empty-note">"No organization yet."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-wrap">
                                        <table>
                                            <caption class="visually-hidden">"Organizations on this instance"</caption>
                                            <thead><tr>
                                                <th scope="col">"Organization"</th>
                                                <th scope="col">"Members"</th>
                                                <th scope="col">"Groups"</th>
                                                <th scope="col">"Tokens"</th>
                                                <th scope="col">"Created"</th>
                                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                            </tr></thead>
                                            <tbody>
                                                {orgs.into_iter().map(|org| view! { <OrgRow org delete/> }).collect_view()}
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
        <section class="card">
            <h2>"Create an organization"</h2>
            <ActionForm action=create>
                <FormAlert error=create_error/>
                <div class="field-row">
                    <Field id="admin-org-name" name="name" label="Name" maxlength=80 error=create_error/>
                    <Field id="admin-org-slug" name="slug" label="URL name" required=false maxlength=40
                        hint="Lower-case letters, digits and hyphens. Left empty, it is made from the name." error=create_error/>
                </div>
                <Field id="admin-org-admin" name="admin_email" label="Its first admin" kind="email" required=false
                    hint="The email of an existing account. Left empty, you are its first admin." error=create_error/>
                <button type="submit" class="btn btn-primary">"Create organization"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn OrgRow(org: OrgOverview, delete: ServerAction<DeleteOrg>) -> impl IntoView {
    let OrgOverview {
        slug,
        name,
        members,
        groups,
        tokens,
        created_at,
    } = org;
    let confirm_id = format!("delete-org-{slug}");
    view! {
        <tr>
            <th scope="row"><a href=format!("/orgs/{slug}")>{name.clone()}</a><br/><span class="muted">{slug.clone()}</span></th>
            <td data-label="Members">{members}</td>
            <td data-label="Groups">{groups}</td>
            <td data-label="Tokens">{tokens}</td>
            <td data-label="Created">{format_date(created_at)}</td>
            <td class="actions">
                <details class="confirm">
                    <summary class="btn btn-small btn-danger-ghost">"Delete"<span class="visually-hidden">" " {name.clone()}</span></summary>
                    <div class="confirm-panel">
                        <p>{format!("Deletes {name} with its {groups} group(s) and {tokens} token(s), which stop working at once, its applications and open invitations. Its {members} member(s) keep their accounts. This cannot be undone.")}</p>
                        <ActionForm action=delete>
                            <input type="hidden" name="org" value=slug.clone()/>
                            <div class="field">
                                <label for=confirm_id.clone()>{format!("Type {slug} to confirm")}</label>
                                <input id=confirm_id name="confirm" type="text" required autocomplete="off"/>
                            </div>
                            <button type="submit" class="btn btn-small btn-danger">{format!("Delete {name}")}</button>
                        </ActionForm>
                    </div>
                </details>
            </td>
        </tr>
    }
}
