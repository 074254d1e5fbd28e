//! The token-check cache under steady use, on SQLite and (when configured)
//! PostgreSQL:
//!
//! 1. **Targeted eviction.** 1,000 distinct tokens in steady use on one
//!    instance while one unrelated token is revoked every second (through a
//!    second instance on PostgreSQL, so the change arrives by notification).
//!    Prints the share of token checks that read the database, from the
//!    instance's own `/metrics` counters.
//! 2. **The cold path.** Latency of a check whose token is not cached (one
//!    indexed lookup plus the person's memberships) against a cached one.
//! 3. **Memory.** Heap bytes held by cached token checks (counted by this
//!    binary's allocator, so transient allocations do not blur it), per
//!    100,000.
//!
//! `cargo bench --features ssr --bench cache` (add
//! `LATCHKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres`
//! for PostgreSQL; `BENCH_SECONDS`, default 30, sets the steady phase).

mod support;

use latchkey::auth::server::create_user;
use latchkey::domain::{DisplayName, Email, Password};
use latchkey::server::audit::Actor;
use latchkey::server::config::{Config, MetricsToken};
use latchkey::server::db::{now, Db};
use latchkey::tokens::secret::{PlainToken, TokenKind};
use reqwest::{Client, StatusCode};
use sqlx::Connection;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{instance, whoami};

const PASSWORD: &str = "correct horse battery staple";
const METRICS: &str = "bench-metrics-secret-0123456789abcdef";
fn with_metrics(config: &mut Config) {
    config.metrics_token = Some(MetricsToken::from_str(METRICS).unwrap());
}

const STEADY_TOKENS: usize = 1_000;
const MEMORY_TOKENS: usize = 50_000;

/// Counts the bytes allocated and not yet freed.
struct Counting;

static LIVE: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Personal tokens for a new person, written straight to the database (the
/// person's 500-token limit is a rule of the pages and API, not of storage).
async fn tokens(db: &Db, email: &str, count: usize) -> Vec<String> {
    let user = create_user(
        db,
        &Actor::system("bench"),
        &Email::parse(email).unwrap(),
        &DisplayName::parse("Bench").unwrap(),
        Password::parse_new(PASSWORD).unwrap(),
        false,
    )
    .await
    .unwrap();
    let mut secrets = Vec::with_capacity(count);
    let mut tx = db.pool.begin().await.unwrap();
    for n in 0..count {
        let token = PlainToken::generate(TokenKind::Personal);
        sqlx::query(
            "INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at, expires_at, scopes) \
             VALUES ('personal', $1, $2, $3, $4, $5, $6, 'identity:read')",
        )
        .bind(user)
        .bind(format!("bench {n}"))
        .bind(token.digest().to_hex())
        .bind(token.hint())
        .bind(now())
        .bind(now() + 86_400)
        .execute(&mut *tx)
        .await
        .unwrap();
        secrets.push(token.expose_secret().to_string());
    }
    tx.commit().await.unwrap();
    secrets
}

async fn counter(client: &Client, base: &str, name: &str) -> u64 {
    let text = client
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn run(label: &str, url: &str, two_instances: bool) {
    let (a, db) = instance(url, with_metrics).await;
    let b = if two_instances {
        instance(url, with_metrics).await.0
    } else {
        a.clone()
    };
    let steady = tokens(&db, "steady@example.com", STEADY_TOKENS).await;
    let victims = tokens(&db, "victim@example.com", 600).await;
    let client = Client::new();

    // 2. The cold path first, while nothing is cached: each token's first
    // check reads the database, its second is answered from memory.
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for secret in &steady {
        let started = Instant::now();
        assert_eq!(whoami(&client, &b, secret).await, StatusCode::OK);
        cold.push(started.elapsed());
        let started = Instant::now();
        assert_eq!(whoami(&client, &b, secret).await, StatusCode::OK);
        warm.push(started.elapsed());
    }

    // 1. Steady use with one unrelated revocation a second.
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let hits = "latchkey_token_cache_hits_total";
    let misses = "latchkey_token_cache_misses_total";
    let (hits_before, misses_before) = (
        counter(&client, &b, hits).await,
        counter(&client, &b, misses).await,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let steady = Arc::new(steady);
    let mut load = Vec::new();
    for worker in 0..8 {
        let (client, b, steady, stop, sent) = (
            client.clone(),
            b.clone(),
            steady.clone(),
            stop.clone(),
            sent.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = worker * 125;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(
                    whoami(&client, &b, &steady[n % steady.len()]).await,
                    StatusCode::OK
                );
                sent.fetch_add(1, Ordering::Relaxed);
                n += 7;
            }
        }));
    }
    // Revoked straight in the database, the way any instance's revoke ends:
    // the triggers name the token; A follows at once and, on PostgreSQL, B
    // hears of it by notification.
    let mut revoked = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for victim in victims.iter().take(seconds as usize) {
        tick.tick().await;
        let digest = PlainToken::parse(victim).unwrap().digest().to_hex();
        let mut tx = db.pool.begin().await.unwrap();
        sqlx::query("UPDATE access_tokens SET disabled_at = $1 WHERE digest = $2")
            .bind(now())
            .bind(digest)
            .execute(&mut *tx)
            .await
            .unwrap();
        db.commit_auth_change(tx).await.unwrap();
        revoked += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let checks = (counter(&client, &b, hits).await - hits_before)
        + (counter(&client, &b, misses).await - misses_before);
    let read = counter(&client, &b, misses).await - misses_before;
    println!(
        "{label}: {STEADY_TOKENS} tokens in steady use, {revoked} unrelated revocations over {seconds} s: \
         {checks} checks, {read} read the database ({:.3} %)",
        read as f64 * 100.0 / checks.max(1) as f64,
    );
    println!(
        "{label}: cold check (not cached) median {:.2} ms, cached median {:.2} ms, over {} tokens (HTTP on loopback included)",
        median(cold).as_secs_f64() * 1000.0,
        median(warm).as_secs_f64() * 1000.0,
        STEADY_TOKENS,
    );

    // 3. Memory held by cached checks: live heap bytes before and after
    // caching more of them, everything transient freed by then.
    let many = tokens(&db, "many@example.com", MEMORY_TOKENS).await;
    let client = Client::new();
    let entries = || counter(&client, &b, "latchkey_token_cache_entries");
    let (held_before, live_before) = (entries().await, LIVE.load(Ordering::Relaxed));
    for secret in &many {
        assert_eq!(whoami(&client, &b, secret).await, StatusCode::OK);
    }
    let live_after = LIVE.load(Ordering::Relaxed);
    let added = entries().await - held_before;
    let per_entry = (live_after - live_before) as f64 / added.max(1) as f64;
    println!(
        "{label}: {added} more cached checks hold {:.1} MiB: {per_entry:.0} bytes each, {:.0} MiB per 100,000",
        (live_after - live_before) as f64 / 1_048_576.0,
        per_entry * 100_000.0 / 1_048_576.0,
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = latchkey::server::db::sqlite_url_in(dir.path()).unwrap();
    run("SQLite, one instance", &sqlite, false).await;

    let Ok(admin_url) = std::env::var("LATCHKEY_TEST_POSTGRES_URL") else {
        eprintln!("Set LATCHKEY_TEST_POSTGRES_URL to measure PostgreSQL too.");
        return;
    };
    let name = format!("latchkey_cache_bench_{}", std::process::id());
    let mut conn = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    run("PostgreSQL, two instances", &url, true).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}
