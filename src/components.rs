//! Reusable pieces of UI: fields with inline errors, alerts, tabs, errors views.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

/// The error to show for a form, read from its action's last result.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    Signal::derive(move || {
        action
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().err().cloned()))
    })
}

/// A labelled input whose error, if any, is shown beneath it and announced.
/// After a failed submission the typed value comes back from the error, so the
/// form keeps it across the redirect back to its page.
#[component]
pub fn Field(
    /// Unique id on the page.
    id: &'static str,
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(default = true)] required: bool,
    #[prop(optional)] maxlength: Option<u32>,
    /// What the field holds before anything is typed.
    #[prop(optional, into)]
    value: Option<String>,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let message = move || error.get().and_then(|e| e.field_message(name));
    let echoed = move || {
        if kind == "password" {
            None
        } else {
            error
                .get()
                .and_then(|e| e.echoed(name))
                .or_else(|| value.clone())
        }
    };
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if message().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:field-invalid=move || message().is_some()>
            <label for=id>{label}</label>
            {hint.map(|h| view! { <p class="field-hint" id=hint_id.clone()>{h}</p> })}
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                required=required
                maxlength=maxlength
                value=echoed
                aria-invalid=move || message().is_some().then_some("true")
                aria-describedby=described_by
            />
            <p class="field-error" id=error_id role="alert">
                {message}
            </p>
        </div>
    }
}

/// A role picker; the current choice comes back after a failed submission.
#[component]
pub fn RoleSelect(
    id: &'static str,
    #[prop(default = "Role")] label: &'static str,
    #[prop(into)] error: Signal<Option<AppError>>,
) -> impl IntoView {
    let chosen = move || {
        error
            .get()
            .and_then(|e| e.echoed("role"))
            .unwrap_or_else(|| "user".into())
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id name="role">
                <option value="user" selected=move || chosen() == "user">"User"</option>
                <option value="admin" selected=move || chosen() == "admin">"Admin"</option>
            </select>
        </div>
    }
}

/// An error that belongs to the whole form rather than to one field.
#[component]
pub fn FormAlert(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    let message = move || match error.get() {
        Some(AppError::Invalid { .. }) | None => None,
        Some(other) => Some(other.to_string()),
    };
    view! {
        <Show when=move || message().is_some()>
            <p class="alert alert-error" role="alert">{message}</p>
        </Show>
    }
}

/// A note that the form posting to `action`'s server function went
/// through, on the page its redirect comes back to (once: see
/// `server::form_errors`).
#[component]
pub fn Saved<S>(action: ServerAction<S>, text: &'static str) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    let _ = action;
    #[cfg(feature = "ssr")]
    let done = use_context::<axum::http::request::Parts>()
        .and_then(|parts| {
            parts
                .extensions
                .get::<crate::server::form_errors::FormDone>()
                .cloned()
        })
        .is_some_and(|done| done.0 == S::PATH);
    #[cfg(not(feature = "ssr"))]
    let done = false;
    view! { <p class="saved" role="status">{done.then_some(text)}</p> }
}

pub struct Tab {
    pub href: String,
    pub label: &'static str,
}

#[component]
pub fn Tabs(label: &'static str, tabs: Vec<Tab>) -> impl IntoView {
    view! {
        <nav class="tabs" aria-label=label>
            {tabs
                .into_iter()
                .map(|tab| view! { <A href=tab.href exact=true>{tab.label}</A> })
                .collect_view()}
        </nav>
    }
}

/// How a page shows a failed load: sign-in for anonymous visitors, a real 404
/// or 403 status for missing or forbidden things.
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(options), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        axum::http::StatusCode::from_u16(error.status()),
    ) {
        if error != AppError::Unauthenticated {
            options.set_status(status);
        }
    }
    match error {
        AppError::Unauthenticated => to_sign_in(),
        AppError::NotFound(message) => view! {
            <Title text="Not found"/>
            <section class="empty-state">
                <h1>"Not found"</h1>
                <p>{message}</p>
                <p><a href="/">"Back to your dashboard"</a></p>
            </section>
        }
        .into_any(),
        AppError::TwoFactorRequired(org) => view! {
            <Title text="Two-factor sign-in required"/>
            <section class="empty-state">
                <h1>"Two-factor sign-in required"</h1>
                <p>{format!("{org} asks every member to sign in with a code from an authenticator app as well as a password. Turn it on, then come back.")}</p>
                <p><a class="btn btn-primary" href="/profile#two-factor">"Turn on two-factor sign-in"</a></p>
            </section>
        }
        .into_any(),
        other => view! {
            <Title text="Something is in the way"/>
            <section class="empty-state">
                <h1>"Something is in the way"</h1>
                <p class="alert alert-error" role="alert">{other.to_string()}</p>
                <p><a href="/">"Back to your dashboard"</a></p>
            </section>
        }
        .into_any(),
    }
}

