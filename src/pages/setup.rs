use crate::app::Auth;
use crate::auth::api::SetupFirstAdmin;
use crate::auth::SessionInfo;
use crate::components::{action_error, go_to, loading, Field, FormAlert};
use leptos::prelude::*;
use leptos_meta::Title;

/// The one-time page that creates the first (instance admin) account.
#[component]
pub fn SetupPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    // Made under <Routes>, so a failed post without JavaScript finds its error.
    let action = ServerAction::<SetupFirstAdmin>::new();
    let error = action_error(action);
    view! {
        <Title text="Set up Latchkey"/>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match auth.session.await {
                    Ok(SessionInfo { needs_setup: true, setup_code_required, .. }) => view! {
                        <section class="card narrow">
                            <h1>"Welcome to Latchkey"</h1>
                            <p>"Create the first account. It becomes the instance admin, who creates organizations. This page is only offered once."</p>
                            <ActionForm action=action>
                                <FormAlert error/>
                                {setup_code_required.then(|| view! {
                                    <Field id="setup-code" name="setup_code" label="Setup code" autocomplete="off" hint="Latchkey printed it in its log when it started, because it is reachable from other machines." error/>
                                })}
                                <Field id="setup-email" name="email" label="Email" kind="email" autocomplete="email" error/>
                                <Field id="setup-name" name="display_name" label="Display name" autocomplete="name" maxlength=100 error/>
                                <Field id="setup-password" name="password" label="Password" kind="password" autocomplete="new-password" hint="At least 12 characters." error/>
                                <Field id="setup-password-confirm" name="password_confirm" label="Repeat password" kind="password" autocomplete="new-password" error/>
                                <button type="submit" class="btn btn-primary">"Create admin account"</button>
                            </ActionForm>
                        </section>
                    }
                    .into_any(),
                    _ => go_to("/".into()).into_any(),
                }
            })}
        </Suspense>
    }
}
