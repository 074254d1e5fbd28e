//! Domain values that can only exist once validated. Input from forms and the
//! command line is parsed into these at the boundary; code past it trusts them.

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A normalised (trimmed, lower-cased) email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let value = raw.trim().to_lowercase();
        if value.is_empty() {
            return Err(AppError::invalid("email", "Enter an email address."));
        }
        if value.chars().count() > 254 {
            return Err(AppError::invalid(
                "email",
                "That email address is too long.",
            ));
        }
        let Some((local, domain)) = value.split_once('@') else {
            return Err(AppError::invalid(
                "email",
                "Enter an email address like name@example.com.",
            ));
        };
        let plausible_domain = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty()
            || !plausible_domain
            || domain.contains('@')
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AppError::invalid(
                "email",
                "Enter an email address like name@example.com.",
            ));
        }
        Ok(Email(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name, trimmed, 1–100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        bounded_text(raw, "display_name", "a display name", 100).map(DisplayName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed. Never printed, never serialised.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 256;

    /// Rules for a new password (sign-in accepts anything non-empty).
    pub fn parse_new(raw: &str) -> Result<Self, AppError> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(AppError::invalid(
                "password",
                format!("Use at least {} characters.", Self::MIN_CHARS),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(AppError::invalid(
                "password",
                format!("Use at most {} characters.", Self::MAX_CHARS),
            ));
        }
        if raw.trim().is_empty() {
            return Err(AppError::invalid(
                "password",
                "The password cannot be only spaces.",
            ));
        }
        Ok(Password(raw.to_string()))
    }

    pub fn parse_attempt(raw: &str) -> Result<Self, AppError> {
        if raw.is_empty() {
            return Err(AppError::invalid("password", "Enter your password."));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(AppError::invalid("password", "That password is too long."));
        }
        Ok(Password(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// An organization or group name, trimmed, 1–80 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        bounded_text(raw, "name", "a name", 80).map(Name)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A URL-safe identifier: lower-case letters, digits and single hyphens, 2–40
/// characters, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    const RESERVED: &'static [&'static str] = &["new", "admin", "settings", "api"];

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let value = raw.trim().to_lowercase();
        let msg = "Use 2–40 lower-case letters, digits and hyphens, starting with a letter.";
        let valid_chars = value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let starts_with_letter = value.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !(2..=40).contains(&value.len())
            || !valid_chars
            || !starts_with_letter
            || value.ends_with('-')
            || value.contains("--")
        {
            return Err(AppError::invalid("slug", msg));
        }
        if Self::RESERVED.contains(&value.as_str()) {
            return Err(AppError::invalid(
                "slug",
                format!("\"{value}\" is reserved; choose another."),
            ));
        }
        Ok(Slug(value))
    }

    /// A slug derived from a display name, for when the user leaves the field empty.
    pub fn suggest(name: &str) -> String {
        let mut out = String::new();
        for c in name.trim().to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let trimmed: String = out.trim_matches('-').chars().take(40).collect();
        trimmed.trim_end_matches('-').to_string()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A membership role in an organization or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        match raw.trim() {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            _ => Err(AppError::invalid("role", "Choose a role: admin or user.")),
        }
    }
    /// From a role column, whose CHECK constraint allows only the two values.
    pub fn from_db(raw: &str) -> Self {
        if raw == "admin" {
            Role::Admin
        } else {
            Role::User
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::User => "User",
        }
    }
}

/// What a token is for, trimmed, 1–100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        bounded_text(raw, "name", "a name for the token", 100).map(TokenName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The expiry chosen in a create dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryChoice {
    /// Seconds from now.
    In(i64),
    /// A Unix time.
    At(i64),
    Never,
}

/// A Unix time as `2026-12-31 23:59:59` (UTC), for messages.
pub fn format_utc(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| at.to_string())
}

impl ExpiryChoice {
    pub const PRESETS: &'static [(&'static str, &'static str)] = &[
        ("30m", "30 minutes"),
        ("6h", "6 hours"),
        ("7d", "7 days"),
        ("30d", "30 days"),
        ("90d", "90 days"),
        ("custom", "Custom date and time (UTC)"),
        ("never", "Never"),
    ];

    /// `custom` is a `datetime-local` value (`2026-12-31T23:59`), read as UTC.
    pub fn parse(preset: &str, custom: &str) -> Result<Self, AppError> {
        const DAY: i64 = 24 * 3600;
        Ok(match preset {
            "30m" => ExpiryChoice::In(30 * 60),
            "6h" => ExpiryChoice::In(6 * 3600),
            "7d" => ExpiryChoice::In(7 * DAY),
            "30d" => ExpiryChoice::In(30 * DAY),
            "90d" => ExpiryChoice::In(90 * DAY),
            "never" => ExpiryChoice::Never,
            "custom" => {
                let format =
                    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
                let at = time::PrimitiveDateTime::parse(custom.trim(), format).map_err(|_| {
                    AppError::invalid(
                        "custom_expiry",
                        "Enter a date and time like 2026-12-31T23:59.",
                    )
                })?;
                ExpiryChoice::At(at.assume_utc().unix_timestamp())
            }
            _ => {
                return Err(AppError::invalid(
                    "expiry",
                    "Choose when the token expires.",
                ))
            }
        })
    }

    pub fn expires_at(self, now: i64) -> Option<i64> {
        match self {
            ExpiryChoice::In(secs) => Some(now + secs),
            ExpiryChoice::At(at) => Some(at),
            ExpiryChoice::Never => None,
        }
    }
}

/// Limits on token lifetimes, from the instance configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryPolicy {
    pub max_lifetime_days: Option<i64>,
    pub allow_non_expiring: bool,
}

