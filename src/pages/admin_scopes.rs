//! Admin → Scopes: the custom scopes services check through introspection.

use super::with_user;
use crate::access::BUILT_IN_SCOPES;
use crate::components::{action_error, loading, ErrorView, Field, FormAlert, Saved};
use crate::scopes::api::{list_custom_scopes, CreateCustomScope, DeleteCustomScope};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ScopesAdminPage() -> impl IntoView {
    view! {
        <Title text="Scopes"/>
        {with_user(|user| user.is_instance_admin.then(|| super::admin_users::admin_head("Scopes")))}
        <ScopesPanel/>
    }
}

#[component]
fn ScopesPanel() -> impl IntoView {
    let create = ServerAction::<CreateCustomScope>::new();
    let delete = ServerAction::<DeleteCustomScope>::new();
    let scopes = Resource::new(|| (), |_| list_custom_scopes());
    let error = action_error(create);
    let delete_error = action_error(delete);
    view! {
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match scopes.await {
                    Ok(custom) => view! {
                        <section class="card">
                            <h2>"Services"</h2>
                            <p class="muted">"Scopes of your own, for the services that check Latchkey tokens through introspection (RFC 7662): they read a token's scopes in its "<code>"scope"</code>" field. People choose them when they create a token."</p>
                            <FormAlert error=delete_error/>
                            {if custom.is_empty() {
                                view! { <p class="empty-note">"No service scopes yet."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-wrap">
                                        <table>
                                            <caption class="visually-hidden">"Service scopes"</caption>
                                            <thead><tr>
                                                <th scope="col">"Scope"</th>
                                                <th scope="col">"What it allows"</th>
                                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                            </tr></thead>
                                            <tbody>
                                                {custom.into_iter().map(|scope| {
                                                    let confirm = format!("Delete scope {}", scope.name);
                                                    view! {
                                                        <tr>
                                                            <th scope="row"><code>{scope.name.clone()}</code></th>
                                                            <td>{scope.description}</td>
                                                            <td class="actions">
                                                                <details class="confirm">
                                                                    <summary class="btn btn-small btn-danger-ghost">"Delete"<span class="visually-hidden">" " {scope.name.clone()}</span></summary>
                                                                    <div class="confirm-panel">
                                                                        <p>"Every token holding it loses it at once, and services stop seeing it."</p>
                                                                        <ActionForm action=delete>
                                                                            <input type="hidden" name="name" value=scope.name/>
                                                                            <button type="submit" class="btn btn-small btn-danger">{confirm}</button>
                                                                        </ActionForm>
                                                                    </div>
                                                                </details>
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
                        <section class="card">
                            <h2>"Define a scope"</h2>
                            <ActionForm action=create>
                                <FormAlert error/>
                                <div class="field-row">
                                    <Field id="scope-name" name="name" label="Name" maxlength=64
                                        hint="Such as billing:read: lower-case letters, digits, '_', '.' and '-', in parts joined by ':'." error/>
                                    <Field id="scope-description" name="description" label="What it allows" maxlength=200 error/>
                                </div>
                                <button type="submit" class="btn btn-primary">"Add scope"</button>
                                <Saved action=create text="Scope added."/>
                            </ActionForm>
                        </section>
                        <section class="card">
                            <h2>"Latchkey API"</h2>
                            <p class="muted">"Built in: what Latchkey's own API checks."</p>
                            <dl class="scope-list">
                                {BUILT_IN_SCOPES.iter().map(|scope| view! {
                                    <dt><code>{scope.name}</code></dt>
                                    <dd>{scope.description}</dd>
                                }).collect_view()}
                            </dl>
                        </section>
                    }.into_any(),
                    Err(error) => view! { <section class="card"><ErrorView error/></section> }.into_any(),
                }
            })}
        </Transition>
    }
}
