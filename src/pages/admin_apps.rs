//! Admin → Applications: every OAuth application on the instance, and which
//! confidential clients may introspect tokens (resource servers).

use super::with_user;
use crate::apps::api::{list_all_apps, SetAppIntrospection};
use crate::components::{action_error, format_date, loading, ErrorView, FormAlert};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AppsAdminPage() -> impl IntoView {
    let toggle = ServerAction::<SetAppIntrospection>::new();
    let apps = Resource::new(|| (), |_| list_all_apps());
    let error = action_error(toggle);
    view! {
        <Title text="Applications"/>
        {with_user(|user| user.is_instance_admin.then(|| super::admin_users::admin_head("Applications")))}
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match apps.await {
                    Ok(list) => view! {
                        <section class="card">
                            <h2>"Registered applications"</h2>
                            <p class="muted">"A service that checks Latchkey tokens can call introspection (RFC 7662) with its own client ID and secret once you allow it here: it then learns about any token presented to it, so allow only services you run or trust."</p>
                            <FormAlert error/>
                            {if list.is_empty() {
                                view! { <p class="empty-note">"No application is registered yet."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-wrap">
                                        <table>
                                            <caption class="visually-hidden">"Registered applications"</caption>
                                            <thead><tr>
                                                <th scope="col">"Application"</th>
                                                <th scope="col">"Owner"</th>
                                                <th scope="col">"Client ID"</th>
                                                <th scope="col">"Registered"</th>
                                                <th scope="col">"Introspection"</th>
                                            </tr></thead>
                                            <tbody>
                                                {list.into_iter().map(|entry| {
                                                    let app = entry.app;
                                                    let label = if entry.may_introspect {
                                                        format!("Stop {} introspecting", app.name)
                                                    } else {
                                                        format!("Let {} introspect", app.name)
                                                    };
                                                    view! {
                                                        <tr>
                                                            <th scope="row">{app.name.clone()}
                                                                {app.disabled.then(|| view! { " " <span class="badge badge-muted">"Disabled"</span> })}
                                                                {entry.unverified.then(|| view! { " " <span class="badge badge-muted">"Unverified"</span> })}
                                                            </th>
                                                            <td>{entry.owner}</td>
                                                            <td><code>{app.client_id.clone()}</code></td>
                                                            <td>{format_date(app.created_at)}</td>
                                                            <td>
                                                                {if app.confidential {
                                                                    view! {
                                                                        <ActionForm action=toggle>
                                                                            <input type="hidden" name="client_id" value=app.client_id.clone()/>
                                                                            <input type="hidden" name="allowed" value=(!entry.may_introspect).to_string()/>
                                                                            <span class="small">{if entry.may_introspect { "Allowed " } else { "Not allowed " }}</span>
                                                                            <button type="submit" class="btn btn-small">{label}</button>
                                                                        </ActionForm>
                                                                    }.into_any()
                                                                } else {
                                                                    view! { <span class="muted small">"Public client: cannot"</span> }.into_any()
                                                                }}
                                                            </td>
                                                        </tr>
                                                    }
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
    }
}
