//! Latchkey: a self-hosted access-token manager.

// The token table's view type is deep enough that the optimised WASM build
// needs more than the default query depth to lay it out.
#![recursion_limit = "256"]

pub mod access;
pub mod account;
pub mod app;
pub mod apps;
pub mod auth;
pub mod components;
pub mod domain;
pub mod error;
pub mod orgs;
pub mod pages;
pub mod people;
pub mod scopes;
#[cfg(feature = "ssr")]
pub mod server;
pub mod tokens;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Lets browser tests (and anyone curious) tell that the islands are live.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