impl ExpiryPolicy {
    /// The expiry time for `choice`, or why it is not allowed.
    pub fn resolve(&self, choice: ExpiryChoice, now: i64) -> Result<Option<i64>, AppError> {
        let expires_at = choice.expires_at(now);
        match expires_at {
            None if !self.allow_non_expiring => Err(AppError::invalid(
                "expiry",
                "Tokens must expire on this server; choose an expiry.",
            )),
            Some(at) if at <= now + 60 => Err(AppError::invalid(
                "custom_expiry",
                "Choose a time in the future.",
            )),
            Some(at)
                if self
                    .max_lifetime_days
                    .is_some_and(|days| at > now + days * 24 * 3600) =>
            {
                Err(AppError::invalid(
                    "expiry",
                    format!(
                        "Tokens on this server live at most {} days; choose an earlier expiry.",
                        self.max_lifetime_days.unwrap_or_default()
                    ),
                ))
            }
            other => Ok(other),
        }
    }

    /// This policy with an organization's own limits applied on top: the
    /// stricter of the two wins.
    pub fn narrowed(self, max_lifetime_days: Option<i64>, allow_non_expiring: bool) -> Self {
        ExpiryPolicy {
            max_lifetime_days: match (self.max_lifetime_days, max_lifetime_days) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            allow_non_expiring: self.allow_non_expiring && allow_non_expiring,
        }
    }

    /// Whether a preset can be offered at all under this policy.
    pub fn offers(&self, preset: &str) -> bool {
        match ExpiryChoice::parse(preset, "") {
            Ok(ExpiryChoice::Never) => self.allow_non_expiring,
            Ok(ExpiryChoice::In(secs)) => {
                self.max_lifetime_days.is_none_or(|d| secs <= d * 24 * 3600)
            }
            _ => preset == "custom",
        }
    }
}