/// A tab's error inside an organization or group page, whose layout already
/// says what concerns the whole place (not found, sign in, two-factor sign-in
/// required): only what is the tab's own is said here, without a heading of
/// its own.
#[component]
pub fn TabErrorView(error: AppError) -> impl IntoView {
    match error {
        AppError::NotFound(_) | AppError::Unauthenticated | AppError::TwoFactorRequired(_) => {
            ().into_any()
        }
        other => {
            #[cfg(feature = "ssr")]
            if let (Some(options), Ok(status)) = (
                use_context::<leptos_axum::ResponseOptions>(),
                axum::http::StatusCode::from_u16(other.status()),
            ) {
                options.set_status(status);
            }
            view! { <p class="alert alert-error" role="alert">{other.to_string()}</p> }.into_any()
        }
    }
}

/// Sends the browser to `path` with a real `303 See Other` (pages render on
/// the server); a router redirect where there is no response to set.
pub fn go_to(path: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        // Parts of a page may each ask; the first wins, except that setup
        // (nothing else works before it) beats signing in.
        let redirecting = options
            .0
            .read()
            .is_ok_and(|parts| parts.headers.contains_key(axum::http::header::LOCATION));
        if redirecting && path != "/setup" {
            return ().into_any();
        }
        if let Ok(location) = axum::http::HeaderValue::from_str(&path) {
            options.set_status(axum::http::StatusCode::SEE_OTHER);
            options.insert_header(axum::http::header::LOCATION, location);
            return ().into_any();
        }
    }
    view! { <Redirect path/> }.into_any()
}

/// Sends the person to sign in, to come back here afterwards. A page still
/// on screen once the router is already on the sign-in page (one that
/// finished loading late, say) leaves it there, with the way back it carries.
pub fn to_sign_in() -> AnyView {
    let path = leptos_router::hooks::use_location()
        .pathname
        .get_untracked();
    if path.starts_with("/sign-in") {
        return ().into_any();
    }
    go_to(sign_in_path()).into_any()
}

/// The sign-in page, asked to come back to the current page afterwards.
pub fn sign_in_path() -> String {
    let location = leptos_router::hooks::use_location();
    let path = location.pathname.get_untracked();
    // The sign-in pages are nowhere to come back to. (A page can still be on
    // screen, and ask, while the router is already on its way there.)
    if path == "/" || path.starts_with("/sign-in") {
        return "/sign-in".into();
    }
    // The router keeps the query without its `?`.
    let search = location.search.get_untracked();
    let here = match search.trim_start_matches('?') {
        "" => path,
        query => format!("{path}?{query}"),
    };
    if crate::auth::local_path(&here).is_none() {
        return "/sign-in".into();
    }
    let next: String = here
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/sign-in?next={next}")
}

pub fn loading() -> impl IntoView {
    view! { <p class="loading" aria-live="polite">"Loading…"</p> }
}

