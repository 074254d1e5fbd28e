//! Access tokens: what crosses to the browser, the server functions, and
//! (server only) the secret type, the rules and the API check.

pub mod api;
#[cfg(feature = "ssr")]
pub mod approvals;
#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod changes;
#[cfg(feature = "ssr")]
pub mod lifecycle;
#[cfg(feature = "ssr")]
pub mod oauth;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod secret_page;
#[cfg(feature = "ssr")]
pub mod server;

use crate::domain::Role;
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Whose tokens a page or request is about. Server functions take it as two
/// form fields, `org` and `group`, both empty for the caller's own tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum TokenScope {
    Personal,
    Organization { org: String },
    Group { org: String, group: String },
}

impl TokenScope {
    pub fn from_fields(org: &str, group: &str) -> Result<Self, AppError> {
        match (org.trim(), group.trim()) {
            ("", "") => Ok(TokenScope::Personal),
            (org, "") => Ok(TokenScope::Organization { org: org.into() }),
            ("", _) => Err(AppError::BadRequest(
                "a group is named without its organization".into(),
            )),
            (org, group) => Ok(TokenScope::Group {
                org: org.into(),
                group: group.into(),
            }),
        }
    }

    pub fn org_field(&self) -> String {
        match self {
            TokenScope::Personal => String::new(),
            TokenScope::Organization { org } | TokenScope::Group { org, .. } => org.clone(),
        }
    }

    pub fn group_field(&self) -> String {
        match self {
            TokenScope::Group { group, .. } => group.clone(),
            _ => String::new(),
        }
    }

    /// The page that lists this scope's tokens.
    pub fn page(&self) -> String {
        match self {
            TokenScope::Personal => "/profile/tokens".into(),
            TokenScope::Organization { org } => format!("/orgs/{org}/tokens"),
            TokenScope::Group { org, group } => format!("/orgs/{org}/groups/{group}/tokens"),
        }
    }

    pub fn is_personal(&self) -> bool {
        matches!(self, TokenScope::Personal)
    }
}

/// The kinds of token: whom a token belongs to and acts as. The first three
/// are the ones people manage; the OAuth kinds are issued to applications by
/// the authorization server (an access token acts as the person who granted
/// it; a refresh token only buys new access tokens).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    #[default]
    Personal,
    Organization,
    Group,
    #[serde(rename = "oauth")]
    OAuth,
    #[serde(rename = "oauth_refresh")]
    OAuthRefresh,
}

impl TokenKind {
    pub const ALL: [TokenKind; 3] = [
        TokenKind::Personal,
        TokenKind::Organization,
        TokenKind::Group,
    ];

    /// Every kind of token string, for recognising one by its prefix.
    pub const EVERY: [TokenKind; 5] = [
        TokenKind::Personal,
        TokenKind::Organization,
        TokenKind::Group,
        TokenKind::OAuth,
        TokenKind::OAuthRefresh,
    ];

