//! The one error type shared by server functions, pages and the REST API.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every failure a user can see. Messages are written for people; database or
/// library text never goes in here (it is logged, and `Internal` is returned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Bad input in a form: `field` and `message` name the first complaint,
    /// `more` any others, so a refused form shows every one at once. `input`
    /// echoes the non-secret values that were submitted so a form can be shown
    /// again as it was typed, even without JavaScript.
    #[error("{message}")]
    Invalid {
        field: String,
        message: String,
        input: BTreeMap<String, String>,
        /// Further fields and what is wrong with each.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        more: BTreeMap<String, String>,
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
            more: BTreeMap::new(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found."))
    }

    /// Attach the submitted values (never passwords) to a validation error.
    pub fn with_input<'a>(self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        match self {
            AppError::Invalid {
                field,
                message,
                more,
                ..
            } => AppError::Invalid {
                field,
                message,
                input: pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                more,
            },
            other => other,
        }
    }

    /// The same complaint about another field: a value parsed by a shared
    /// rule (a new password, say) under the name its form gives it.
    pub fn on_field(self, name: &str) -> Self {
        match self {
            AppError::Invalid {
                message,
                input,
                more,
                ..
            } => AppError::Invalid {
                field: name.to_string(),
                message,
                input,
                more,
            },
            other => other,
        }
    }

    /// The message for `field`, if this error is about that field.
    pub fn field_message(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid { field, message, .. } if field == name => Some(message.clone()),
            AppError::Invalid { more, .. } => more.get(name).cloned(),
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

/// Collects what is wrong with a form's fields, so a refused form names every
/// problem at once rather than the first one only.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors::default()
    }

    /// The value when `result` holds one; a complaint about a field is kept
    /// for later (and `None` answered), any other error is returned at once.
    pub fn check<T>(&mut self, result: Result<T, AppError>) -> Result<Option<T>, AppError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(AppError::Invalid {
                field,
                message,
                more,
                ..
            }) => {
                self.0.push((field, message));
                self.0.extend(more);
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every complaint as one error, or nothing when there was none.
    pub fn finish(self) -> Result<(), AppError> {
        let mut complaints = self.0.into_iter();
        let Some((field, message)) = complaints.next() else {
            return Ok(());
        };
        let mut more = BTreeMap::new();
        for (other, text) in complaints {
            // The first complaint about a field is the one shown.
            if other != field {
                more.entry(other).or_insert(text);
            }
        }
        Err(AppError::Invalid {
            field,
            message,
            input: BTreeMap::new(),
            more,
        })
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
    fn field_errors_are_collected_and_each_field_keeps_its_message() {
        let mut errors = FieldErrors::new();
        assert_eq!(errors.check(Ok::<_, AppError>(1)).unwrap(), Some(1));
        assert_eq!(
            errors
                .check::<()>(Err(AppError::invalid("name", "Enter a name.")))
                .unwrap(),
            None
        );
        errors.add("password", "Too short.");
        assert!(errors.check::<()>(Err(AppError::Internal)).is_err());
        let err = errors.finish().unwrap_err().with_input([("name", "")]);
        assert_eq!(err.field_message("name").as_deref(), Some("Enter a name."));
        assert_eq!(err.field_message("password").as_deref(), Some("Too short."));
        assert_eq!(err.echoed("name").as_deref(), Some(""));
        assert!(FieldErrors::new().finish().is_ok());
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
