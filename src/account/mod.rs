//! A person's own account: name, email, password and the sessions signed in
//! as them.

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod two_factor;

use serde::{Deserialize, Serialize};

/// One browser signed in as the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// A public name for the session (never its cookie).
    pub handle: String,
    /// The session of the browser asking.
    pub current: bool,
    pub browser: String,
    pub ip: String,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
}

/// "Firefox on Linux" from a `User-Agent` header; enough to tell one's own
/// browsers apart, not a full parser.
pub fn describe_user_agent(agent: &str) -> String {
    if agent.is_empty() {
        return "Unknown browser".into();
    }
    // Order matters: Edge and Chrome also say Safari; Edge says Chrome.
    const BROWSERS: [(&str, &str); 8] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("reqwest", "reqwest"),
    ];
    const SYSTEMS: [(&str, &str); 6] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS
        .iter()
        .find(|(marker, _)| agent.contains(marker))
        .map(|(_, name)| *name);
    let system = SYSTEMS
        .iter()
        .find(|(marker, _)| agent.contains(marker))
        .map(|(_, name)| *name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_string(),
        (None, Some(system)) => format!("A browser on {system}"),
        (None, None) => agent.chars().take(60).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_user_agent;

    #[test]
    fn names_common_browsers() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari on macOS"),
            ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
            ("curl/8.5.0", "curl"),
            ("", "Unknown browser"),
        ];
        for (agent, expected) in cases {
            assert_eq!(describe_user_agent(agent), expected, "{agent}");
        }
    }
}

/// Two-factor sign-in as the account page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorStatus {
    pub enabled: bool,
    /// Unused recovery codes, while enabled.
    pub recovery_codes_left: i64,
    /// An enrolment begun and not yet confirmed with a code.
    pub enrolment: Option<Enrolment>,
    /// The person's organizations that require two-factor sign-in.
    #[serde(default)]
    pub required_by: Vec<String>,
}

/// What an authenticator app needs: the QR code, or the key typed by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// The `otpauth://` address the QR code holds.
    pub otpauth_url: String,
    /// The QR code, as SVG markup made on the server.
    pub qr_svg: String,
    /// The secret in base32, in groups of four, for typing.
    pub secret: String,
}

/// Recovery codes, shown once, right after two-factor sign-in is turned on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
    /// Where to go once they are saved.
    pub manage_at: String,
}
