//! The API's OpenAPI 3.1 description, generated from the route handlers'
//! annotations and served at /api/v1/openapi.json.

use crate::apps::rest as apps_rest;
use crate::orgs::rest as org_rest;
use crate::tokens::{oauth, rest};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey API",
        description = "Access-token-authenticated API of Latchkey. Send a token as `Authorization: Bearer <token>` or in an `apiToken` header. Every error has the body `{\"error\": code, \"message\": text}`; 401 and 403 answers carry RFC 6750 `WWW-Authenticate` headers.",
    ),
    paths(
        rest::whoami,
        rest::token_self,
        rest::revoke_token_self,
        rest::rotate_token_self,
        org_rest::org_members,
        org_rest::org_groups,
        org_rest::group_members,
        rest::list_tokens,
        rest::create_token,
        rest::change_token,
        rest::delete_token,
        rest::report_leaked,
        oauth::introspect,
        oauth::revoke,
        apps_rest::metadata,
        apps_rest::authorize,
        apps_rest::token,
        apps_rest::register,
    ),
    modifiers(&TokenSchemes, &GroupTokenRoutes),
)]
pub struct ApiDoc;

struct TokenSchemes;

impl Modify for TokenSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "clientBasic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        components.add_security_scheme(
            "apiToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("apiToken"))),
        );
    }
}

/// The token routes are one handler set mounted under an organization and
/// under a group (`rest::token_routes`); their annotations describe the
/// organization mount, and this writes the group mount from them.
struct GroupTokenRoutes;

const ORG_TOKENS: &str = "/api/v1/orgs/{org}/tokens";

impl Modify for GroupTokenRoutes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{Object, Required, Type};
        let org_routes: Vec<(String, utoipa::openapi::PathItem)> = openapi
            .paths
            .paths
            .iter()
            .filter(|(path, _)| path.starts_with(ORG_TOKENS))
            .map(|(path, item)| (path.clone(), item.clone()))
            .collect();
        for (path, mut item) in org_routes {
            let group_path =
                path.replacen(ORG_TOKENS, "/api/v1/orgs/{org}/groups/{group}/tokens", 1);
            for operation in [item.get.as_mut(), item.post.as_mut(), item.delete.as_mut()]
                .into_iter()
                .flatten()
            {
                operation.tags = Some(vec!["group tokens".into()]);
                operation.operation_id = operation
                    .operation_id
                    .as_ref()
                    .map(|id| id.replace("_org_", "_group_"));
                operation.summary = operation.summary.as_ref().map(|s| {
                    s.replace("an organization's", "a group's")
                        .replace("organization token", "group token")
                });
                operation.description = Some(
                    "With an admin-role token of the group (a group token holding `tokens:manage`) or of its organization (an organization token holding `tokens:manage`); otherwise as for the organization's tokens."
                        .into(),
                );
                let group = ParameterBuilder::new()
                    .name("group")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some("The group's slug"))
                    .schema(Some(Object::with_type(Type::String)))
                    .build();
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                parameters.insert(1.min(parameters.len()), group);
            }
            openapi.paths.paths.insert(group_path, item);
        }
    }
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| document().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], body.as_str()).into_response()
}

/// The document's operations in the order it lists them, for the reference
/// page.
/// The document's descriptions are CommonMark (OpenAPI 3.1, §4.3); the
/// reference page shows them rendered. Raw HTML in them is shown as text.
fn markdown(text: &str) -> String {
    use pulldown_cmark::{html, Event, Parser};
    let events = Parser::new(text).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// As `markdown`, for a description that sits inside a table cell or a
/// definition: without the paragraph around it.
fn inline_markdown(text: &str) -> String {
    let html = markdown(text);
    let trimmed = html.trim_end();
    match trimmed
        .strip_prefix("<p>")
        .and_then(|inner| inner.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => html,
    }
}

pub fn operations() -> Vec<crate::pages::api_docs::ApiOperation> {
    use serde_json::Value;
    let doc = serde_json::to_value(document()).unwrap_or_default();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut operations = Vec::new();
    let Some(paths) = doc["paths"].as_object() else {
        return operations;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|content| {
                    content.iter().next().map(|(content_type, media)| {
                        let schema = media["schema"]["$ref"]
                            .as_str()
                            .and_then(|r| r.rsplit('/').next())
                            .unwrap_or("see the document");
                        format!("{content_type} ({schema})")
                    })
                });
            operations.push(crate::pages::api_docs::ApiOperation {
                tag: op["tags"][0].as_str().unwrap_or("other").to_string(),
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                summary: text(&op["summary"]),
                description_html: markdown(&text(&op["description"])),
                needs_token: op["security"].as_array().is_some_and(|s| !s.is_empty()),
                params: op["parameters"]
                    .as_array()
                    .map(|params| {
                        params
                            .iter()
                            .map(|p| (text(&p["name"]), inline_markdown(&text(&p["description"]))))
                            .collect()
                    })
                    .unwrap_or_default(),
                body,
                responses: op["responses"]
                    .as_object()
                    .map(|responses| {
                        responses
                            .iter()
                            .map(|(status, r)| {
                                (status.clone(), inline_markdown(&text(&r["description"])))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    let tag_order = |tag: &str| {
        [
            "tokens",
            "organizations",
            "organization tokens",
            "group tokens",
            "oauth",
            "leak reports",
        ]
        .iter()
        .position(|t| *t == tag)
        .unwrap_or(usize::MAX)
    };
    let method_order = |method: &str| match method {
        "GET" => 0,
        "POST" => 1,
        _ => 2,
    };
    operations.sort_by(|a, b| {
        (tag_order(&a.tag), &a.path, method_order(&a.method)).cmp(&(
            tag_order(&b.tag),
            &b.path,
            method_order(&b.method),
        ))
    });
    operations
}

#[cfg(test)]
mod tests {
    use super::{inline_markdown, markdown};

    #[test]
    fn descriptions_render_as_markdown_and_raw_html_stays_text() {
        assert_eq!(
            markdown("Use `tokens:manage`.\n\n- one\n- two"),
            "<p>Use <code>tokens:manage</code>.</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        );
        assert_eq!(
            inline_markdown("`revoke` or **reactivate**"),
            "<code>revoke</code> or <strong>reactivate</strong>"
        );
        assert!(!markdown("<script>alert(1)</script>").contains("<script>"));
    }
}
