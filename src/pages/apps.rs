//! Profile → Apps and Connections (the apps a person let act in their name)
//! and Profile → Developer applications (the OAuth apps they registered).

use super::profile::profile_tabs;
use super::with_user;
use crate::apps::api::{
    list_connections, list_my_apps, list_org_app_use, registrable_scopes, DeleteApp, RegisterApp,
    RevokeConnection, RotateAppSecret, SetAppBlockedInOrg, SetAppDisabled, UpdateApp,
};
use crate::apps::AppSummary;
use crate::components::{
    action_error, format_date, format_datetime, loading, ErrorView, Field, FormAlert, TabErrorView,
};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

fn profile_head(title: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        {with_user(|user| view! {
            <header class="page-head">
                <p class="eyebrow">"Profile"</p>
                <h1>{user.display_name}</h1>
            </header>
            {profile_tabs()}
        })}
    }
}

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeConnection>::new();
    let connections = Resource::new(|| (), |_| list_connections());
    let error = action_error(revoke);
    view! {
        {profile_head("Apps and Connections")}
        <section class="card">
            <h2>"Apps and Connections"</h2>
            <p class="muted">"Applications you allowed to act in your name. Each acts only with the permissions listed, and only while you still have them. Revoking access ends every token the application holds for you, at once."</p>
            <FormAlert error/>
            <Transition fallback=loading>
                {move || Suspend::new(async move {
                    match connections.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty-note">"You have not authorized any application."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap">
                                <table>
                                    <caption class="visually-hidden">"Applications you authorized"</caption>
                                    <thead><tr>
                                        <th scope="col">"Application"</th>
                                        <th scope="col">"May"</th>
                                        <th scope="col">"Acts in"</th>
                                        <th scope="col">"Authorized"</th>
                                        <th scope="col">"Last used"</th>
                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|c| {
                                            let label = format!("Revoke access of {}", c.app_name);
                                            view! {
                                                <tr>
                                                    <th scope="row">{c.app_name.clone()}<span class="muted small block">"by " {c.app_owner.clone()}</span></th>
                                                    <td><ul class="chips" aria-label="Scopes">
                                                        {c.scopes.iter().map(|s| view! { <li><code>{s.clone()}</code></li> }).collect_view()}
                                                    </ul></td>
                                                    <td>{c.organizations.clone().map(|o| o.join(", ")).unwrap_or_else(|| "All your organizations".into())}</td>
                                                    <td>{format_date(c.granted_at)}</td>
                                                    <td>{c.last_used_at.map(format_datetime).unwrap_or_else(|| "Never".into())}</td>
                                                    <td class="actions">
                                                        <details class="confirm">
                                                            <summary class="btn btn-small btn-danger-ghost">"Revoke access"<span class="visually-hidden">" of " {c.app_name.clone()}</span></summary>
                                                            <div class="confirm-panel">
                                                                <p>"The application's tokens stop working at once; it must ask you again to come back."</p>
                                                                <ActionForm action=revoke>
                                                                    <input type="hidden" name="grant_id" value=c.grant_id.to_string()/>
                                                                    <button type="submit" class="btn btn-small btn-danger">{label}</button>
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
                        }.into_any(),
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
pub fn DeveloperAppsPage() -> impl IntoView {
    view! {
        {profile_head("Developer applications")}
        <AppsPanel org=String::new()/>
    }
}

/// Organization → Applications: the applications acting in the organization,
/// and the ones it owns.
#[component]
pub fn OrgAppsTab() -> impl IntoView {
    let org = super::param("org").get_untracked();
    view! {
        <AppsInOrg org=org.clone()/>
        <AppsPanel org/>
    }
}

#[component]
fn AppsInOrg(org: String) -> impl IntoView {
    let block = ServerAction::<SetAppBlockedInOrg>::new();
    let apps = Resource::new(|| (), {
        let org = org.clone();
        move |_| list_org_app_use(org.clone())
    });
    let error = action_error(block);
    view! {
        <Transition fallback=loading>
            {move || {
                let org = org.clone();
                Suspend::new(async move {
                    let apps = match apps.await {
                        Ok(apps) => apps,
                        Err(error) => return view! { <TabErrorView error/> }.into_any(),
                    };
                    view! {
                        <section class="card">
                            <h2>"Applications acting here"</h2>
                            <p class="muted">"Applications your members authorized to act in their name in this organization. Stopping one here ends its access to this organization for everyone, at once; elsewhere it keeps working."</p>
                            <FormAlert error/>
                            {if apps.is_empty() {
                                view! {
                                    <p class="empty-note">"No application acts in this organization."</p>
                                }.into_any()
                            } else {
                                view! {
                                    <div class="table-wrap">
                                        <table>
                                            <caption class="visually-hidden">"Applications acting in this organization"</caption>
                                            <thead><tr>
                                                <th scope="col">"Application"</th>
                                                <th scope="col">"Owner"</th>
                                                <th scope="col">"People"</th>
                                                <th scope="col">"Last used"</th>
                                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                            </tr></thead>
                                            <tbody>
                                                {apps.into_iter().map(|app| {
                                                    let org = org.clone();
                                                    let label = if app.blocked {
                                                        format!("Allow {} again", app.name)
                                                    } else {
                                                        format!("Stop {} here", app.name)
                                                    };
                                                    view! {
                                                        <tr>
                                                            <th scope="row">{app.name.clone()}
                                                                {app.blocked.then(|| view! { " " <span class="badge badge-muted">"Stopped here"</span> })}
                                                            </th>
                                                            <td>{app.owner.clone()}</td>
                                                            <td>{app.people}</td>
                                                            <td>{app.last_used_at.map(format_datetime).unwrap_or_else(|| "Never".into())}</td>
                                                            <td class="actions">
                                                                <ActionForm action=block>
                                                                    <input type="hidden" name="org" value=org/>
                                                                    <input type="hidden" name="client_id" value=app.client_id.clone()/>
                                                                    <input type="hidden" name="blocked" value=(!app.blocked).to_string()/>
                                                                    <button type="submit" class="btn btn-small btn-danger-ghost">{label}</button>
                                                                </ActionForm>
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
                    }.into_any()
                })
            }}
        </Transition>
    }
}

/// The applications a person or an organization (`org` not empty) owns, and
/// the form that registers one.
#[component]
fn AppsPanel(org: String) -> impl IntoView {
    let register = ServerAction::<RegisterApp>::new();
    let rotate = ServerAction::<RotateAppSecret>::new();
    let update = ServerAction::<UpdateApp>::new();
    let options = Resource::new(|| (), |_| registrable_scopes());
    let set_disabled = ServerAction::<SetAppDisabled>::new();
    let delete = ServerAction::<DeleteApp>::new();
    let apps = Resource::new(|| (), {
        let org = org.clone();
        move |_| list_my_apps(org.clone())
    });
    let for_org = !org.is_empty();
    let row_error = Signal::derive(move || {
        action_error(rotate)
            .get()
            .or_else(|| action_error(set_disabled).get())
            .or_else(|| action_error(delete).get())
    });
    view! {
        <section class="card">
            {if for_org {
                view! {
                    <h2>"Applications of this organization"</h2>
                    <p class="muted">"OAuth applications this organization owns; every admin of it manages them."</p>
                }.into_any()
            } else {
                view! {
                    <h2>"Developer applications"</h2>
                    <p class="muted">"OAuth applications you registered. People sign in to them with Latchkey and choose what they may do; the application then calls the Latchkey API, or services that check Latchkey tokens, in their name."</p>
                }.into_any()
            }}
            <FormAlert error=row_error/>
            <Transition fallback=loading>
                {move || Suspend::new(async move {
                    match apps.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty-note">"You have not registered any application."</p>
                        }.into_any(),
                        Ok(list) => list.into_iter().map(|app| view! {
                            <AppCard app update options rotate set_disabled delete/>
                        }).collect_view().into_any(),
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <RegisterForm action=register org options/>
    }
}

#[component]
fn AppCard(
    app: AppSummary,
    update: ServerAction<UpdateApp>,
    options: Resource<Result<Vec<(String, String)>, AppError>>,
    rotate: ServerAction<RotateAppSecret>,
    set_disabled: ServerAction<SetAppDisabled>,
    delete: ServerAction<DeleteApp>,
) -> impl IntoView {
    let heading = format!("app-{}", app.client_id);
    let labelled_by = heading.clone();
    let client_id = app.client_id.clone();
    let (toggle_id, delete_id) = (client_id.clone(), client_id.clone());
    let name = app.name.clone();
    let (toggle_name, delete_name, delete_label) =
        (name.clone(), name.clone(), format!("Delete {name}"));
    view! {
        <article class="app-card" aria-labelledby=labelled_by>
            <h3 id=heading>{app.name.clone()}
                {app.disabled.then(|| view! { " " <span class="badge badge-muted">"Disabled"</span> })}
            </h3>
            {(!app.description.is_empty()).then(|| view! { <p>{app.description.clone()}</p> })}
            <dl class="facts">
                <dt>"Client ID"</dt><dd><code>{app.client_id.clone()}</code></dd>
                <dt>"Client type"</dt>
                <dd>{if app.confidential { "Confidential (has a secret)" } else { "Public (PKCE only, no secret)" }}</dd>
                {app.secret_hint.clone().map(|hint| view! { <dt>"Client secret"</dt><dd><code>{hint}</code></dd> })}
                <dt>"Redirect URIs"</dt>
                <dd><ul class="plain-list">{app.redirect_uris.iter().map(|u| view! { <li><code>{u.clone()}</code></li> }).collect_view()}</ul></dd>
                <dt>"May ask for"</dt>
                <dd><ul class="chips" aria-label="Scopes">{app.scopes.iter().map(|s| view! { <li><code>{s.clone()}</code></li> }).collect_view()}</ul></dd>
                <dt>"Registered"</dt><dd>{format_date(app.created_at)}</dd>
            </dl>
            <EditApp app=app.clone() update options/>
            <div class="row-actions">
                {app.confidential.then(|| {
                    let client_id = client_id.clone();
                    let name = name.clone();
                    view! {
                        <ActionForm action=rotate>
                            <input type="hidden" name="client_id" value=client_id/>
                            <button type="submit" class="btn btn-small">"Replace secret"<span class="visually-hidden">" of " {name}</span></button>
                        </ActionForm>
                    }
                })}
                <ActionForm action=set_disabled>
                    <input type="hidden" name="client_id" value=toggle_id/>
                    <input type="hidden" name="disabled" value=(!app.disabled).to_string()/>
                    <button type="submit" class="btn btn-small">
                        {if app.disabled { "Enable" } else { "Disable" }}<span class="visually-hidden">" " {toggle_name}</span>
                    </button>
                </ActionForm>
                <details class="confirm">
                    <summary class="btn btn-small btn-danger-ghost">"Delete"<span class="visually-hidden">" " {delete_name}</span></summary>
                    <div class="confirm-panel">
                        <p>"Everyone's access to it ends at once and its client ID stops working for good."</p>
                        <ActionForm action=delete>
                            <input type="hidden" name="client_id" value=delete_id/>
                            <button type="submit" class="btn btn-small btn-danger">{delete_label}</button>
                        </ActionForm>
                    </div>
                </details>
            </div>
        </article>
    }
}

/// Edit an application in place: a closed section until opened, a plain
/// form without JavaScript. A refused change comes back with its fields.
#[component]
fn EditApp(
    app: AppSummary,
    update: ServerAction<UpdateApp>,
    options: Resource<Result<Vec<(String, String)>, AppError>>,
) -> impl IntoView {
    let error = action_error(update);
    let client_id = app.client_id.clone();
    // Only the refusal of this app's form is shown here.
    let mine = {
        let client_id = client_id.clone();
        move || {
            error
                .get()
                .filter(|e| e.echoed("client_id").as_deref() == Some(client_id.as_str()))
        }
    };
    let typed = {
        let mine = mine.clone();
        move |field: &'static str, saved: String| {
            mine().and_then(|e| e.echoed(field)).unwrap_or(saved)
        }
    };
    let message = {
        let mine = mine.clone();
        move |field: &'static str| mine().and_then(|e| e.field_message(field))
    };
    let id = |field: &str| format!("edit-{field}-{}", app.client_id);
    let (name_id, description_id, homepage_id, uris_id) = (
        id("name"),
        id("description"),
        id("homepage"),
        id("redirects"),
    );
    let chosen = app.scopes.clone();
    let open = mine().is_some();
    let (m_name, m_uris, m_uris_text, m_scopes) = (
        message.clone(),
        message.clone(),
        message.clone(),
        message.clone(),
    );
    let (t_name, t_description, t_homepage, t_uris) =
        (typed.clone(), typed.clone(), typed.clone(), typed);
    view! {
        <details class="edit-app" open=open>
            <summary class="btn btn-small">"Edit"<span class="visually-hidden">" " {app.name.clone()}</span></summary>
            <ActionForm action=update>
                <input type="hidden" name="client_id" value=client_id/>
                <div class="field" class:field-invalid=move || m_name("name").is_some()>
                    <label for=name_id.clone()>"Name"</label>
                    <input id=name_id type="text" name="name" maxlength="80" required value=t_name("name", app.name.clone())/>
                    <p class="field-error" role="alert">{move || message("name")}</p>
                </div>
                <div class="field">
                    <label for=description_id.clone()>"Description"</label>
                    <textarea id=description_id name="description" rows="2" maxlength="500">{t_description("description", app.description.clone())}</textarea>
                </div>
                <div class="field">
                    <label for=homepage_id.clone()>"Homepage URL"</label>
                    <input id=homepage_id type="url" name="homepage_url" value=t_homepage("homepage_url", app.homepage_url.clone())/>
                </div>
                <div class="field" class:field-invalid=move || m_uris("redirect_uris").is_some()>
                    <label for=uris_id.clone()>"Redirect URIs"</label>
                    <textarea id=uris_id name="redirect_uris" rows="3" required>{t_uris("redirect_uris", app.redirect_uris.join("\n"))}</textarea>
                    <p class="field-error" role="alert">{move || m_uris_text("redirect_uris")}</p>
                </div>
                <fieldset class="field">
                    <legend>"Scopes it may ask for"</legend>
                    <Suspense fallback=loading>
                        {
                            let chosen = chosen.clone();
                            let client_id = app.client_id.clone();
                            move || {
                                let chosen = chosen.clone();
                                let client_id = client_id.clone();
                                Suspend::new(async move {
                                    options.await.unwrap_or_default().into_iter().map(|(name, description)| {
                                        let id = format!("edit-scope-{}-{client_id}", name.replace([':', '.'], "-"));
                                        let checked = chosen.contains(&name);
                                        view! {
                                            <div class="field field-check">
                                                <input id=id.clone() type="checkbox" name="scopes[]" value=name.clone() checked=checked/>
                                                <label for=id><code>{name}</code>" " {description}</label>
                                            </div>
                                        }
                                    }).collect_view()
                                })
                            }
                        }
                    </Suspense>
                    <p class="field-hint">"Scopes taken away are taken from everyone's access at once."</p>
                    <p class="field-error" role="alert">{move || m_scopes("scopes")}</p>
                </fieldset>
                <button type="submit" class="btn btn-primary btn-small">"Save changes"</button>
            </ActionForm>
        </details>
    }
}

#[component]
fn RegisterForm(
    action: ServerAction<RegisterApp>,
    org: String,
    options: Resource<Result<Vec<(String, String)>, AppError>>,
) -> impl IntoView {
    let error = action_error(action);
    let scopes = options;
    let message =
        move |field: &'static str| move || error.get().and_then(|e| e.field_message(field));
    let typed_uris = move || {
        error
            .get()
            .and_then(|e| e.echoed("redirect_uris"))
            .unwrap_or_default()
    };
    let typed_description = move || {
        error
            .get()
            .and_then(|e| e.echoed("description"))
            .unwrap_or_default()
    };
    let typed_scopes = move || {
        error
            .get_untracked()
            .and_then(|e| e.echoed("scopes"))
            .unwrap_or_default()
    };
    let public = move || {
        error
            .get()
            .and_then(|e| e.echoed("client_type"))
            .is_some_and(|t| t == "public")
    };
    view! {
        <section class="card" aria-labelledby="register-app-title">
            <h2 id="register-app-title">"Register an application"</h2>
            <ActionForm action>
                <FormAlert error/>
                <input type="hidden" name="org" value=org/>
                <Field id="app-name" name="name" label="Name" maxlength=80 error/>
                <div class="field" class:field-invalid=move || message("description")().is_some()>
                    <label for="app-description">"Description"</label>
                    <textarea id="app-description" name="description" rows="2" maxlength="500"
                        aria-describedby="app-description-error">{typed_description}</textarea>
                    <p class="field-error" id="app-description-error" role="alert">{message("description")}</p>
                </div>
                <Field id="app-homepage" name="homepage_url" label="Homepage URL" kind="url" required=false error/>
                <div class="field" class:field-invalid=move || message("redirect_uris")().is_some()>
                    <label for="app-redirects">"Redirect URIs"</label>
                    <textarea id="app-redirects" name="redirect_uris" rows="3" required
                        aria-describedby="app-redirects-hint app-redirects-error"
                        aria-invalid=move || message("redirect_uris")().is_some().then_some("true")>{typed_uris}</textarea>
                    <p class="field-hint" id="app-redirects-hint">"One per line, matched exactly. https, or http://127.0.0.1 or http://[::1] for apps on a person's own computer (any port)."</p>
                    <p class="field-error" id="app-redirects-error" role="alert">{message("redirect_uris")}</p>
                </div>
                <fieldset class="field">
                    <legend>"Client type"</legend>
                    <div class="field field-check">
                        <input id="app-confidential" type="radio" name="client_type" value="confidential" checked=move || !public()/>
                        <label for="app-confidential">"Confidential: runs on a server that can keep a secret"</label>
                    </div>
                    <div class="field field-check">
                        <input id="app-public" type="radio" name="client_type" value="public" checked=public/>
                        <label for="app-public">"Public: a browser or desktop app (no secret; PKCE protects it)"</label>
                    </div>
                </fieldset>
                <fieldset class="field" class:field-invalid=move || message("scopes")().is_some() aria-describedby="app-scopes-error">
                    <legend>"Scopes it may ask for"</legend>
                    <Suspense fallback=loading>
                        {move || Suspend::new(async move {
                            let ticked: Vec<String> = typed_scopes().split_whitespace().map(str::to_string).collect();
                            scopes.await.unwrap_or_default().into_iter().map(|(name, description)| {
                                let id = format!("app-scope-{}", name.replace([':', '.'], "-"));
                                let checked = ticked.contains(&name);
                                view! {
                                    <div class="field field-check">
                                        <input id=id.clone() type="checkbox" name="scopes[]" value=name.clone() checked=checked/>
                                        <label for=id><code>{name}</code>" " {description}</label>
                                    </div>
                                }
                            }).collect_view()
                        })}
                    </Suspense>
                    <p class="field-error" id="app-scopes-error" role="alert">{message("scopes")}</p>
                </fieldset>
                <button type="submit" class="btn btn-primary">"Register application"</button>
            </ActionForm>
        </section>
    }
}
