//! The page a new secret is shown on, once: a token's, an OAuth application's
//! credentials, an invitation link or two-factor recovery codes.
//!
//! Forms that mint a secret are plain posts; `tokens::secret_page` turns the
//! answer into a redirect here, claims the one showing and hands the secret
//! to this page through the render's context. Nothing else can reach it, so
//! a reload (or any later visit) finds no secret and says it was shown.

use crate::account::RecoveryCodes;
use crate::apps::IssuedCredentials;
use crate::components::{format_datetime, CopyButton, SecretField};
use crate::people::IssuedInvitation;
use crate::tokens::CreatedToken;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// Where the page lives.
pub const SHOWN_SECRET_PATH: &str = "/tokens/new";

/// A secret shown once.
#[derive(Clone, Serialize, Deserialize)]
pub enum ShownSecret {
    Token(Box<CreatedToken>),
    App(IssuedCredentials),
    Invitation(IssuedInvitation),
    RecoveryCodes(RecoveryCodes),
}

#[component]
pub fn ShownSecretPage() -> impl IntoView {
    match use_context::<ShownSecret>() {
        Some(ShownSecret::Token(created)) => token(*created).into_any(),
        Some(ShownSecret::App(issued)) => app(issued).into_any(),
        Some(ShownSecret::Invitation(issued)) => invitation(issued).into_any(),
        Some(ShownSecret::RecoveryCodes(codes)) => recovery_codes(codes).into_any(),
        None => already_shown().into_any(),
    }
}

fn already_shown() -> impl IntoView {
    view! {
        <Title text="Already shown"/>
        <section class="card narrow" aria-labelledby="gone-title">
            <h1 id="gone-title">"This token was already shown"</h1>
            <p>"A new token's secret is shown once, right after it is created, and Latchkey keeps only a fingerprint of it. If you did not copy it, delete that token and create a new one."</p>
            <p><a class="btn btn-primary" href="/profile/tokens">"Your access tokens"</a></p>
        </section>
    }
}

fn token(created: CreatedToken) -> impl IntoView {
    view! {
        <Title text="Your new access token"/>
        <section class="card narrow" aria-labelledby="new-token-title">
            <h1 id="new-token-title">"Copy your new access token"</h1>
            <p>"The token \u{201c}" {created.token.name.clone()} "\u{201d} is ready."</p>
            <p class="alert alert-warning" role="alert">
                <strong>"This is the only time it is shown."</strong>
                " Copy it now and store it safely; Latchkey keeps only a fingerprint and cannot show it again."
            </p>
            {created.duplicate_name.then(|| view! {
                <p class="alert alert-warning">"You already had a token with this name. Distinct names help you tell tokens apart later."</p>
            })}
            <SecretField id="new-token-secret" label="Access token" value=created.secret/>
            <p><a class="btn btn-primary" href=created.scope.page()>"Done, I have copied it"</a></p>
        </section>
    }
}

fn app(issued: IssuedCredentials) -> impl IntoView {
    view! {
        <Title text="Your application's credentials"/>
        <section class="card narrow" aria-labelledby="new-app-title">
            <h1 id="new-app-title">{format!("{} is ready", issued.name)}</h1>
            <SecretField id="new-app-client-id" label="Client ID" value=issued.client_id/>
            {match issued.client_secret {
                Some(secret) => view! {
                    <p class="alert alert-warning" role="alert">
                        <strong>"This is the only time the client secret is shown."</strong>
                        " Copy it into the application's configuration now; Latchkey keeps only a fingerprint."
                    </p>
                    <SecretField id="new-app-secret" label="Client secret" value=secret/>
                }
                .into_any(),
                None => view! {
                    <p>"A public client has no secret: it proves itself with PKCE on every authorization."</p>
                }
                .into_any(),
            }}
            <p><a class="btn btn-primary" href=issued.manage_at>"Done"</a></p>
        </section>
    }
}

fn invitation(issued: IssuedInvitation) -> impl IntoView {
    view! {
        <Title text="Invitation link"/>
        <section class="card narrow" aria-labelledby="new-invitation-title">
            <h1 id="new-invitation-title">{format!("Send this link to {}", issued.email)}</h1>
            <p class="alert alert-warning" role="alert">
                <strong>"This is the only time the link is shown."</strong>
                " Whoever opens it can make the account, once, until "
                {format_datetime(issued.expires_at)}
                ". Send it privately; Latchkey keeps only a fingerprint."
            </p>
            <SecretField id="new-invitation-link" label="Invitation link" value=issued.link/>
            <p><a class="btn btn-primary" href=issued.manage_at>"Done, I have copied it"</a></p>
        </section>
    }
}

fn recovery_codes(codes: RecoveryCodes) -> impl IntoView {
    view! {
        <Title text="Your recovery codes"/>
        <section class="card narrow" aria-labelledby="recovery-title">
            <h1 id="recovery-title">"Two-factor sign-in is on"</h1>
            <p class="alert alert-warning" role="alert">
                <strong>"Save these recovery codes now: this is the only time they are shown."</strong>
                " Each one signs you in once if you lose your device."
            </p>
            <ul class="recovery-codes" id="recovery-codes" aria-label="Recovery codes">
                {codes.codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
            </ul>
            <div class="copy-row">
                <CopyButton target="recovery-codes".to_string()/>
            </div>
            <p><a class="btn btn-primary" href=codes.manage_at>"Done, I have saved them"</a></p>
        </section>
    }
}
