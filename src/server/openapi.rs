//! The API's OpenAPI 3.1 description, generated from the route handlers'
//! annotations and served at /api/v1/openapi.json.

use super::{oauth, rest};
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
        rest::org_members,
        rest::org_groups,
        rest::group_members,
        rest::list_org_tokens,
        rest::create_org_token,
        rest::change_org_token,
        rest::delete_org_token,
        rest::list_group_tokens,
        rest::create_group_token,
        rest::change_group_token,
        rest::delete_group_token,
        rest::report_leaked,
        oauth::introspect,
        oauth::revoke,
    ),
    modifiers(&TokenSchemes),
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
            "apiToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("apiToken"))),
        );
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
                description: text(&op["description"]),
                needs_token: op["security"].as_array().is_some_and(|s| !s.is_empty()),
                params: op["parameters"]
                    .as_array()
                    .map(|params| {
                        params
                            .iter()
                            .map(|p| (text(&p["name"]), text(&p["description"])))
                            .collect()
                    })
                    .unwrap_or_default(),
                body,
                responses: op["responses"]
                    .as_object()
                    .map(|responses| {
                        responses
                            .iter()
                            .map(|(status, r)| (status.clone(), text(&r["description"])))
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