fn bounded_text(raw: &str, field: &str, what: &str, max: usize) -> Result<String, AppError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(AppError::invalid(field, format!("Enter {what}.")));
    }
    if value.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("Use at most {max} characters."),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(field, "Remove the control characters."));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn email_rejects_malformed_addresses() {
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@.com",
            "ada@example.",
            "a b@c.d",
            "a@b@c",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert!(err.field_message("email").is_some(), "{bad:?} accepted");
        }
    }

    #[test]
    fn new_password_needs_twelve_characters() {
        assert!(Password::parse_new("short-pass1").is_err());
        assert!(Password::parse_new("            ").is_err());
        assert!(Password::parse_new("correct horse").is_ok());
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::parse_new("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn slug_rules() {
        assert_eq!(Slug::parse(" Acme-Corp ").unwrap().as_str(), "acme-corp");
        for bad in ["a", "1abc", "abc-", "a--b", "ab_c", "new", &"x".repeat(41)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn slug_suggestion_from_name() {
        assert_eq!(Slug::suggest("  Acme Corp. (EU) "), "acme-corp-eu");
        assert_eq!(Slug::suggest("Platform team"), "platform-team");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Acme ").unwrap().as_str(), "Acme");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"n".repeat(81)).is_err());
        assert!(DisplayName::parse("Ada\u{0007}").is_err());
    }

    #[test]
    fn token_names_are_trimmed_and_bounded() {
        assert_eq!(
            TokenName::parse("  CI deploy ").unwrap().as_str(),
            "CI deploy"
        );
        assert!(TokenName::parse(" ").is_err());
        assert!(TokenName::parse(&"x".repeat(101)).is_err());
        assert!(TokenName::parse(&"x".repeat(100)).is_ok());
    }

    #[test]
    fn expiry_presets_and_custom_times() {
        let now = 1_000_000;
        assert_eq!(
            ExpiryChoice::parse("30m", "").unwrap().expires_at(now),
            Some(now + 1800)
        );
        assert_eq!(
            ExpiryChoice::parse("90d", "").unwrap().expires_at(now),
            Some(now + 90 * 86400)
        );
        assert_eq!(
            ExpiryChoice::parse("never", "").unwrap().expires_at(now),
            None
        );
        assert_eq!(
            ExpiryChoice::parse("custom", "2030-01-02T03:04").unwrap(),
            ExpiryChoice::At(1_893_553_440)
        );
        assert!(ExpiryChoice::parse("custom", "tomorrow")
            .unwrap_err()
            .field_message("custom_expiry")
            .is_some());
        assert!(ExpiryChoice::parse("1y", "").is_err());
    }

    #[test]
    fn expiry_policy_refuses_past_too_long_and_forbidden_never() {
        let now = 1_000_000;
        let open = ExpiryPolicy {
            max_lifetime_days: None,
            allow_non_expiring: true,
        };
        assert_eq!(open.resolve(ExpiryChoice::Never, now).unwrap(), None);
        assert!(open.resolve(ExpiryChoice::At(now - 10), now).is_err());
        let strict = ExpiryPolicy {
            max_lifetime_days: Some(30),
            allow_non_expiring: false,
        };
        assert!(strict.resolve(ExpiryChoice::Never, now).is_err());
        assert!(strict.resolve(ExpiryChoice::In(90 * 86400), now).is_err());
        assert_eq!(
            strict.resolve(ExpiryChoice::In(7 * 86400), now).unwrap(),
            Some(now + 7 * 86400)
        );
        assert!(
            !strict.offers("never")
                && !strict.offers("90d")
                && strict.offers("30d")
                && strict.offers("custom")
        );
    }

    #[test]
    fn an_organization_can_only_narrow_the_instance_policy() {
        let instance = ExpiryPolicy {
            max_lifetime_days: Some(90),
            allow_non_expiring: true,
        };
        let org = instance.narrowed(Some(30), false);
        assert_eq!(org.max_lifetime_days, Some(30));
        assert!(!org.allow_non_expiring);
        let loose = instance.narrowed(Some(365), true);
        assert_eq!(loose.max_lifetime_days, Some(90));
        assert_eq!(
            ExpiryPolicy {
                max_lifetime_days: None,
                allow_non_expiring: false
            }
            .narrowed(Some(7), true)
            .max_lifetime_days,
            Some(7)
        );
    }

    #[test]
    fn role_parses_only_known_values() {
        assert_eq!(Role::parse("admin").unwrap(), Role::Admin);
        assert!(Role::parse("owner").is_err());
    }
}

/// Most addresses and networks one token's allowlist holds.
pub const MAX_ALLOWED_ADDRESSES: usize = 10;

/// Where a token may be used from: addresses and CIDR networks, IPv4 or IPv6.
/// Empty means anywhere.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedAddresses(Vec<ipnet::IpNet>);

#[cfg(feature = "ssr")]
impl AllowedAddresses {
    /// As typed: separated by spaces, commas or new lines.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let invalid = |message: String| AppError::invalid("allowed_ips", message);
        let mut networks: Vec<ipnet::IpNet> = Vec::new();
        for entry in raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let network = Self::entry(entry).ok_or_else(|| {
                let shown: String = entry.chars().take(60).collect();
                invalid(format!(
                    "\u{201c}{shown}\u{201d} is not an IPv4 or IPv6 address or network (such as 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32)."
                ))
            })?;
            if !networks.contains(&network) {
                networks.push(network);
            }
        }
        if networks.len() > MAX_ALLOWED_ADDRESSES {
            return Err(invalid(format!(
                "List at most {MAX_ALLOWED_ADDRESSES} addresses or networks."
            )));
        }
        Ok(AllowedAddresses(networks))
    }

    /// One address (a network of one) or network; host bits are dropped.
    fn entry(raw: &str) -> Option<ipnet::IpNet> {
        match raw.parse::<std::net::IpAddr>() {
            Ok(address) => Some(ipnet::IpNet::from(address)),
            Err(_) => raw.parse::<ipnet::IpNet>().ok().map(|net| net.trunc()),
        }
    }

    /// From the `allowed_ips` column (written only through `to_stored`).
    pub fn from_stored(stored: &str) -> Self {
        AllowedAddresses(stored.split_whitespace().filter_map(Self::entry).collect())
    }

    pub fn to_stored(&self) -> String {
        self.entries().join(" ")
    }

    /// Single addresses without their `/32` or `/128`.
    pub fn entries(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|net| {
                if net.prefix_len() == net.max_prefix_len() {
                    net.addr().to_string()
                } else {
                    net.to_string()
                }
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a request from `ip` may use the token. Without a known address
    /// only an empty list allows it.
    pub fn allows(&self, ip: Option<std::net::IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(ip) = ip else { return false };
        // An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`).
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(all(test, feature = "ssr"))]
mod allowed_addresses_tests {
    use super::AllowedAddresses;

    #[test]
    fn addresses_and_networks_parse_and_match() {
        let list = AllowedAddresses::parse("203.0.113.7, 10.1.2.3/8\n2001:db8::/32").unwrap();
        assert_eq!(
            list.entries(),
            ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"]
        );
        assert_eq!(AllowedAddresses::from_stored(&list.to_stored()), list);
        for allowed in [
            "203.0.113.7",
            "10.200.0.1",
            "2001:db8:1::5",
            "::ffff:10.0.0.9",
        ] {
            assert!(list.allows(Some(allowed.parse().unwrap())), "{allowed}");
        }
        for refused in ["203.0.113.8", "11.0.0.1", "2001:db9::1"] {
            assert!(!list.allows(Some(refused.parse().unwrap())), "{refused}");
        }
        assert!(!list.allows(None));
        assert!(AllowedAddresses::parse("").unwrap().allows(None));
    }

    #[test]
    fn bad_entries_and_long_lists_are_refused() {
        let err = AllowedAddresses::parse("10.0.0.1 example.com").unwrap_err();
        assert!(err
            .field_message("allowed_ips")
            .unwrap()
            .contains("example.com"));
        let eleven: Vec<String> = (1..=11).map(|i| format!("10.0.0.{i}")).collect();
        assert!(AllowedAddresses::parse(&eleven.join(" ")).is_err());
        assert!(AllowedAddresses::parse(&eleven[..10].join(" ")).is_ok());
        // The same network twice counts once.
        assert_eq!(
            AllowedAddresses::parse("10.0.0.1 10.0.0.1/32")
                .unwrap()
                .entries(),
            ["10.0.0.1"]
        );
    }
}
