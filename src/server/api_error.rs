//! The API's one error shape, `{"error", "message"}`, the refusals the
//! OpenAPI document lists, and the extractors that refuse in that shape.

use crate::error::AppError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// The one JSON shape of every API failure.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable machine-readable code, such as `invalid_token` or `not_found`.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
}

/// The refusals every token-authenticated route can answer, for the document.
#[derive(utoipa::IntoResponses)]
pub enum TokenRefusals {
    #[response(
        status = 401,
        description = "No token, or a malformed, unknown, disabled or expired one"
    )]
    Unauthenticated(ErrorBody),
    #[response(
        status = 403,
        description = "The token lacks the role this needs (`forbidden`), or a scope (`insufficient_scope`, named in WWW-Authenticate and the message)"
    )]
    Forbidden(ErrorBody),
    #[response(status = 404, description = "Not found, or not visible to this token")]
    NotFound(ErrorBody),
    #[response(
        status = 429,
        description = "This address sent too many refused tokens lately; see Retry-After"
    )]
    TooManyRequests(ErrorBody),
}

/// The refusals of routes any valid token may call, for the document.
#[derive(utoipa::IntoResponses)]
pub enum Unauthenticated {
    #[response(
        status = 401,
        description = "No token, or a malformed, unknown, disabled or expired one"
    )]
    Refused(ErrorBody),
    #[response(
        status = 429,
        description = "This address sent too many refused tokens (or requests) lately; see Retry-After"
    )]
    TooManyRequests(ErrorBody),
}

/// The refusals of a JSON request body, for the document.
#[derive(utoipa::IntoResponses)]
pub enum JsonBodyRefusals {
    #[response(status = 400, description = "Malformed JSON")]
    Malformed(ErrorBody),
    #[response(status = 415, description = "The body is not JSON")]
    NotJson(ErrorBody),
    #[response(status = 422, description = "A field is missing or invalid")]
    Invalid(ErrorBody),
}

/// A refusal by the token policy, for the document.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 409,
    description = "Refused by the organization's or instance's token policy"
)]
pub struct PolicyRefusal(pub ErrorBody);

/// Any failure of an API route: its status and `{"error", "message"}`. A
/// refusal for lack of rights names the RFC 6750 `insufficient_scope` error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The scope a token lacked, named in the challenge (RFC 6750 §3.1).
    missing_scope: Option<String>,
}

impl ApiError {
    /// An address whose ids do not parse (`…/tokens/abc`, an id beyond 64
    /// bits) names nothing: 404.
    pub fn unknown_id() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Nothing is at this address: an id in it is not a number Latchkey gave out.",
        )
    }

    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            missing_scope: None,
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match &err {
            AppError::Forbidden => "This access token does not have the role this needs.".into(),
            other => other.to_string(),
        };
        let mut api_error = ApiError::new(status, err.code(), message);
        if let AppError::InsufficientScope(scope) = err {
            api_error.missing_scope = Some(scope);
        }
        api_error
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        AppError::from(err).into()
    }
}

/// A body that is not the JSON a route expects: 415 without a JSON content
/// type, 413 when too large, 400 for broken JSON, 422 for wrong fields.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
            _ => "bad_request",
        };
        ApiError::new(status, code, rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.code.to_string(),
                message: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::FORBIDDEN {
            // Scope names are checked to be plain (`access::check_scope_name`),
            // so they sit inside the quotes as they are.
            let challenge = match &self.missing_scope {
                Some(scope) => HeaderValue::from_str(&format!(
                    r#"Bearer realm="latchkey", error="insufficient_scope", scope="{scope}""#
                ))
                .ok(),
                None => None,
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                challenge.unwrap_or(HeaderValue::from_static(
                    r#"Bearer realm="latchkey", error="insufficient_scope""#,
                )),
            );
        }
        response
    }
}

/// Path parameters, refused in the API's JSON shape: an address whose ids do
/// not parse (`…/tokens/abc`, an id beyond 64 bits) names nothing, so 404.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|_| ApiError::unknown_id())
    }
}
