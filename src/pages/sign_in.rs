use crate::app::Auth;
use crate::auth::api::SignIn;
use crate::auth::SessionInfo;
use crate::components::{action_error, loading, Field, FormAlert};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    // Made under <Routes>, so a failed post without JavaScript finds its error.
    let action = ServerAction::<SignIn>::new();
    let error = action_error(action);
    view! {
        <Title text="Sign in"/>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match auth.session.await {
                    Ok(SessionInfo { needs_setup: true, .. }) => view! { <Redirect path="/setup"/> }.into_any(),
                    Ok(SessionInfo { user: Some(_), .. }) => view! { <Redirect path="/"/> }.into_any(),
                    _ => view! {
                        <section class="card narrow">
                            <h1>"Sign in"</h1>
                            <ActionForm action=action>
                                <FormAlert error/>
                                <Field id="signin-email" name="email" label="Email" kind="email" autocomplete="username" error/>
                                <Field id="signin-password" name="password" label="Password" kind="password" autocomplete="current-password" error/>
                                <button type="submit" class="btn btn-primary">"Sign in"</button>
                            </ActionForm>
                        </section>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}
