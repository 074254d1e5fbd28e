use crate::app::Auth;
use crate::auth::api::{SignIn, SignInCode};
use crate::auth::SessionInfo;
use crate::components::{action_error, go_to, loading, Field, FormAlert};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    // Made under <Routes>, so a refused post finds its error.
    let action = ServerAction::<SignIn>::new();
    let error = action_error(action);
    // Where to go afterwards (an OAuth authorization request, say), carried
    // through the post.
    let next = move || {
        use_query_map()
            .read_untracked()
            .get("next")
            .filter(|next| crate::auth::local_path(next).is_some())
    };
    view! {
        <Title text="Sign in"/>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match auth.session.await {
                    Ok(SessionInfo { needs_setup: true, .. }) => go_to("/setup".into()).into_any(),
                    Ok(SessionInfo { user: Some(_), .. }) => match next() {
                        Some(next) => view! { <p class="card narrow">"Signed in. "<a href=next rel="external">"Continue"</a></p> }.into_any(),
                        None => go_to("/".into()).into_any(),
                    },
                    _ => {
                        let fields = view! {
                            <FormAlert error/>
                            <Field id="signin-email" name="email" label="Email" kind="email" autocomplete="username" error/>
                            <Field id="signin-password" name="password" label="Password" kind="password" autocomplete="current-password" error/>
                            <button type="submit" class="btn btn-primary">"Sign in"</button>
                        };
                        view! {
                            <section class="card narrow">
                                <h1>"Sign in"</h1>
                                <ActionForm action=action>
                                    {next().map(|next| view! { <input type="hidden" name="next" value=next/> })}
                                    {fields}
                                </ActionForm>
                            </section>
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// `/sign-in/two-factor`: the code after a right password.
#[component]
pub fn SecondFactorPage() -> impl IntoView {
    // Made under <Routes>, so a refused code comes back to this page with its
    // error.
    let action = ServerAction::<SignInCode>::new();
    let error = action_error(action);
    view! {
        <Title text="Two-factor sign-in"/>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                let next = use_query_map()
                    .read_untracked()
                    .get("next")
                    .or_else(|| error.get_untracked().and_then(|e| e.echoed("next")))
                    .filter(|next| crate::auth::local_path(next).is_some())
                    .unwrap_or_default();
                view! {
                    <section class="card narrow">
                        <h1>"Enter your code"</h1>
                        <p>"Open your authenticator app and enter the 6-digit code it shows for Latchkey. Lost your device? Enter one of your recovery codes instead."</p>
                        // A plain post: the server's redirect (perhaps to a page
                        // outside the app, such as an authorization request) is
                        // followed by the browser itself.
                        <form method="post" action="/rpc/sign_in_code">
                            <FormAlert error/>
                            <input type="hidden" name="next" value=next/>
                            <Field id="sign-in-code" name="code" label="Authentication code" autocomplete="one-time-code" maxlength=20 error/>
                            <button type="submit" class="btn btn-primary">"Verify"</button>
                        </form>
                        <p class="muted"><a href="/sign-in">"Start again"</a></p>
                    </section>
                }
            })}
        </Suspense>
    }
}
