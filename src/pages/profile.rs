//! Profile → Account: name, email, password and sessions.

use super::with_user;
use crate::account::api::{
    get_two_factor, list_my_sessions, BeginTwoFactor, ChangeDisplayName, ChangeEmail,
    ChangePassword, ConfirmTwoFactor, DisableTwoFactor, EndOtherSessions, EndSession,
};
use crate::account::{SessionView, TwoFactorStatus};
use crate::components::{
    action_error, format_datetime, loading, ErrorView, Field, FormAlert, Saved, Tab, Tabs,
};
use leptos::prelude::*;
use leptos_meta::Title;

pub(crate) fn profile_tabs() -> impl IntoView {
    view! {
        <Tabs label="Profile sections" tabs=vec![
            Tab { href: "/profile".into(), label: "Account" },
            Tab { href: "/profile/tokens".into(), label: "Access Tokens" },
            Tab { href: "/profile/connections".into(), label: "Apps and Connections" },
            Tab { href: "/profile/apps".into(), label: "Developer applications" },
        ]/>
    }
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Your account"/>
        {with_user(|user| view! {
            <header class="page-head">
                <p class="eyebrow">"Profile"</p>
                <h1>{user.display_name.clone()}</h1>
            </header>
            {profile_tabs()}
            <section class="card">
                <dl class="facts">
                    <dt>"Email"</dt><dd>{user.email.clone()}</dd>
                    <dt>"Instance role"</dt>
                    <dd>{if user.is_instance_admin { "Instance admin (manages accounts and organizations)" } else { "Member" }}</dd>
                </dl>
            </section>
        })}
        <AccountForms/>
        <TwoFactor/>
        <Sessions/>
    }
}

#[component]
fn AccountForms() -> impl IntoView {
    let name = ServerAction::<ChangeDisplayName>::new();
    let email = ServerAction::<ChangeEmail>::new();
    let password = ServerAction::<ChangePassword>::new();
    let name_error = action_error(name);
    let email_error = action_error(email);
    let password_error = action_error(password);
    with_user(move |user| {
        view! {
            <section class="card">
                <h2>"Display name"</h2>
                <ActionForm action=name>
                    <FormAlert error=name_error/>
                    <Field id="account-name" name="display_name" label="Display name" maxlength=80 autocomplete="name"
                        value=user.display_name.clone() error=name_error/>
                    <button type="submit" class="btn btn-primary">"Save name"</button>
                    <Saved action=name text="Name saved."/>
                </ActionForm>
            </section>
            <section class="card">
                <h2>"Email"</h2>
                <p class="muted">"You sign in with it. Enter your current password to change it."</p>
                <ActionForm action=email>
                    <FormAlert error=email_error/>
                    <div class="field-row">
                        <Field id="account-email" name="email" label="New email" kind="email" autocomplete="email" error=email_error/>
                        <Field id="account-email-password" name="current_password" label="Current password" kind="password" autocomplete="current-password" error=email_error/>
                    </div>
                    <button type="submit" class="btn btn-primary">"Change email"</button>
                    <Saved action=email text="Email changed."/>
                </ActionForm>
            </section>
            <section class="card">
                <h2>"Password"</h2>
                <p class="muted">"Changing it signs you out everywhere else."</p>
                <ActionForm action=password>
                    <FormAlert error=password_error/>
                    <Field id="account-current-password" name="current_password" label="Current password" kind="password" autocomplete="current-password" error=password_error/>
                    <div class="field-row">
                        <Field id="account-new-password" name="new_password" label="New password" kind="password" autocomplete="new-password"
                            hint="At least 12 characters." error=password_error/>
                        <Field id="account-new-password-confirm" name="new_password_confirm" label="New password again" kind="password" autocomplete="new-password" error=password_error/>
                    </div>
                    <button type="submit" class="btn btn-primary">"Change password"</button>
                    <Saved action=password text="Password changed. Your other sessions were signed out."/>
                </ActionForm>
            </section>
        }
    })
}

