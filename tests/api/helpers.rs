use latchkey::domain::{DisplayName, Email, Password};
use latchkey::server::audit::Actor;
use latchkey::server::config::Config;
use latchkey::server::db::Db;
use latchkey::server::startup;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sqlx::Connection;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares each scenario twice, once per database. The PostgreSQL variant is
/// skipped with a visible message when no server is configured, except in CI.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await.unwrap()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await {
                        Some(app) => super::$name(app).await,
                        None => $crate::helpers::postgres_skipped(stringify!($name)),
                    }
                }
            )*
        }
    };
}

pub fn postgres_skipped(test: &str) {
    if std::env::var("LATCHKEY_REQUIRE_POSTGRES").is_ok() {
        panic!(
            "PostgreSQL is required here but LATCHKEY_TEST_POSTGRES_URL is not set or unreachable"
        );
    }
    eprintln!("SKIPPED {test} on PostgreSQL: set LATCHKEY_TEST_POSTGRES_URL to run it");
}

pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub db_url: String,
    pub db: Db,
    /// The one-time setup code, when this instance asks for one.
    pub setup_code: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh database for one test: a SQLite file in a temporary directory, or a
/// new PostgreSQL database on the configured server.
pub async fn fresh_database(backend: Backend) -> Option<(String, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            Some((url, Some(dir)))
        }
        Backend::Postgres => {
            let admin_url = std::env::var("LATCHKEY_TEST_POSTGRES_URL").ok()?;
            sqlx::any::install_default_drivers();
            let mut conn = match sqlx::AnyConnection::connect(&admin_url).await {
                Ok(conn) => conn,
                Err(err) => {
                    eprintln!("PostgreSQL at LATCHKEY_TEST_POSTGRES_URL is unreachable: {err}");
                    return None;
                }
            };
            let name = format!("latchkey_test_{}", random_suffix());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
            Some((format!("{base}/{name}"), None))
        }
    }
}

fn random_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{}", nanos, std::process::id())
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Like `spawn_app`, with settings changed first.
pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    let (url, dir) = fresh_database(backend).await?;
    let (base, db, setup_code) = start_instance(&url, configure).await;
    Some(TestApp {
        backend,
        db_url: url,
        base,
        db,
        setup_code,
        _dir: dir,
    })
}

/// Starts a server on `url`; returns its base URL, its database handle and
/// its setup code, if it asks for one.
pub async fn start_instance(
    url: &str,
    configure: impl FnOnce(&mut Config),
) -> (String, Db, Option<String>) {
    let mut config = Config::for_database(url.to_string());
    configure(&mut config);
    let state = startup::prepare(config).await.expect("app starts");
    let db = state.db.clone();
    let setup_code = state.setup_code.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Started before serving, so the instance has seen the database's
    // `auth_epoch` once before its first request.
    startup::spawn_background_jobs(&state).await;
    tokio::spawn(startup::run(listener, state));
    (format!("http://{addr}"), db, setup_code)
}

impl TestApp {
    /// A second server on the same database, as behind a load balancer; returns
    /// its base URL.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut Config)) -> String {
        start_instance(&self.db_url, configure).await.0
    }

    pub fn client(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            // A stuck request fails its test instead of stalling the suite.
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap()
    }

    /// Calls a server function the way the hydrated app does.
    pub async fn rpc(
        &self,
        client: &Client,
        name: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut form = form.to_vec();
        // Tests written before scopes existed create tokens that may do all
        // their kind can, as tokens made then were migrated to; tests about
        // scopes name them.
        if name == "create_token" && !form.iter().any(|(k, _)| *k == "scopes[]") {
            let org = form.iter().any(|(k, v)| *k == "org" && !v.is_empty());
            let group = form.iter().any(|(k, v)| *k == "group" && !v.is_empty());
            let kind = match (org, group) {
                (_, true) => latchkey::tokens::TokenKind::Group,
                (true, false) => latchkey::tokens::TokenKind::Organization,
                _ => latchkey::tokens::TokenKind::Personal,
            };
            for scope in latchkey::access::applicable_built_in_scopes(kind) {
                form.push(("scopes[]", scope.name));
            }
        }
        let res = client
            .post(format!("{}/rpc/{name}", self.base))
            .form(&form)
            .send()
            .await
            .expect("request");
        let status = res.status();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, client: &Client, path: &str) -> reqwest::Response {
        // Page loads as a browser makes them.
        client
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
    }

    /// Creates a person directly in the database.
    pub async fn create_person(&self, email: &str, name: &str) -> i64 {
        latchkey::auth::server::create_user(
            &self.db,
            &Actor::system("test"),
            &Email::parse(email).unwrap(),
            &DisplayName::parse(name).unwrap(),
            Password::parse_new(PASSWORD).unwrap(),
            false,
        )
        .await
        .unwrap()
    }

    pub async fn sign_in(&self, email: &str) -> Client {
        let client = self.client();
        let (status, body) = self
            .rpc(
                &client,
                "sign_in",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "sign-in of {email} failed: {body}");
        client
    }

    /// Completes first-run setup; returns the instance admin's client.
    pub async fn setup_admin(&self) -> Client {
        let client = self.client();
        let (status, body) = self
            .rpc(
                &client,
                "setup_first_admin",
                &[
                    ("email", "root@example.com"),
                    ("display_name", "Root Admin"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "setup failed: {body}");
        client
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT action FROM audit_events ORDER BY id")
            .fetch_all(&self.db.pool)
            .await
            .unwrap();
        rows.into_iter().map(|(a,)| a).collect()
    }
}

/// The error variant name of a serialised `AppError`.
pub fn error_kind(body: &Value) -> String {
    match body {
        Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs futures side by side and collects their outputs in order.
pub async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
