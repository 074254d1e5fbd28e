//! How long a revocation takes to reach another instance: two Latchkey
//! instances on one PostgreSQL database; a token is revoked through A while B
//! is asked about it in a tight loop, 200 times. Prints the time from A's
//! answer to B's first refusal (median, p90, p99, max).
//!
//! `LATCHKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!  cargo bench --features ssr --bench propagation`
//!
//! The database named in the URL is used only to create a fresh one.

mod support;

use reqwest::{Client, StatusCode};
use sqlx::Connection;
use std::time::{Duration, Instant};
use support::{instance, whoami};

const TRIALS: usize = 200;
const PASSWORD: &str = "correct horse battery staple";

async fn rpc(client: &Client, base: &str, name: &str, form: &[(&str, &str)]) -> serde_json::Value {
    let res = client
        .post(format!("{base}/rpc/{name}"))
        .form(form)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{name}: {}", res.status());
    res.json().await.unwrap_or(serde_json::Value::Null)
}

/// Asks `base` until it answers `expected`; how long that took.
async fn until(client: &Client, base: &str, secret: &str, expected: StatusCode) -> Duration {
    let start = Instant::now();
    while whoami(client, base, secret).await != expected {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never answered {expected}"
        );
    }
    start.elapsed()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let Ok(admin_url) = std::env::var("LATCHKEY_TEST_POSTGRES_URL") else {
        eprintln!("Set LATCHKEY_TEST_POSTGRES_URL to a PostgreSQL server to run this benchmark.");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("latchkey_bench_{}", std::process::id());
    let mut conn = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    // Each polls as deployed by default (once a second): the notification,
    // not the poll, is what is measured.
    let a = instance(&url, |c| c.auth_sync_millis = 1000).await.0;
    let b = instance(&url, |c| c.auth_sync_millis = 1000).await.0;

    let browser = Client::builder().cookie_store(true).build().unwrap();
    rpc(
        &browser,
        &a,
        "setup_first_admin",
        &[
            ("email", "bench@example.com"),
            ("display_name", "Bench"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
    )
    .await;
    let created = rpc(
        &browser,
        &a,
        "create_token",
        &[
            ("name", "bench"),
            ("expiry", "7d"),
            ("scopes[]", "identity:read"),
        ],
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["token"]["id"].to_string();
    let api = Client::new();
    let mut delays = Vec::with_capacity(TRIALS);
    for _ in 0..TRIALS {
        until(&api, &b, &secret, StatusCode::OK).await;
        rpc(
            &browser,
            &a,
            "set_token_enabled",
            &[("token_id", &id), ("enabled", "false")],
        )
        .await;
        delays.push(until(&api, &b, &secret, StatusCode::UNAUTHORIZED).await);
        rpc(
            &browser,
            &a,
            "set_token_enabled",
            &[("token_id", &id), ("enabled", "true")],
        )
        .await;
    }
    delays.sort();
    let at = |q: f64| delays[((delays.len() as f64 * q).ceil() as usize).min(delays.len()) - 1];
    println!(
        "revoked on A → refused on B over {TRIALS} trials: median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(0.5).as_secs_f64() * 1000.0,
        at(0.9).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        delays.last().unwrap().as_secs_f64() * 1000.0,
    );
    // The instances still hold connections: end them with the database.
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}