#[component]
fn Sessions() -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    let end_others = ServerAction::<EndOtherSessions>::new();
    let sessions = Resource::new(|| (), |_| list_my_sessions());
    let error = Signal::derive(move || {
        action_error(end)
            .get()
            .or_else(|| action_error(end_others).get())
    });
    view! {
        <section class="card">
            <h2>"Sessions"</h2>
            <p class="muted">"Browsers signed in as you. Sign out any you do not recognise, then change your password."</p>
            <FormAlert error/>
            <Transition fallback=loading>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(sessions) => {
                            let others = sessions.iter().filter(|s| !s.current).count();
                            view! {
                                <ul class="session-list">
                                    {sessions.into_iter().map(|session| view! { <SessionItem session end/> }).collect_view()}
                                </ul>
                                {(others > 0).then(|| view! {
                                    <ActionForm action=end_others>
                                        <button type="submit" class="btn btn-danger-ghost">"Sign out everywhere else"</button>
                                    </ActionForm>
                                })}
                            }.into_any()
                        }
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SessionItem(session: SessionView, end: ServerAction<EndSession>) -> impl IntoView {
    let SessionView {
        handle,
        current,
        browser,
        ip,
        signed_in_at,
        last_seen_at,
    } = session;
    let place = if ip.is_empty() {
        "an unknown address".to_string()
    } else {
        ip
    };
    view! {
        <li class="session">
            <div>
                <strong>{browser.clone()}</strong>
                {current.then(|| view! { " " <span class="badge badge-accent">"This browser"</span> })}
                <p class="muted">
                    {format!("From {place}. Signed in {}; last active {}.", format_datetime(signed_in_at), format_datetime(last_seen_at))}
                </p>
            </div>
            {(!current).then(|| view! {
                <ActionForm action=end>
                    <input type="hidden" name="handle" value=handle/>
                    <button type="submit" class="btn btn-small btn-danger-ghost">"Sign out"<span class="visually-hidden">" " {browser}</span></button>
                </ActionForm>
            })}
        </li>
    }
}

#[component]
fn TwoFactor() -> impl IntoView {
    let begin = ServerAction::<BeginTwoFactor>::new();
    let confirm = ServerAction::<ConfirmTwoFactor>::new();
    let disable = ServerAction::<DisableTwoFactor>::new();
    let status = Resource::new(|| (), |_| get_two_factor());
    let begin_error = action_error(begin);
    let confirm_error = action_error(confirm);
    let disable_error = action_error(disable);
    view! {
        <section class="card" id="two-factor">
            <h2>"Two-factor sign-in"</h2>
            <Transition fallback=loading>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(TwoFactorStatus { enabled: true, recovery_codes_left, required_by, .. }) => view! {
                            <p><span class="badge badge-success">"On"</span>" Signing in asks for a code from your authenticator app after your password."</p>
                            <p class="muted">{format!("{recovery_codes_left} unused recovery code{} left.", if recovery_codes_left == 1 { "" } else { "s" })}</p>
                            {(!required_by.is_empty()).then(|| view! {
                                <p class="muted">{format!("Required by {}: turning it off shuts you out of {} until you turn it on again.", and_list(&required_by), if required_by.len() == 1 { "it" } else { "them" })}</p>
                            })}
                            <ActionForm action=disable>
                                <FormAlert error=disable_error/>
                                <Field id="two-factor-disable-code" name="code" label="Code to turn it off" autocomplete="one-time-code" maxlength=20
                                    hint="A code from your app, or a recovery code." error=disable_error/>
                                <button type="submit" class="btn btn-danger-ghost">"Turn off two-factor sign-in"</button>
                            </ActionForm>
                        }.into_any(),
                        Ok(TwoFactorStatus { enrolment: Some(enrolment), .. }) => view! {
                            <p>"Scan this QR code with an authenticator app (such as Aegis, Google Authenticator or 1Password), then enter the code it shows."</p>
                            <div class="qr-code" role="img" aria-label="QR code for your authenticator app" inner_html=enrolment.qr_svg></div>
                            <p class="muted">"Cannot scan it? Type this key into the app: "<code class="secret-key">{enrolment.secret}</code></p>
                            <ActionForm action=confirm>
                                <FormAlert error=confirm_error/>
                                <Field id="two-factor-confirm-code" name="code" label="Code from the app" autocomplete="one-time-code" maxlength=6 error=confirm_error/>
                                <button type="submit" class="btn btn-primary">"Turn on"</button>
                            </ActionForm>
                        }.into_any(),
                        Ok(TwoFactorStatus { required_by, .. }) => view! {
                            <p><span class="badge badge-muted">"Off"</span>" Add a second step to signing in: a code from an app on your phone, so a stolen password alone is not enough."</p>
                            {(!required_by.is_empty()).then(|| view! {
                                <p class="alert alert-warning" role="status">{format!("{} require{} two-factor sign-in: turn it on to work in {}.", and_list(&required_by), if required_by.len() == 1 { "s" } else { "" }, if required_by.len() == 1 { "it" } else { "them" })}</p>
                            })}
                            <ActionForm action=begin>
                                <FormAlert error=begin_error/>
                                <button type="submit" class="btn btn-primary">"Set up two-factor sign-in"</button>
                            </ActionForm>
                        }.into_any(),
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// "A", "A and B", "A, B and C".
fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