    /// As stored in `access_tokens.kind` and shown by the API.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Organization => "organization",
            TokenKind::Group => "group",
            TokenKind::OAuth => "oauth",
            TokenKind::OAuthRefresh => "oauth_refresh",
        }
    }

    /// Issued by the authorization server rather than made by a person.
    pub fn is_oauth(self) -> bool {
        matches!(self, TokenKind::OAuth | TokenKind::OAuthRefresh)
    }

    /// From the `kind` column, whose CHECK constraint allows only the three.
    pub fn from_db(raw: &str) -> Self {
        match raw {
            "organization" => TokenKind::Organization,
            "group" => TokenKind::Group,
            _ => TokenKind::Personal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Active,
    /// Turned off by a person, by the token itself, by RFC 7009 revocation or
    /// by a leak report; reactivating brings it back (unless leaked).
    #[serde(alias = "disabled")]
    Revoked,
    Expired,
}

impl TokenStatus {
    /// Expiry wins over revocation: an expired token can never be reactivated.
    pub fn of(disabled_at: Option<i64>, expires_at: Option<i64>, now: i64) -> Self {
        match (disabled_at, expires_at) {
            (_, Some(exp)) if exp <= now => TokenStatus::Expired,
            (Some(_), _) => TokenStatus::Revoked,
            _ => TokenStatus::Active,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TokenStatus::Active => "Active",
            TokenStatus::Revoked => "Revoked",
            TokenStatus::Expired => "Expired",
        }
    }
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenSummary {
    pub id: i64,
    pub name: String,
    pub hint: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub status: TokenStatus,
    /// The role an organization or group token holds; none for personal ones.
    pub role: Option<Role>,
    /// Who created it (kept when that person leaves); none if the account is gone.
    pub created_by: Option<String>,
    /// The token it was created with through the API, by name (kept when that
    /// token is deleted); none when a person created it.
    #[serde(default)]
    pub created_by_token: Option<String>,
    /// When a secret scanner reported it found in public (it was revoked then).
    pub leaked_at: Option<i64>,
    /// The token that replaced it by rotation.
    pub replaced_by: Option<i64>,
    /// What it may do, by scope name (built-in and custom).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// For a personal token restricted to some organizations: their slugs.
    /// None: every organization its owner is in.
    #[serde(default)]
    pub acts_in: Option<Vec<String>>,
    /// Addresses and networks it may be used from; empty: anywhere.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// The latest use refused because of the address, and that address.
    #[serde(default)]
    pub last_refused_at: Option<i64>,
    #[serde(default)]
    pub last_refused_ip: Option<String>,
    /// For a personal token: the organizations that require approval of
    /// personal tokens, and their decision so far.
    #[serde(default)]
    pub approvals: Vec<Approval>,
}

/// Where a personal token stands with an organization that approves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Approval {
    /// The organization's slug.
    pub org: String,
    pub state: ApprovalState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ApprovalState {
    Pending,
    Approved,
    Denied,
}

/// A personal token waiting for an organization admin's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    pub token_id: i64,
    pub name: String,
    /// Its owner, by name and email.
    pub owner: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// A user's tokens, with the server's clock, against which relative times
/// ("in 3 days") are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    pub now: i64,
    pub tokens: Vec<TokenSummary>,
    /// The expiry rules for new tokens here; none while the organization
    /// has this kind of token turned off.
    pub policy: Option<crate::domain::ExpiryPolicy>,
    /// Why tokens here are turned off (and where to change it), if they are.
    pub turned_off: Option<String>,
}

/// One line of the "Recent activity" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenActivity {
    pub at: i64,
    pub action: String,
    pub token_name: String,
    pub ip: Option<String>,
    /// Who caused it, as the audit trail names them: a person, a token, a
    /// leak report, the holder of a secret revoking it.
    #[serde(default)]
    pub actor: String,
}

impl TokenActivity {
    pub fn describe(&self) -> String {
        let verb = match self.action.as_str() {
            "token.created" => "Created",
            "token.revoked" => "Revoked",
            "token.reactivated" => "Reactivated",
            "token.deleted" => "Deleted",
            "token.revoked_all" => "Revoked all tokens",
            "token.rotated" => "Rotated",
            "token.leaked" => "Reported leaked and revoked",
            _ => "Changed",
        };
        if self.action == "token.revoked_all" {
            verb.to_string()
        } else {
            format!("{verb} \u{201c}{}\u{201d}", self.token_name)
        }
    }
}

/// "in 3 days", "5 minutes ago": coarse, for tables; the exact time goes in a title.
pub fn relative_time(ts: i64, now: i64) -> String {
    let delta = ts - now;
    let secs = delta.abs();
    let (n, unit) = match secs {
        0..=59 => {
            return if delta >= 0 {
                "in a moment".into()
            } else {
                "just now".into()
            }
        }
        // Rounded, so a 30-day token reads "in 30 days" right after creation.
        60..=3569 => ((secs + 30) / 60, "minute"),
        3570..=84_599 => ((secs + 1800) / 3600, "hour"),
        _ => ((secs + 43_200) / 86_400, "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if delta >= 0 {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// The answer to a create: the only time the secret leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub token: TokenSummary,
    pub secret: String,
    /// Another token of this owner already has the same name.
    pub duplicate_name: bool,
    pub scope: TokenScope,
}

#[cfg(test)]
mod tests {
    use super::{relative_time, TokenStatus};

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative_time(100, 100), "in a moment");
        assert_eq!(relative_time(50, 100), "just now");
        assert_eq!(relative_time(40, 100), "1 minute ago");
        assert_eq!(relative_time(100 + 1800, 100), "in 30 minutes");
        assert_eq!(relative_time(100 - 3600, 100), "1 hour ago");
        assert_eq!(relative_time(100 + 30 * 86_400, 100), "in 30 days");
        assert_eq!(relative_time(100 + 30 * 86_400 - 5, 100), "in 30 days");
        assert_eq!(relative_time(100 + 6 * 3600 - 5, 100), "in 6 hours");
    }

    #[test]
    fn status_follows_expiry_then_revocation() {
        assert_eq!(TokenStatus::of(None, None, 100), TokenStatus::Active);
        assert_eq!(TokenStatus::of(None, Some(101), 100), TokenStatus::Active);
        assert_eq!(TokenStatus::of(None, Some(100), 100), TokenStatus::Expired);
        assert_eq!(
            TokenStatus::of(Some(50), Some(200), 100),
            TokenStatus::Revoked
        );
        assert_eq!(
            TokenStatus::of(Some(50), Some(60), 100),
            TokenStatus::Expired
        );
    }
}
