//! The one error type shared by server functions, pages and the REST API.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every failure a user can see. Messages are written for people; database or
/// library text never goes in here (it is logged, and `Internal` is returned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Bad input in one form field. `input` echoes the non-secret values that were
    /// submitted so a form can be shown again as it was typed, even without JavaScript.
    #[error("{message}")]
    Invalid {
        field: String,
        message: String,
        input: BTreeMap<String, String>,
    },
    #[error("Please sign in to continue.")]
    Unauthenticated,
    #[error("You do not have permission to do that.")]
    Forbidden,
    /// The organization (named) requires two-factor sign-in, which the
    /// person has not turned on.
    #[error(
        "{0} requires two-factor sign-in. Turn it on in your account to work in this organization."
    )]
    TwoFactorRequired(String),
    /// A token was used beyond its scopes; names the scope it lacks.
    #[error("This access token lacks the scope {0}, which this needs.")]
    InsufficientScope(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("The request could not be understood: {0}")]
    BadRequest(String),
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.to_string(),
            message: message.into(),
            input: BTreeMap::new(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found."))
    }

    /// Attach the submitted values (never passwords) to a validation error.
    pub fn with_input<'a>(self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        match self {
            AppError::Invalid { field, message, .. } => AppError::Invalid {
                field,
                message,
                input: pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            other => other,
        }
    }

    /// The same complaint about another field: a value parsed by a shared
    /// rule (a new password, say) under the name its form gives it.
    pub fn on_field(self, name: &str) -> Self {
        match self {
            AppError::Invalid { message, input, .. } => AppError::Invalid {
                field: name.to_string(),
                message,
                input,
            },
            other => other,
        }
    }

    /// The message for `field`, if this error is about that field.
    pub fn field_message(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid { field, message, .. } if field == name => Some(message.clone()),
            _ => None,
        }
    }

    /// The value that was typed into `name`, if the error echoes it.
    pub fn echoed(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid { input, .. } => input.get(name).cloned(),
            _ => None,
        }
    }

    /// A short machine-readable code, used in JSON bodies.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid { .. } => "invalid_input",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden => "forbidden",
            AppError::TwoFactorRequired(_) => "two_factor_required",
            AppError::InsufficientScope(_) => "insufficient_scope",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::TooManyRequests(_) => "too_many_requests",
            AppError::BadRequest(_) => "bad_request",
            AppError::Internal => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid { .. } => 422,
            AppError::Unauthenticated => 401,
            AppError::Forbidden
            | AppError::TwoFactorRequired(_)
            | AppError::InsufficientScope(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::TooManyRequests(_) => 429,
            AppError::BadRequest(_) => 400,
            AppError::Internal => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(msg) | ServerFnErrorErr::Deserialization(msg) => {
                AppError::BadRequest(first_line(&msg))
            }
            ServerFnErrorErr::MissingArg(arg) => {
                AppError::BadRequest(format!("missing field {arg}"))
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                AppError::BadRequest("the server could not be reached".into())
            }
            _ => AppError::Internal,
        }
    }
}

fn first_line(msg: &str) -> String {
    msg.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    /// Database failures are logged in full and reach the user only as `Internal`.
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "database error");
        AppError::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_error_carries_field_and_echoed_input() {
        let err = AppError::invalid("email", "Enter an email address.")
            .with_input([("email", "bob"), ("name", "Bob")]);
        assert_eq!(
            err.field_message("email").as_deref(),
            Some("Enter an email address.")
        );
        assert_eq!(err.field_message("name"), None);
        assert_eq!(err.echoed("name").as_deref(), Some("Bob"));
        assert_eq!(err.status(), 422);
    }

    #[test]
    fn internal_error_never_carries_detail() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::ServerError(
            "UNIQUE constraint failed: users.email".into(),
        ));
        assert_eq!(err, AppError::Internal);
        assert!(!err.to_string().contains("UNIQUE"));
    }
}
