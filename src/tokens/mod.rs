//! Access tokens: what crosses to the browser, the server functions, and
//! (server only) the secret type, the rules and the API check.

pub mod api;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod server;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Active,
    Disabled,
    Expired,
}

impl TokenStatus {
    /// Expiry wins over disabling: an expired token can never be enabled again.
    pub fn of(disabled_at: Option<i64>, expires_at: Option<i64>, now: i64) -> Self {
        match (disabled_at, expires_at) {
            (_, Some(exp)) if exp <= now => TokenStatus::Expired,
            (Some(_), _) => TokenStatus::Disabled,
            _ => TokenStatus::Active,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TokenStatus::Active => "Active",
            TokenStatus::Disabled => "Disabled",
            TokenStatus::Expired => "Expired",
        }
    }
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSummary {
    pub id: i64,
    pub name: String,
    pub hint: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub status: TokenStatus,
}

/// The answer to a create: the only time the secret leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: TokenSummary,
    pub secret: String,
    /// Another token of this owner already has the same name.
    pub duplicate_name: bool,
}

#[cfg(test)]
mod tests {
    use super::TokenStatus;

    #[test]
    fn status_follows_expiry_then_disabling() {
        assert_eq!(TokenStatus::of(None, None, 100), TokenStatus::Active);
        assert_eq!(TokenStatus::of(None, Some(101), 100), TokenStatus::Active);
        assert_eq!(TokenStatus::of(None, Some(100), 100), TokenStatus::Expired);
        assert_eq!(
            TokenStatus::of(Some(50), Some(200), 100),
            TokenStatus::Disabled
        );
        assert_eq!(
            TokenStatus::of(Some(50), Some(60), 100),
            TokenStatus::Expired
        );
    }
}
