//! Several instances on one database, and what an operator watches: targeted
//! eviction of cached token checks, and the metrics endpoint.

use crate::helpers::{spawn_app_with, Backend, TestApp};
use crate::on_both_databases;
use crate::org_tokens::{create_token, ok, world};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::time::Duration;

on_both_databases!(
    an_unrelated_change_keeps_every_other_cached_check,
    metrics_are_served_only_with_their_secret,
);

const METRICS_TOKEN: &str = "metrics-scraper-secret-0123456789abcdef";

/// An instance with metrics on.
async fn with_metrics(backend: Backend) -> TestApp {
    spawn_app_with(backend, |c| {
        c.metrics_token = Some(METRICS_TOKEN.parse().unwrap());
    })
    .await
    .unwrap()
}

/// The metrics of the instance at `base`, as text.
async fn metrics_at(base: &str) -> String {
    let res = Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

/// One sample's value: the line that starts with `series` (name and labels).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.split(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

async fn whoami_at(base: &str, secret: &str) -> (StatusCode, Value) {
    let res = Client::new()
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Calls a server function at another instance with a client's cookies.
async fn rpc_at(base: &str, client: &Client, name: &str, form: &[(&str, &str)]) -> StatusCode {
    client
        .post(format!("{base}/rpc/{name}"))
        .form(form)
        .send()
        .await
        .unwrap()
        .status()
}

/// Waits (a bounded while) until `check` holds; an instance follows another's
/// change within milliseconds on PostgreSQL, but the test only promises a
/// generous bound — the benchmark holds the real figure.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never: {what}");
}

async fn personal_token(app: &TestApp, client: &Client, name: &str) -> (String, String) {
    let body = ok(app
        .rpc(client, "create_token", &[("name", name), ("expiry", "7d")])
        .await);
    (
        body["token"]["id"].to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

/// Revoking one token drops only its own cached check: the checks of every
/// other token are still answered from memory, while a change to a person
/// drops exactly that person's. Counted by the metrics' cache misses.
async fn an_unrelated_change_keeps_every_other_cached_check(app: TestApp) {
    let app = with_metrics(app.backend).await;
    app.setup_admin().await;
    app.create_person("ann@example.com", "Ann").await;
    app.create_person("bob@example.com", "Bob").await;
    let (ann, bob) = (
        app.sign_in("ann@example.com").await,
        app.sign_in("bob@example.com").await,
    );
    let mut anns = Vec::new();
    for n in 0..10 {
        anns.push(personal_token(&app, &ann, &format!("ann-{n}")).await.1);
    }
    let (bobs_id, bobs) = personal_token(&app, &bob, "bob").await;
    let misses = |text: &str| sample(text, "latchkey_token_cache_misses_total");
    for secret in anns.iter().chain([&bobs]) {
        assert_eq!(whoami_at(&app.base, secret).await.0, StatusCode::OK);
    }
    let before = misses(&metrics_at(&app.base).await);
    for secret in &anns {
        assert_eq!(whoami_at(&app.base, secret).await.0, StatusCode::OK);
    }
    assert_eq!(misses(&metrics_at(&app.base).await), before, "all cached");

    // Bob's token is revoked: only it is looked up again.
    ok(app
        .rpc(
            &bob,
            "set_token_enabled",
            &[("token_id", &bobs_id), ("enabled", "false")],
        )
        .await);
    assert_eq!(
        whoami_at(&app.base, &bobs).await.0,
        StatusCode::UNAUTHORIZED
    );
    for secret in &anns {
        assert_eq!(whoami_at(&app.base, secret).await.0, StatusCode::OK);
    }
    let text = metrics_at(&app.base).await;
    assert_eq!(
        misses(&text),
        before + 1.0,
        "only the revoked token was read again"
    );
    assert_eq!(sample(&text, "latchkey_token_cache_evictions_total"), 1.0);

    // Ann changes her name: her ten checks are read again, and only once.
    assert_eq!(
        app.rpc(&ann, "change_display_name", &[("display_name", "Ann Lee")])
            .await
            .0,
        StatusCode::OK
    );
    for secret in &anns {
        let (status, body) = whoami_at(&app.base, secret).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["acts_as"]["display_name"], "Ann Lee");
    }
    for secret in &anns {
        assert_eq!(whoami_at(&app.base, secret).await.0, StatusCode::OK);
    }
    assert_eq!(misses(&metrics_at(&app.base).await), before + 11.0);
}

/// `/metrics` is not there unless configured, and answers only the scraper
/// holding the secret; it counts requests by route pattern, token checks by
/// outcome and the database pool.
async fn metrics_are_served_only_with_their_secret(app: TestApp) {
    let get = |base: String, secret: Option<&'static str>| async move {
        let mut req = Client::new().get(format!("{base}/metrics"));
        if let Some(secret) = secret {
            req = req.bearer_auth(secret);
        }
        req.send().await.unwrap()
    };
    assert_eq!(
        get(app.base.clone(), Some(METRICS_TOKEN)).await.status(),
        StatusCode::NOT_FOUND,
        "off by default"
    );
    let app = with_metrics(app.backend).await;
    assert_eq!(
        get(app.base.clone(), None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(
            app.base.clone(),
            Some("metrics-scraper-secret-0123456789abcdeX")
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    app.setup_admin().await;
    let ann = {
        app.create_person("ann@example.com", "Ann").await;
        app.sign_in("ann@example.com").await
    };
    let (_, secret) = personal_token(&app, &ann, "ci").await;
    assert_eq!(whoami_at(&app.base, &secret).await.0, StatusCode::OK);
    assert_eq!(
        whoami_at(&app.base, "lk_nonsense").await.0,
        StatusCode::UNAUTHORIZED
    );
    Client::new()
        .get(format!("{}/api/v1/orgs/acme/members", app.base))
        .send()
        .await
        .unwrap();

    let res = get(app.base.clone(), Some(METRICS_TOKEN)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert_eq!(res.headers()["cache-control"], "no-store");
    let text = res.text().await.unwrap();
    for series in [
        r#"latchkey_http_requests_total{method="GET",route="/api/v1/whoami",status="200"}"#,
        r#"latchkey_http_requests_total{method="GET",route="/api/v1/whoami",status="401"}"#,
        r#"latchkey_token_checks_total{outcome="ok"}"#,
        r#"latchkey_token_checks_total{outcome="malformed"}"#,
        r#"latchkey_token_checks_total{outcome="missing"}"#,
        r#"latchkey_http_request_duration_seconds_count{method="GET",route="/api/v1/whoami"}"#,
        "latchkey_token_cache_misses_total",
    ] {
        assert!(sample(&text, series) >= 1.0, "{series} in\n{text}");
    }
    // The address a caller asked for never becomes a label.
    assert!(!text.contains("/api/v1/orgs/acme"), "{text}");
    assert!(
        sample(&text, r#"latchkey_db_connections{state="idle"}"#) >= 1.0,
        "{text}"
    );
    assert!(text.contains("latchkey_usage_batches_total"));
    assert!(text.trim_end().ends_with("# EOF"));
}

/// Two instances behind one load balancer on one PostgreSQL database. The
/// second polls once an hour, so everything it follows came by notification:
/// a session, a revoked token, organization settings, a membership, a
/// person's standing, and the last use each instance saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_instances_act_as_one() {
    let Some(app) = spawn_app_with(Backend::Postgres, |c| {
        c.usage_flush_millis = 100;
        c.metrics_token = Some(METRICS_TOKEN.parse().unwrap());
    })
    .await
    else {
        crate::helpers::postgres_skipped("two_postgres_instances_act_as_one");
        return;
    };
    let b = app
        .another_instance(|c| {
            c.auth_sync_millis = 3_600_000;
            c.usage_flush_millis = 100;
            c.metrics_token = Some(METRICS_TOKEN.parse().unwrap());
        })
        .await;
    let a = app.base.clone();
    let w = world(&app).await;

    // A session made on A works on B, and ends on B when signed out on A.
    app.create_person("ann@example.com", "Ann").await;
    let session = app.sign_in("ann@example.com").await;
    assert_eq!(
        rpc_at(&b, &session, "list_tokens", &[]).await,
        StatusCode::OK
    );
    assert_eq!(rpc_at(&a, &session, "sign_out", &[]).await, StatusCode::OK);
    assert_eq!(
        rpc_at(&b, &session, "list_tokens", &[]).await,
        StatusCode::UNAUTHORIZED
    );

    // Tokens of every kind, checked (and cached) on B.
    let ou = app.sign_in("ou@example.com").await;
    let (ou_token_id, ou_token) = personal_token(&app, &ou, "ou").await;
    let (_, org_token) = create_token(&app, &w.oa, "", "deploy", false).await;
    let (_, other_ou_token) = personal_token(&app, &ou, "ou-2").await;
    for secret in [&ou_token, &org_token, &other_ou_token] {
        assert_eq!(whoami_at(&b, secret).await.0, StatusCode::OK);
    }

    // A token revoked on A is refused on B.
    ok(app
        .rpc(
            &ou,
            "set_token_enabled",
            &[("token_id", &ou_token_id), ("enabled", "false")],
        )
        .await);
    eventually("B refuses the revoked token", || async {
        whoami_at(&b, &ou_token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;

    // Organization settings changed on A reach B: organization tokens off.
    ok(app
        .rpc(
            &w.oa,
            "update_org_settings",
            &[("org", "acme"), ("allow_group_tokens", "on")],
        )
        .await);
    eventually("B refuses the switched-off organization token", || async {
        whoami_at(&b, &org_token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;

    // A membership ended on A: B's answer no longer lists the organization.
    let ou_id: (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = 'ou@example.com'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let orgs = |body: Value| body["organizations"].as_array().map_or(0, Vec::len);
    assert_eq!(orgs(whoami_at(&b, &other_ou_token).await.1), 1);
    ok(app
        .rpc(
            &w.root,
            "remove_org_member",
            &[("org", "acme"), ("user_id", &ou_id.0.to_string())],
        )
        .await);
    eventually("B drops the ended membership", || async {
        orgs(whoami_at(&b, &other_ou_token).await.1) == 0
    })
    .await;

    // A person disabled on A: B refuses their tokens.
    ok(app
        .rpc(
            &w.root,
            "set_person_disabled",
            &[("user_id", &ou_id.0.to_string()), ("disabled", "true")],
        )
        .await);
    eventually("B refuses a disabled person's token", || async {
        whoami_at(&b, &other_ou_token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;

    // Last use seen on each instance is written by each and kept.
    let ann_client = app.sign_in("ann@example.com").await;
    let (on_a_id, on_a) = personal_token(&app, &ann_client, "used-on-a").await;
    let (on_b_id, on_b) = personal_token(&app, &ann_client, "used-on-b").await;
    assert_eq!(whoami_at(&a, &on_a).await.0, StatusCode::OK);
    assert_eq!(whoami_at(&b, &on_b).await.0, StatusCode::OK);
    for id in [on_a_id, on_b_id] {
        let id: i64 = id.parse().unwrap();
        let db = app.db.clone();
        eventually("the last use is written", move || {
            let db = db.clone();
            async move {
                let (used,): (Option<i64>,) =
                    sqlx::query_as("SELECT last_used_at FROM access_tokens WHERE id = $1")
                        .bind(id)
                        .fetch_one(&db.pool)
                        .await
                        .unwrap();
                used.is_some()
            }
        })
        .await;
    }
    // B heard of every change by notification, never by its hourly poll.
    let text = metrics_at(&b).await;
    assert!(
        sample(&text, "latchkey_auth_notifications_total") >= 4.0,
        "{text}"
    );
}
