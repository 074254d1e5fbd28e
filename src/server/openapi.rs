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
