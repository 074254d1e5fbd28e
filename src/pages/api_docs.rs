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
    /// The description, rendered from its Markdown on the server (raw HTML
    /// in it escaped).
    pub description_html: String,
    pub needs_token: bool,
    /// (name, description as HTML) of each path parameter.
    pub params: Vec<(String, String)>,
    /// The body's content type and schema name, if it takes one.
    pub body: Option<String>,
    /// (status, description as HTML) of each documented answer.
    pub responses: Vec<(String, String)>,
}

impl ApiOperation {
    /// The operation's anchor on the page: `post-api-v1-tokens-self-rotate`.
    pub fn anchor(&self) -> String {
        anchor(&format!("{} {}", self.method, self.path))
    }
}

/// Lower-case letters and digits, other runs as one hyphen.
fn anchor(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
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
    let grouped: Vec<(String, Vec<ApiOperation>)> = tags
        .into_iter()
        .map(|tag| {
            let ops = operations
                .iter()
                .filter(|o| o.tag == tag)
                .cloned()
                .collect();
            (tag, ops)
        })
        .collect();
    let contents = grouped
        .iter()
        .map(|(tag, ops)| {
            view! {
                <li>
                    <a href=format!("#{}", anchor(tag))>{capitalised(tag)}</a>
                    <ul>
                        {ops.iter().map(|op| view! {
                            <li>
                                <a href=format!("#{}", op.anchor())>
                                    <span class="api-toc-method">{op.method.clone()}</span>
                                    " " <code>{op.path.clone()}</code>
                                </a>
                            </li>
                        }).collect_view()}
                    </ul>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="card api-toc" aria-labelledby="api-contents">
            <h2 id="api-contents">"Contents"</h2>
            <ul>{contents}</ul>
        </nav>
        {grouped.into_iter().map(|(tag, ops)| view! {
            <section class="card api-section" id=anchor(&tag)>
                <h2>{capitalised(&tag)}</h2>
                {ops.into_iter().map(operation_view).collect_view()}
            </section>
        }).collect_view()}
    }
}

fn operation_view(op: ApiOperation) -> impl IntoView {
    let method_class = format!("api-method api-method-{}", op.method.to_ascii_lowercase());
    view! {
        <article class="api-operation" id=op.anchor()>
            <h3>
                <span class=method_class>{op.method.clone()}</span>
                " " <code>{op.path.clone()}</code>
            </h3>
            <p><strong>{op.summary.clone()}</strong></p>
            {(!op.description_html.is_empty()).then(|| view! { <div class="api-description" inner_html=op.description_html.clone()></div> })}
            <p class="small">
                {if op.needs_token { "Needs an access token." } else { "Needs no access token." }}
                {op.body.clone().map(|body| format!(" Body: {body}."))}
            </p>
            {(!op.params.is_empty()).then(|| view! {
                <dl class="api-params">
                    {op.params.iter().map(|(name, description)| view! {
                        <dt><code>{name.clone()}</code></dt>
                        <dd inner_html=description.clone()></dd>
                    }).collect_view()}
                </dl>
            })}
            <table class="api-responses">
                <caption class="visually-hidden">{format!("Answers of {} {}", op.method, op.path)}</caption>
                <thead><tr><th scope="col">"Status"</th><th scope="col">"Meaning"</th></tr></thead>
                <tbody>
                    {op.responses.iter().map(|(status, description)| view! {
                        <tr><td><code>{status.clone()}</code></td><td inner_html=description.clone()></td></tr>
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