/// A Unix timestamp in one of the formats below, always in UTC (pages are
/// rendered on the server, which cannot know the reader's zone); empty if
/// out of range.
fn formatted(ts: i64, format: &(impl time::formatting::Formattable + ?Sized)) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// "2026-11-22".
pub fn format_date(ts: i64) -> String {
    formatted(
        ts,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
}

/// "2026-11-22 14:05 UTC".
pub fn format_datetime(ts: i64) -> String {
    formatted(
        ts,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"),
    )
}

/// To the second, for the audit trail: "2026-11-24 18:43:07 UTC".
pub fn format_timestamp(ts: i64) -> String {
    formatted(
        ts,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC"),
    )
}

/// For a `<time datetime>` attribute (RFC 3339, UTC).
pub fn format_iso(ts: i64) -> String {
    formatted(ts, &time::format_description::well_known::Rfc3339)
}

#[cfg(test)]
mod tests {
    use super::{format_date, format_datetime, format_iso, format_timestamp};

    #[test]
    fn date_times_are_formatted_in_utc() {
        assert_eq!(format_datetime(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(format_timestamp(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_iso(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn dates_are_formatted_in_utc() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(1_700_000_000), "2023-11-14");
    }
}

/// A secret shown once, read-only, with a button that copies it.
#[component]
pub fn SecretField(id: &'static str, label: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <div class="copy-row">
                <input id=id class="secret" type="text" readonly autocomplete="off" spellcheck="false" value=value/>
                <CopyButton target=id.to_string()/>
            </div>
        </div>
    }
}

// Islands: the only parts of a page that run in the browser. Everything else
// is rendered on the server and works as plain HTML (links and form posts);
// these add what only a browser can do. Their props are serialized into the
// page, so none of them carries a secret.

/// Copies what the element `target` holds (an input's value, or another
/// element's text) to the clipboard, and says so. Hidden until the page is
/// live: without JavaScript it could do nothing.
#[island]
pub fn CopyButton(target: String) -> impl IntoView {
    let live = RwSignal::new(false);
    Effect::new(move |_| live.set(true));
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        browser::copy_to_clipboard(&target, copied);
        #[cfg(not(feature = "hydrate"))]
        let _ = &target;
    };
    view! {
        <button type="button" class="btn" hidden=move || !live.get() on:click=copy>"Copy"</button>
        <p class="saved" role="status">{move || copied.get().then_some("Copied to the clipboard.")}</p>
    }
}

/// A link to the page state with the dialog `dialog` open (`?new`, which
/// works without JavaScript) that, once the page is live, opens the dialog
/// in place as a modal instead.
#[island]
pub fn DialogLink(dialog: String, href: String, class: String, label: String) -> impl IntoView {
    let open = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(dialog) = browser::dialog(&dialog) {
            ev.prevent_default();
            if dialog.open() {
                dialog.close();
            }
            let _ = dialog.show_modal();
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&ev, &dialog);
    };
    view! { <a class=class href=href on:click=open>{label}</a> }
}

/// A dialog's way out: a link back to the page without it, which, once the
/// page is live, just closes the dialog.
#[island]
pub fn DialogCancel(dialog: String, href: String) -> impl IntoView {
    let close = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(dialog) = browser::dialog(&dialog) {
            ev.prevent_default();
            dialog.close();
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&ev, &dialog);
    };
    view! { <a class="btn" href=href on:click=close>"Cancel"</a> }
}

/// Keeps the reader's place across a form post. Forms post and the server
/// redirects back, so the page would come back scrolled to the top, away
/// from the row just changed or the error beside a field: the position is
/// noted when a form is sent and restored when the same page comes back.
#[island]
pub fn KeepScrollPosition() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    browser::keep_scroll_position();
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    const SCROLL_KEY: &str = "latchkey-scroll";

    fn here() -> String {
        let location = window().location();
        format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        )
    }

    pub fn keep_scroll_position() {
        let Ok(Some(storage)) = window().session_storage() else {
            return;
        };
        if let Ok(Some(saved)) = storage.get_item(SCROLL_KEY) {
            let _ = storage.remove_item(SCROLL_KEY);
            let y = saved
                .rsplit_once(' ')
                .filter(|(page, _)| *page == here())
                .and_then(|(_, y)| y.parse::<i32>().ok());
            if let Some(y) = y {
                window().scroll_to_with_x_and_y(0.0, f64::from(y));
            }
        }
        // For the page's lifetime: nothing to remove it for.
        let _listener = window_event_listener(leptos::ev::submit, move |_| {
            // Whole pixels: formatting floats would cost the bundle more
            // than the position gains.
            if let Ok(y) = window().scroll_y() {
                let y = y.round() as i32;
                let _ = storage.set_item(SCROLL_KEY, &format!("{} {y}", here()));
            }
        });
    }

    pub fn dialog(id: &str) -> Option<web_sys::HtmlDialogElement> {
        document().get_element_by_id(id)?.dyn_into().ok()
    }

    pub fn copy_to_clipboard(target: &str, copied: RwSignal<bool>) {
        let Some(element) = document().get_element_by_id(target) else {
            return;
        };
        let text = if let Some(input) = element.dyn_ref::<web_sys::HtmlInputElement>() {
            input.value()
        } else if let Some(element) = element.dyn_ref::<web_sys::HtmlElement>() {
            element.inner_text()
        } else {
            element.text_content().unwrap_or_default()
        };
        let written = window().navigator().clipboard().write_text(&text);
        leptos::task::spawn_local(async move {
            if wasm_bindgen_futures::JsFuture::from(written).await.is_ok() {
                copied.set(true);
            }
        });
    }
}
