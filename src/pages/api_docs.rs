//! The API reference: the OpenAPI document, as a page people can read.

use crate::components::{loading, ErrorView};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// One route of the API, as the reference page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiOperation {
    pub tag: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub needs_token: bool,
    /// (name, description) of each path parameter.
    pub params: Vec<(String, String)>,
    /// The body's content type and schema name, if it takes one.
    pub body: Option<String>,
    /// (status, description) of each documented answer.
    pub responses: Vec<(String, String)>,
}

#[server(prefix = "/rpc", endpoint = "api_reference")]
pub async fn api_reference() -> Result<Vec<ApiOperation>, AppError> {
    Ok(crate::server::openapi::operations())
}

#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let operations = Resource::new(|| (), |_| api_reference());
    view! {
        <Title text="API reference"/>
        <header class="page-head">
            <p class="eyebrow">"Integrations"</p>
            <h1>"API reference"</h1>
            <p class="muted">
                "Send an access token as " <code>"Authorization: Bearer <token>"</code>
                " (or in an " <code>"apiToken"</code> " header). Every error answers "
                <code>"{\"error\": code, \"message\": text}"</code>
                ". The machine-readable description is at "
                <a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a> " (OpenAPI 3.1)."
            </p>
        </header>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match operations.await {
                    Ok(operations) => operation_list(operations).into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn operation_list(operations: Vec<ApiOperation>) -> impl IntoView {
    let mut tags: Vec<String> = Vec::new();
    for op in &operations {
        if !tags.contains(&op.tag) {
            tags.push(op.tag.clone());
        }
    }
    tags.into_iter()
        .map(|tag| {
            let ops: Vec<ApiOperation> = operations
                .iter()
                .filter(|o| o.tag == tag)
                .cloned()
                .collect();
            view! {
                <section class="card api-section">
                    <h2>{capitalised(&tag)}</h2>
                    {ops.into_iter().map(operation_view).collect_view()}
                </section>
            }
        })
        .collect_view()
}

fn operation_view(op: ApiOperation) -> impl IntoView {
    let method_class = format!("api-method api-method-{}", op.method.to_ascii_lowercase());
    view! {
        <article class="api-operation">
            <h3>
                <span class=method_class>{op.method.clone()}</span>
                " " <code>{op.path.clone()}</code>
            </h3>
            <p><strong>{op.summary.clone()}</strong></p>
            {(!op.description.is_empty()).then(|| view! { <p class="muted">{op.description.clone()}</p> })}
            <p class="small">
                {if op.needs_token { "Needs an access token." } else { "Needs no access token." }}
                {op.body.clone().map(|body| format!(" Body: {body}."))}
            </p>
            {(!op.params.is_empty()).then(|| view! {
                <dl class="api-params">
                    {op.params.iter().map(|(name, description)| view! {
                        <dt><code>{name.clone()}</code></dt>
                        <dd>{description.clone()}</dd>
                    }).collect_view()}
                </dl>
            })}
            <table class="api-responses">
                <caption class="visually-hidden">{format!("Answers of {} {}", op.method, op.path)}</caption>
                <thead><tr><th scope="col">"Status"</th><th scope="col">"Meaning"</th></tr></thead>
                <tbody>
                    {op.responses.iter().map(|(status, description)| view! {
                        <tr><td><code>{status.clone()}</code></td><td>{description.clone()}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </article>
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
