use super::with_user;
use crate::components::{action_error, Field, FormAlert};
use crate::domain::Role;
use crate::orgs::api::{list_my_orgs, CreateOrg};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Dashboard"/>
        {with_user(|user| view! {
            <header class="page-head">
                <p class="eyebrow">"Dashboard"</p>
                <h1>"Hello, " {user.display_name.clone()}</h1>
            </header>
        })}
        // Outside `with_user`: a component with a resource must not be made
        // inside a Suspend (see `OrgLayout`).
        <MyOrganizations/>
        {with_user(|user| user.is_instance_admin.then(|| view! { <CreateOrgForm/> }))}
    }
}

#[component]
fn MyOrganizations() -> impl IntoView {
    let orgs = Resource::new(|| (), |_| list_my_orgs());
    view! {
        <section class="card">
            <h2>"Your organizations"</h2>
            <Suspense fallback=crate::components::loading>
                {move || Suspend::new(async move {
                    match orgs.await {
                        Ok(orgs) if orgs.is_empty() => view! {
                            <p class="muted">"You do not belong to any organization yet. An organization admin can add you by your email address."</p>
                        }.into_any(),
                        Ok(orgs) => view! {
                            <ul class="org-list">
                                {orgs.into_iter().map(|org| {
                                    let href = format!("/orgs/{}", org.slug);
                                    let groups = org.groups.len();
                                    view! {
                                        <li>
                                            <a href=href>{org.name}</a>
                                            <span class="badge" class:badge-accent=org.role == Role::Admin>{org.role.label()}</span>
                                            <span class="muted">{format!("you are in {groups} of its groups")}</span>
                                            {org.needs_your_two_factor.then(|| view! {
                                                <a class="badge badge-danger" href="/profile#two-factor">"Needs your two-factor sign-in"</a>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <p class="alert alert-error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CreateOrgForm() -> impl IntoView {
    let create = ServerAction::<CreateOrg>::new();
    let error = action_error(create);
    view! {
        <section class="card">
            <h2>"Create an organization"</h2>
            <p class="muted">"You become its first admin and can then add members and groups."</p>
            <ActionForm action=create>
                <FormAlert error/>
                <div class="field-row">
                    <Field id="org-name" name="name" label="Name" maxlength=80 error/>
                    <Field id="org-slug" name="slug" label="URL name" required=false maxlength=40
                        hint="Lower-case letters, digits and hyphens. Left empty, it is made from the name." error/>
                </div>
                <button type="submit" class="btn btn-primary">"Create organization"</button>
            </ActionForm>
        </section>
    }
}
