//! What the load benchmarks share: real instances in this process, and the
//! request they measure.

use latchkey::server::config::Config;
use latchkey::server::db::Db;
use latchkey::server::startup;
use reqwest::{Client, StatusCode};

/// Starts an instance on `url` with `configure`'s settings; its base URL and
/// database handle.
pub async fn instance(url: &str, configure: impl FnOnce(&mut Config)) -> (String, Db) {
    let mut config = Config::for_database(url.to_string());
    configure(&mut config);
    let state = startup::prepare(config).await.expect("instance starts");
    let db = state.db.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    startup::spawn_background_jobs(&state).await;
    tokio::spawn(startup::run(listener, state));
    (format!("http://{addr}"), db)
}

pub async fn whoami(client: &Client, base: &str, secret: &str) -> StatusCode {
    client
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .status()
}
