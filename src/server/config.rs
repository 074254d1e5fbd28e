//! Command line and environment. Every setting has a default that works on a
//! laptop; `latchkey --help` lists them with their environment variables.

use super::client::TrustedProxies;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "Latchkey: a self-hosted access-token manager"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default when no command is given).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Load a demo organization "Acme" with two groups and users in every role.
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a person's account. The password is read from standard input when it
    /// is not a terminal, otherwise prompted for.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long = "name")]
        display_name: String,
        /// Make this account an instance admin (may create organizations).
        #[arg(long)]
        instance_admin: bool,
    },
    /// Suspend a person's account: no sign-in, and its access tokens stop
    /// working on every instance within a second.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Lift a suspension made with `user disable`.
    Enable {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization with an existing user as its first admin.
    Create {
        #[arg(long)]
        name: String,
        /// URL name; derived from the name when left out.
        #[arg(long)]
        slug: Option<String>,
        /// Email of the user who becomes the organization's admin.
        #[arg(long)]
        admin: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "LATCHKEY_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub addr: SocketAddr,

    /// Directory for the embedded SQLite database when DATABASE_URL is not set.
    #[arg(long, env = "LATCHKEY_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Database URL: sqlite://path or postgres://user@host/db. Defaults to
    /// SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Mark cookies Secure; turn on when Latchkey is served over HTTPS.
    #[arg(
        long,
        env = "LATCHKEY_SECURE_COOKIES",
        default_value_t = false,
        global = true
    )]
    pub secure_cookies: bool,

    /// Hours a browser session stays valid without activity; each request
    /// extends it.
    #[arg(
        long,
        env = "LATCHKEY_SESSION_HOURS",
        default_value_t = 12,
        value_parser = clap::value_parser!(i64).range(1..=8_760),
        global = true
    )]
    pub session_hours: i64,

    /// Hours after sign-in when a browser session ends however active it is;
    /// the person signs in again.
    #[arg(
        long,
        env = "LATCHKEY_SESSION_MAX_HOURS",
        default_value_t = 168,
        value_parser = clap::value_parser!(i64).range(1..=87_600),
        global = true
    )]
    pub session_max_hours: i64,

    /// Reverse proxies whose X-Forwarded-For is believed: comma-separated
    /// addresses or CIDR networks (e.g. 10.0.0.0/8,::1). The client is the
    /// right-most hop that is not one of them. Empty: the socket peer is the
    /// client and the header is ignored.
    #[arg(long, env = "LATCHKEY_TRUSTED_PROXIES", default_value = "",
          value_parser = TrustedProxies::parse, global = true)]
    pub trusted_proxies: TrustedProxies,

    /// Directory of the compiled site (WASM, JS, CSS).
    #[arg(
        long,
        env = "LEPTOS_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: String,

    /// Log format: text or json. Levels come from RUST_LOG (default info).
    #[arg(
        long,
        env = "LATCHKEY_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: String,

    /// Longest lifetime, in days, of a new access token (no limit when unset).
    #[arg(long, env = "LATCHKEY_TOKEN_MAX_LIFETIME_DAYS", global = true,
          value_parser = clap::value_parser!(i64).range(1..=36_500))]
    pub token_max_lifetime_days: Option<i64>,

    /// Whether access tokens may be created without an expiry.
    #[arg(long, env = "LATCHKEY_ALLOW_NON_EXPIRING_TOKENS", default_value_t = true,
          action = clap::ArgAction::Set, global = true)]
    pub allow_non_expiring_tokens: bool,

    /// The address people and applications reach Latchkey at, such as
    /// https://latchkey.example.com: the OAuth issuer (RFC 8414, RFC 9207).
    /// When unset, it is taken from each request's Host header.
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Whether anyone may register a public OAuth client at /oauth/register
    /// (RFC 7591 dynamic client registration, as MCP clients use). Such apps
    /// are marked unverified on the consent page.
    #[arg(long, env = "LATCHKEY_OAUTH_DYNAMIC_REGISTRATION", default_value_t = false,
          action = clap::ArgAction::Set, global = true)]
    pub oauth_dynamic_registration: bool,

    /// Lifetime of an OAuth access token, in seconds.
    #[arg(long, env = "LATCHKEY_OAUTH_ACCESS_TOKEN_SECS", default_value_t = 3600, global = true,
          value_parser = clap::value_parser!(i64).range(60..=86_400))]
    pub oauth_access_token_secs: i64,

    /// Absolute lifetime of an OAuth token family (from consent), in days.
    #[arg(long, env = "LATCHKEY_OAUTH_SESSION_DAYS", default_value_t = 90, global = true,
          value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub oauth_session_days: i64,

    /// An OAuth token family not refreshed for this many days ends.
    #[arg(long, env = "LATCHKEY_OAUTH_IDLE_DAYS", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub oauth_idle_days: i64,

    /// How often token last-use times are written, in milliseconds.
    #[arg(
        long,
        env = "LATCHKEY_USAGE_FLUSH_MILLIS",
        default_value_t = 10_000,
        global = true
    )]
    pub usage_flush_millis: u64,

    /// How often, in milliseconds, each instance checks the database for token,
    /// user or membership changes made elsewhere (another instance, the command
    /// line, SQL) and drops its cached token checks. Changes made through this
    /// instance take effect at once.
    #[arg(
        long,
        env = "LATCHKEY_AUTH_SYNC_MILLIS",
        default_value_t = 1_000,
        global = true
    )]
    pub auth_sync_millis: u64,

    /// On PostgreSQL, listen for the notification every such change sends,
    /// so each instance drops its cached token checks within milliseconds (the
    /// poll above stays as the safety net). Turn it off only where LISTEN does
    /// not work, such as behind PgBouncer in transaction pooling.
    #[arg(
        long,
        env = "LATCHKEY_AUTH_NOTIFICATIONS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub auth_notifications: bool,

    /// Serves Prometheus metrics at /metrics to a scraper that sends this
    /// secret as a bearer token (at least 32 characters). Unset, /metrics is
    /// not there.
    #[arg(long, env = "LATCHKEY_METRICS_TOKEN", global = true, hide_env_values = true,
          value_parser = MetricsToken::from_str)]
    pub metrics_token: Option<MetricsToken>,

    /// On SIGTERM or Ctrl-C, how long to keep accepting requests while
    /// `/readyz` already fails, so a load balancer stops sending traffic first.
    #[arg(
        long,
        env = "LATCHKEY_SHUTDOWN_DRAIN_MILLIS",
        default_value_t = 0,
        global = true
    )]
    pub shutdown_drain_millis: u64,

    /// Then, how long requests in flight may take to finish before the
    /// instance stops anyway.
    #[arg(
        long,
        env = "LATCHKEY_SHUTDOWN_GRACE_SECS",
        default_value_t = 20,
        global = true
    )]
    pub shutdown_grace_secs: u64,

    /// Failed sign-ins for one account within 15 minutes before it is locked for
    /// the rest of that window.
    #[arg(
        long,
        env = "LATCHKEY_MAX_FAILED_SIGNINS",
        default_value_t = 5,
        global = true
    )]
    pub max_failed_sign_ins_per_account: i64,

    /// Failed sign-ins from one IP address within 15 minutes before it is refused.
    #[arg(
        long,
        env = "LATCHKEY_MAX_FAILED_SIGNINS_PER_IP",
        default_value_t = 20,
        global = true
    )]
    pub max_failed_sign_ins_per_ip: i64,

    /// Password checks (argon2, 19 MiB each) run at the same time at most;
    /// further sign-ins wait their turn.
    #[arg(
        long,
        env = "LATCHKEY_MAX_CONCURRENT_PASSWORD_CHECKS",
        default_value_t = 4,
        global = true
    )]
    pub max_concurrent_password_checks: usize,

    /// Sign-in and first-admin requests one client address (IPv6: one /64)
    /// may send in a burst, whatever their outcome.
    #[arg(
        long,
        env = "LATCHKEY_SIGN_IN_RATE_BURST",
        default_value_t = 10,
        global = true
    )]
    pub sign_in_rate_burst: u32,

    /// Milliseconds after which one more such request is allowed again.
    #[arg(
        long,
        env = "LATCHKEY_SIGN_IN_RATE_PERIOD_MILLIS",
        default_value_t = 6_000,
        global = true
    )]
    pub sign_in_rate_period_millis: u64,

    /// Requests one client address may send in a burst to the endpoints that
    /// need no token (leak reports, revocation).
    #[arg(
        long,
        env = "LATCHKEY_PUBLIC_RATE_BURST",
        default_value_t = 20,
        global = true
    )]
    pub public_rate_burst: u32,

    /// Milliseconds after which one more such request is allowed again.
    #[arg(
        long,
        env = "LATCHKEY_PUBLIC_RATE_PERIOD_MILLIS",
        default_value_t = 3_000,
        global = true
    )]
    pub public_rate_period_millis: u64,

    /// Introspection requests (RFC 7662) one client address may send in a
    /// burst; services that check tokens this way send many.
    #[arg(
        long,
        env = "LATCHKEY_INTROSPECTION_RATE_BURST",
        default_value_t = 200,
        global = true
    )]
    pub introspection_rate_burst: u32,

    /// Milliseconds after which one more introspection is allowed again.
    #[arg(
        long,
        env = "LATCHKEY_INTROSPECTION_RATE_PERIOD_MILLIS",
        default_value_t = 50,
        global = true
    )]
    pub introspection_rate_period_millis: u64,

    /// Refused token authentications (malformed, unknown, disabled, expired)
    /// one client address may cause in a burst before its API requests are
    /// answered 429 for a while.
    #[arg(
        long,
        env = "LATCHKEY_FAILED_TOKEN_BURST",
        default_value_t = 60,
        global = true
    )]
    pub failed_token_burst: u32,

    /// Milliseconds after which one more refused token authentication is
    /// allowed again.
    #[arg(
        long,
        env = "LATCHKEY_FAILED_TOKEN_PERIOD_MILLIS",
        default_value_t = 1_000,
        global = true
    )]
    pub failed_token_period_millis: u64,
}

impl Config {
    pub fn database_url(&self) -> Result<String, super::db::DbSetupError> {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => Ok(url.clone()),
            _ => super::db::sqlite_url_in(&self.data_dir),
        }
    }

    pub fn expiry_policy(&self) -> crate::domain::ExpiryPolicy {
        crate::domain::ExpiryPolicy {
            max_lifetime_days: self.token_max_lifetime_days,
            allow_non_expiring: self.allow_non_expiring_tokens,
        }
    }

    /// Defaults for tests and tools that do not parse a command line.
    pub fn for_database(url: String) -> Self {
        let cli = Cli::parse_from(["latchkey"]);
        Config {
            database_url: Some(url),
            ..cli.config
        }
    }
}

/// The bearer secret a metrics scraper presents. Never printed.
#[derive(Clone)]
pub struct MetricsToken(String);

impl std::str::FromStr for MetricsToken {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        if value.chars().count() < 32 {
            return Err("the metrics token must be at least 32 characters long".into());
        }
        Ok(MetricsToken(value.to_owned()))
    }
}

impl MetricsToken {
    /// Compares in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}
