//! `/invite/:code`: someone invited chooses their name and password.

use super::param;
use crate::components::{action_error, format_datetime, loading, ErrorView, Field, FormAlert};
use crate::domain::Role;
use crate::people::api::{get_invitation, AcceptInvitation};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn InvitationPage() -> impl IntoView {
    let code = param("code");
    let invitation = Resource::new(move || code.get(), get_invitation);
    let accept = ServerAction::<AcceptInvitation>::new();
    let error = action_error(accept);
    view! {
        <Title text="Accept your invitation"/>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match invitation.await {
                    Ok(invitation) => {
                        let joins = match (&invitation.organization, invitation.role) {
                            (Some(org), Some(Role::Admin)) => format!(" and join {org} as an admin"),
                            (Some(org), _) => format!(" and join {org}"),
                            _ => String::new(),
                        };
                        view! {
                            <section class="card narrow">
                                <h1>"Make your Latchkey account"</h1>
                                <p>{format!("{} invited you to make an account{joins}. This link works once, until {}.", invitation.invited_by, format_datetime(invitation.expires_at))}</p>
                                <ActionForm action=accept>
                                    <FormAlert error/>
                                    <input type="hidden" name="code" value=code.get_untracked()/>
                                    <div class="field">
                                        <label for="invite-email">"Email"</label>
                                        <input id="invite-email" type="email" readonly value=invitation.email.clone() autocomplete="username"/>
                                    </div>
                                    <Field id="invite-name" name="display_name" label="Your name" maxlength=80 autocomplete="name" error/>
                                    <Field id="invite-password" name="password" label="Password" kind="password" autocomplete="new-password"
                                        hint="At least 12 characters." error/>
                                    <Field id="invite-password-confirm" name="password_confirm" label="Password again" kind="password" autocomplete="new-password" error/>
                                    <button type="submit" class="btn btn-primary">"Make my account"</button>
                                </ActionForm>
                            </section>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
