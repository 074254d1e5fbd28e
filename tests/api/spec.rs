//! Checks API answers against the OpenAPI document the server serves: the
//! route and method must be described, the status listed for it, and a JSON
//! body valid against that status's schema. Every API call the suite makes
//! goes through `conforms`.

use serde_json::{json, Value};
use std::sync::OnceLock;

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(latchkey::server::openapi::document()).unwrap())
}

/// The described path that `path` falls under, preferring literal segments
/// over parameters (`/tokens/self` over `/tokens/{token_id}`).
fn template_for(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    document()["paths"]
        .as_object()?
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') && part.ends_with('}') {
                    if segment.is_empty() {
                        return None;
                    }
                } else if part == segment {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, template.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}

/// Panics unless this answer is what the document promises.
pub fn conforms(method: &str, path: &str, status: u16, body: &Value) {
    let template = template_for(path)
        .unwrap_or_else(|| panic!("{method} {path} is not in the OpenAPI document"));
    let operation = &document()["paths"][template][method.to_ascii_lowercase()];
    assert!(
        operation.is_object(),
        "{method} {template} is not in the OpenAPI document"
    );
    let response = &operation["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which the document does not list: {body}"
    );
    let Some(schema) = response
        .pointer("/content/application~1json/schema")
        .cloned()
    else {
        assert!(
            body.is_null(),
            "{method} {template} {status} has no body in the document but sent {body}"
        );
        return;
    };
    // The whole document as the root, so `#/components/...` references resolve.
    let mut root = document().clone();
    root["x-response"] = schema;
    root["$ref"] = json!("#/x-response");
    let validator = jsonschema::validator_for(&root).expect("the document's schemas compile");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {status} does not match the document: {errors:?}\nbody: {body}"
    );
}

/// The body as JSON, or null when there is none.
pub fn parse_body(text: &str) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or(Value::String(text.to_string()))
    }
}
