//! Attacks on the token model's promises: a revoked token stays dead across
//! instances and races, a token cannot mint longer-lived ones, a leaked token
//! cannot come back, and nothing secret or personal is cached.

use crate::helpers::{futures_join_all, spawn_app_with, Backend, TestApp, PASSWORD};
use crate::on_both_databases;
use crate::org_tokens::{api, create_token, ok, world};
use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};

on_both_databases!(
    rotation_through_a_stale_instance_is_refused_after_revocation,
    only_the_newest_token_of_a_chain_rotates_and_the_cap_holds,
    parallel_rotations_and_revocations_never_leave_an_active_successor,
    a_token_cannot_create_credentials_that_outlive_it,
    a_leaked_token_stays_disabled_and_its_owner_sees_every_event,
    secrets_and_personal_pages_are_never_cached,
    two_admins_demoting_each_other_leave_one_admin,
    parallel_wrong_passwords_are_evaluated_at_most_the_limit,
    no_numeric_input_gives_a_server_error,
    sessions_extend_with_use_and_end_at_their_absolute_limit,
);

/// A personal token of `client`; returns (id, secret).
async fn personal_token(app: &TestApp, client: &Client, name: &str) -> (i64, String) {
    let body = ok(app
        .rpc(client, "create_token", &[("name", name), ("expiry", "30d")])
        .await);
    (
        body["token"]["id"].as_i64().unwrap(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn call(base: &str, method: Method, path: &str, token: &str) -> (StatusCode, Value) {
    let res = Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, crate::spec::parse_body(&res.text().await.unwrap()))
}

async fn token_count(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM access_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    n
}

async fn rotation_through_a_stale_instance_is_refused_after_revocation(app: TestApp) {
    let root = app.setup_admin().await;
    let (_, secret) = personal_token(&app, &root, "deploy").await;
    // Instance B would not look for changes made elsewhere for an hour, nor
    // hear of them: its cache keeps believing in the token.
    let b = app
        .another_instance(|c| {
            c.auth_sync_millis = 3_600_000;
            c.auth_notifications = false;
        })
        .await;
    assert_eq!(
        call(&b, Method::GET, "/api/v1/whoami", &secret).await.0,
        StatusCode::OK
    );
    // Revoked through instance A.
    assert_eq!(
        api(
            &app,
            Method::DELETE,
            "/api/v1/tokens/self",
            Some(&secret),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&b, Method::GET, "/api/v1/whoami", &secret).await.0,
        StatusCode::OK,
        "B still answers from its cache (the premise of this test)"
    );
    let before = token_count(&app).await;
    let (status, body) = call(&b, Method::POST, "/api/v1/tokens/self/rotate", &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(token_count(&app).await, before, "no successor was created");
}

async fn only_the_newest_token_of_a_chain_rotates_and_the_cap_holds(app: TestApp) {
    let root = app.setup_admin().await;
    let (_, old) = personal_token(&app, &root, "deploy").await;
    let (status, rotated) = api(
        &app,
        Method::POST,
        "/api/v1/tokens/self/rotate",
        Some(&old),
        Some(json!({ "grace_seconds": 600 })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    // The old secret still works in its grace period, but cannot rotate again.
    assert_eq!(
        api(&app, Method::GET, "/api/v1/whoami", Some(&old), None)
            .await
            .0,
        StatusCode::OK
    );
    let before = token_count(&app).await;
    let (status, _) = api(
        &app,
        Method::POST,
        "/api/v1/tokens/self/rotate",
        Some(&old),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(token_count(&app).await, before);

    // The per-owner cap counts rotations too.
    let newest = rotated["secret"].as_str().unwrap().to_string();
    let (user_id,): (i64,) = sqlx::query_as("SELECT user_id FROM access_tokens LIMIT 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let mut tx = app.db.pool.begin().await.unwrap();
    for i in 0..498 {
        sqlx::query(
            "INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at) \
             VALUES ('personal', $1, 'filler', $2, 'lkp_…', 0)",
        )
        .bind(user_id)
        .bind(format!("filler-{i}"))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(token_count(&app).await, 500);
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/v1/tokens/self/rotate",
        Some(&newest),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("500 tokens"));
    assert_eq!(token_count(&app).await, 500);
    assert_eq!(
        api(&app, Method::GET, "/api/v1/whoami", Some(&newest), None)
            .await
            .0,
        StatusCode::OK,
        "a refused rotation leaves the token as it was"
    );
}

async fn parallel_rotations_and_revocations_never_leave_an_active_successor(app: TestApp) {
    let root = app.setup_admin().await;
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(personal_token(&app, &root, &format!("t{i}")).await);
    }
    let mut tasks = Vec::new();
    for (id, secret) in &tokens {
        for _ in 0..3 {
            let (base, secret) = (app.base.clone(), secret.clone());
            tasks.push(tokio::spawn(async move {
                let res = Client::new()
                    .post(format!("{base}/api/v1/tokens/self/rotate"))
                    .bearer_auth(&secret)
                    .json(&json!({ "grace_seconds": 600 }))
                    .send()
                    .await
                    .unwrap();
                let status = res.status();
                assert!(
                    status == StatusCode::CREATED || status == StatusCode::UNAUTHORIZED,
                    "rotate answered {status}"
                );
            }));
        }
        let (base, client, id) = (app.base.clone(), root.clone(), id.to_string());
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(format!("{base}/rpc/set_token_enabled"))
                .form(&[("token_id", id.as_str()), ("enabled", "false")])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (active_successors,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM access_tokens old JOIN access_tokens new ON old.replaced_by = new.id \
         WHERE old.disabled_at IS NOT NULL AND new.disabled_at IS NULL",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        active_successors, 0,
        "an active successor of a disabled token"
    );
    let (active,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM access_tokens WHERE disabled_at IS NULL")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(active, 0, "every chain was revoked");
    // Each token was replaced at most once: one chain per original token.
    let (rotated, successors): (i64, i64) =
        sqlx::query_as("SELECT COUNT(replaced_by), COUNT(DISTINCT replaced_by) FROM access_tokens")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(rotated, successors);
    assert_eq!(token_count(&app).await, 8 + rotated);
}

async fn a_token_cannot_create_credentials_that_outlive_it(app: TestApp) {
    let w = world(&app).await;
    ok(app
        .rpc(
            &w.oa,
            "update_org_settings",
            &[
                ("org", "acme"),
                ("allow_org_tokens", "on"),
                ("allow_group_tokens", "on"),
                ("allow_non_expiring_tokens", "on"),
            ],
        )
        .await);
    let body = ok(app
        .rpc(
            &w.oa,
            "create_token",
            &[
                ("org", "acme"),
                ("name", "short-lived"),
                ("expiry", "30m"),
                ("admin", "on"),
            ],
        )
        .await);
    let creator = body["secret"].as_str().unwrap().to_string();
    let creator_id = body["token"]["id"].as_i64().unwrap();
    for (expiry, group) in [("90d", ""), ("never", ""), ("7d", "/groups/platform")] {
        let (status, body) = api(
            &app,
            Method::POST,
            &format!("/api/v1/orgs/acme{group}/tokens"),
            Some(&creator),
            Some(json!({ "name": "long-lived", "expiry": expiry, "admin": true })),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{expiry}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("UTC"),
            "says until when: {body}"
        );
    }
    let soon = time::OffsetDateTime::now_utc() + time::Duration::minutes(20);
    let custom = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        soon.year(),
        u8::from(soon.month()),
        soon.day(),
        soon.hour(),
        soon.minute()
    );
    let (status, created) = api(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/tokens",
        Some(&creator),
        Some(json!({ "name": "minted", "expiry": "custom", "custom_expiry": custom })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["token"]["created_by_token"], "short-lived");
    let minted_id = created["token"]["id"].as_i64().unwrap();
    let (stored,): (Option<i64>,) =
        sqlx::query_as("SELECT created_by_token_id FROM access_tokens WHERE id = $1")
            .bind(minted_id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, Some(creator_id));

    // The creator is deleted; the list still says which token made it.
    ok(app
        .rpc(
            &w.oa,
            "delete_token",
            &[("org", "acme"), ("token_id", &creator_id.to_string())],
        )
        .await);
    let list = ok(app.rpc(&w.oa, "list_tokens", &[("org", "acme")]).await);
    let row = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == minted_id)
        .unwrap()
        .clone();
    assert_eq!(row["created_by_token"], "short-lived");
    let page = app
        .get(&w.oa, "/orgs/acme/tokens")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("token \u{201c}short-lived\u{201d}"),
        "the tokens tab names the creating token"
    );
}

async fn a_leaked_token_stays_disabled_and_its_owner_sees_every_event(app: TestApp) {
    let w = world(&app).await;
    let (id, leaked) = personal_token(&app, &w.ou, "pushed").await;
    let (_, revoked) = personal_token(&app, &w.ou, "revoked-by-holder").await;
    let (status, _) = api(
        &app,
        Method::POST,
        "/api/v1/credentials/leaked",
        None,
        Some(json!([leaked])),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = app
        .rpc(
            &w.ou,
            "set_token_enabled",
            &[("token_id", &id.to_string()), ("enabled", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("reported leaked"));
    assert_eq!(
        api(&app, Method::GET, "/api/v1/whoami", Some(&leaked), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // No Enable button for it on the page, without JavaScript either.
    let page = app
        .get(&w.ou, "/profile/tokens")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Reactivate<span class=\"visually-hidden\"> pushed"));

    // Organization tokens alike, through the API as well.
    let (_, admin) = create_token(&app, &w.oa, "", "automation", true).await;
    let (org_id, org_secret) = create_token(&app, &w.oa, "", "leaky", false).await;
    api(
        &app,
        Method::POST,
        "/api/v1/credentials/leaked",
        None,
        Some(json!([org_secret])),
    )
    .await;
    let (status, body) = api(
        &app,
        Method::POST,
        &format!("/api/v1/orgs/acme/tokens/{org_id}/reactivate"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // An anonymous RFC 7009 revocation, by whoever holds the secret.
    let res = Client::new()
        .post(format!("{}/oauth/revoke", app.base))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let activity = ok(app.rpc(&w.ou, "list_token_activity", &[]).await);
    let actions: Vec<&str> = activity
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"token.leaked"), "{activity}");
    let leak = activity
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "token.leaked")
        .unwrap();
    assert_eq!(leak["actor"], "leak report", "says who did it");
    assert!(actions.contains(&"token.revoked"), "{activity}");
    // Someone else's events stay theirs.
    let theirs = ok(app.rpc(&w.oa, "list_token_activity", &[]).await);
    assert!(
        !theirs.to_string().contains("pushed"),
        "another person's activity: {theirs}"
    );
}

async fn secrets_and_personal_pages_are_never_cached(app: TestApp) {
    let w = world(&app).await;
    let res =
        w.oa.post(format!("{}/rpc/create_token", app.base))
            .form(&[
                ("name", "ci"),
                ("expiry", "7d"),
                ("scopes[]", "identity:read"),
            ])
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");

    let (_, admin) = create_token(&app, &w.oa, "", "automation", true).await;
    let res = Client::new()
        .post(format!("{}/api/v1/orgs/acme/tokens", app.base))
        .bearer_auth(&admin)
        .json(&json!({ "name": "minted", "expiry": "7d" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    // Reads and refusals too, the hot path's answers included.
    for (path, token, status) in [
        ("/api/v1/whoami", Some(&admin), StatusCode::OK),
        ("/api/v1/whoami", None, StatusCode::UNAUTHORIZED),
        ("/api/v1/no-such-route", Some(&admin), StatusCode::NOT_FOUND),
    ] {
        let mut request = Client::new().get(format!("{}{path}", app.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store", "{path}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    let res = Client::new()
        .post(format!("{}/api/v1/tokens/self/rotate", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");

    for page in [
        "/profile/tokens",
        "/orgs/acme",
        "/orgs/acme/tokens",
        "/orgs/acme/audit",
    ] {
        let res = app.get(&w.oa, page).await;
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        assert_eq!(
            res.headers()[header::CACHE_CONTROL],
            "private, no-store",
            "{page}"
        );
    }
    // Static files stay cacheable (when the site is built: the browser tests
    // build it after this suite on a clean checkout).
    let res = app.get(&w.oa, "/favicon.svg").await;
    if res.status() == StatusCode::OK {
        assert!(res.headers().get(header::CACHE_CONTROL).is_none());
    }
}

async fn user_id(app: &TestApp, email: &str) -> String {
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    id.to_string()
}

async fn human_admins(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM org_memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.role = 'admin' AND u.kind = 'human'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    n
}

async fn two_admins_demoting_each_other_leave_one_admin(app: TestApp) {
    let w = world(&app).await;
    let root_id = user_id(&app, "root@example.com").await;
    let oa_id = user_id(&app, "oa@example.com").await;
    for round in 0..6 {
        // Demote each other (even rounds) or remove each other (odd rounds).
        let (name, extra): (&str, &[(&str, &str)]) = if round % 2 == 0 {
            ("set_org_member_role", &[("role", "user")])
        } else {
            ("remove_org_member", &[])
        };
        let request = |client: &Client, target: &str| {
            let mut form = vec![("org", "acme"), ("user_id", target)];
            form.extend_from_slice(extra);
            client
                .post(format!("{}/rpc/{name}", app.base))
                .form(&form)
                .send()
        };
        let (a, b) = tokio::join!(request(&w.root, &oa_id), request(&w.oa, &root_id));
        let statuses = [a.unwrap().status(), b.unwrap().status()];
        assert_eq!(human_admins(&app).await, 1, "round {round}: {statuses:?}");
        // One went through; the other was refused as the last admin (409)
        // or, already removed, as no longer a member (404).
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "round {round}: {statuses:?}"
        );
        // Whoever is left as admin makes the other an admin again.
        let (admin, other, other_email) = if statuses[0] == StatusCode::OK {
            (&w.root, &oa_id, "oa@example.com")
        } else {
            (&w.oa, &root_id, "root@example.com")
        };
        if round % 2 == 0 {
            ok(app
                .rpc(
                    admin,
                    "set_org_member_role",
                    &[("org", "acme"), ("user_id", other), ("role", "admin")],
                )
                .await);
        } else {
            ok(app
                .rpc(
                    admin,
                    "add_org_member",
                    &[("org", "acme"), ("email", other_email), ("role", "admin")],
                )
                .await);
        }
    }
}

async fn parallel_wrong_passwords_are_evaluated_at_most_the_limit(app: TestApp) {
    app.setup_admin().await;
    app.create_person("victim@example.com", "Victim").await;
    // No request-rate limit here, so only the attempt claims decide.
    let base = app
        .another_instance(|c| {
            c.sign_in_rate_burst = 1_000;
            c.max_failed_sign_ins_per_ip = 1_000;
        })
        .await;
    let guesses = (0..40).map(|i| {
        let client = app.client();
        let url = format!("{base}/rpc/sign_in");
        async move {
            let password = format!("wrong guess number {i}");
            client
                .post(url)
                .form(&[("email", "victim@example.com"), ("password", &password)])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_join_all(guesses).await;
    let (evaluated,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'user.sign_in_failed' \
         AND target_label = 'victim@example.com'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(evaluated, 5, "the limit is 5: {statuses:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        35
    );
    // Locked: even the right password waits for the window to pass.
    let status = app
        .client()
        .post(format!("{base}/rpc/sign_in"))
        .form(&[("email", "victim@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// Settings-specific scenarios run on SQLite: what they prove does not
/// depend on the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_setup_requests_are_rate_limited_per_address() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.sign_in_rate_burst = 3;
        c.sign_in_rate_period_millis = 60_000;
    })
    .await
    .unwrap();
    let client = app.client();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let email = format!("nobody{i}@example.com");
        let (status, body) = app
            .rpc(
                &client,
                "sign_in",
                &[("email", email.as_str()), ("password", "not the password")],
            )
            .await;
        statuses.push((status, body));
    }
    assert!(statuses[..3]
        .iter()
        .all(|(s, _)| *s == StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(statuses[3].0, StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert!(statuses[3].1.to_string().contains("this address"));
    // Setup shares the allowance: still refused, before anything is checked.
    let (status, _) = app
        .rpc(
            &client,
            "setup_first_admin",
            &[
                ("email", "root@example.com"),
                ("display_name", "Root"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_and_introspection_are_limited_per_address() {
    use latchkey::tokens::secret::{PlainToken, TokenKind};
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.failed_token_burst = 5;
        c.failed_token_period_millis = 60_000;
        c.introspection_rate_burst = 2;
        c.introspection_rate_period_millis = 60_000;
    })
    .await
    .unwrap();
    let root = app.setup_admin().await;
    let (_, good) = personal_token(&app, &root, "admin").await;
    let mut refusals = 0;
    let answer = loop {
        // Checksum-valid, so each costs a database read unless limited.
        let made_up = PlainToken::generate(TokenKind::Personal);
        let (status, body) = call(
            &app.base,
            Method::GET,
            "/api/v1/whoami",
            made_up.expose_secret(),
        )
        .await;
        if status != StatusCode::UNAUTHORIZED {
            break (status, body);
        }
        refusals += 1;
        assert!(refusals <= 6, "never limited");
    };
    assert_eq!(answer.0, StatusCode::TOO_MANY_REQUESTS, "{answer:?}");
    assert_eq!(answer.1["error"], "too_many_requests");
    // The address waits, whatever it sends now; Retry-After says how long.
    let res = Client::new()
        .get(format!("{}/api/v1/whoami", app.base))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // Introspection has a limit of its own (a fresh instance: the address
    // above is still waiting there).
    let base = app
        .another_instance(|c| {
            c.introspection_rate_burst = 2;
            c.introspection_rate_period_millis = 60_000;
        })
        .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = Client::new()
            .post(format!("{base}/oauth/introspect"))
            .bearer_auth(&good)
            .form(&[("token", good.as_str())])
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_addresses_come_only_from_trusted_proxies() {
    use latchkey::server::client::TrustedProxies;
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.trusted_proxies = TrustedProxies::parse("127.0.0.0/8").unwrap();
    })
    .await
    .unwrap();
    app.setup_admin().await;
    let untrusting = app.another_instance(|_| {}).await;
    let sign_in_from = |base: String, forwarded: &'static str| async move {
        Client::new()
            .post(format!("{base}/rpc/sign_in"))
            .header("x-forwarded-for", forwarded)
            .form(&[("email", "root@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap()
            .status()
    };
    // The client wrote 6.6.6.6; the trusted proxy (127.0.0.1) appended the
    // address it saw.
    assert_eq!(
        sign_in_from(app.base.clone(), "6.6.6.6, 203.0.113.9").await,
        StatusCode::OK
    );
    // An instance that trusts no proxy ignores the header altogether.
    assert_eq!(sign_in_from(untrusting, "6.6.6.6").await, StatusCode::OK);
    let ips: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT ip FROM audit_events WHERE action = 'user.signed_in' ORDER BY id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let ips: Vec<_> = ips
        .into_iter()
        .map(|(ip,)| ip.unwrap_or_default())
        .collect();
    assert_eq!(ips, ["203.0.113.9", "127.0.0.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reachable_instance_asks_for_the_setup_code_from_its_log() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.addr = "0.0.0.0:3000".parse().unwrap();
    })
    .await
    .unwrap();
    let code = app.setup_code.clone().expect("a setup code");
    let client = app.client();
    let page = app.get(&client, "/setup").await.text().await.unwrap();
    assert!(page.contains("Setup code"), "the page asks for it");
    let form = |code: &'static str| {
        vec![
            ("email", "root@example.com"),
            ("display_name", "Root"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
            ("setup_code", code),
        ]
    };
    for wrong in ["", "AAAA-BBBB-CCCC"] {
        let (status, body) = app.rpc(&client, "setup_first_admin", &form(wrong)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.to_string().contains("setup_code"), "{body}");
    }
    let typed = code.to_lowercase().replace('-', " ");
    let typed: &'static str = Box::leak(typed.into_boxed_str());
    let (status, body) = app.rpc(&client, "setup_first_admin", &form(typed)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // On loopback, as on a laptop, no code is asked for.
    let local = spawn_app_with(Backend::Sqlite, |_| {}).await.unwrap();
    assert!(local.setup_code.is_none());
}

/// Numbers as people and programs type them: any 64-bit integer, integers too
/// long for one, decimals, signs, blanks and junk.
fn numeric_input() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just(i64::MAX.to_string()),
        Just(i64::MIN.to_string()),
        "[0-9]{19,30}",
        "-?[0-9]{1,4}\\.[0-9]{1,3}",
        "-?[0-9]{1,3}e[0-9]{1,3}",
        Just(String::new()),
        "[ a-z%+-]{1,6}",
    ]
}

/// Every numeric field of the server functions and routes, fed such input,
/// answers as a refusal or a success: never a 5xx. On both databases, where
/// an overflow would surface differently.
async fn no_numeric_input_gives_a_server_error(app: TestApp) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRunner};
    let w = world(&app).await;
    let (_, mut admin) = create_token(&app, &w.oa, "", "automation", true).await;
    let mut runner = TestRunner::new(Config::with_cases(40));
    let strategy = numeric_input();
    for _ in 0..40 {
        let n = strategy.new_tree(&mut runner).unwrap().current();
        let rpcs: [(&str, Vec<(&str, &str)>); 8] = [
            ("list_org_audit", vec![("org", "acme"), ("page", &n)]),
            (
                "set_token_enabled",
                vec![("token_id", &n), ("enabled", "false")],
            ),
            ("delete_token", vec![("token_id", &n)]),
            (
                "set_org_member_role",
                vec![("org", "acme"), ("user_id", &n), ("role", "user")],
            ),
            ("remove_org_member", vec![("org", "acme"), ("user_id", &n)]),
            (
                "set_group_member_role",
                vec![
                    ("org", "acme"),
                    ("group", "platform"),
                    ("user_id", &n),
                    ("role", "user"),
                ],
            ),
            (
                "remove_group_member",
                vec![("org", "acme"), ("group", "platform"), ("user_id", &n)],
            ),
            (
                "update_org_settings",
                vec![("org", "acme"), ("token_max_lifetime_days", &n)],
            ),
        ];
        for (name, form) in rpcs {
            let (status, body) = app.rpc(&w.oa, name, &form).await;
            assert!(status.as_u16() < 500, "{name} with {n:?}: {status} {body}");
        }
        let encoded: String = n
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        for (method, path, body) in [
            (
                Method::POST,
                format!("/api/v1/orgs/acme/tokens/{encoded}/revoke"),
                None,
            ),
            (
                Method::DELETE,
                format!("/api/v1/orgs/acme/groups/platform/tokens/{encoded}"),
                None,
            ),
            (
                Method::POST,
                "/api/v1/tokens/self/rotate".to_string(),
                Some(n.clone()),
            ),
        ] {
            let mut request = Client::new()
                .request(method.clone(), format!("{}{path}", app.base))
                .bearer_auth(&admin);
            if let Some(n) = body {
                // Rotation takes the number in JSON, as typed (not always JSON).
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(format!("{{\"grace_seconds\": {n}}}"));
            }
            let res = request.send().await.unwrap();
            let status = res.status();
            assert!(
                status.as_u16() < 500,
                "{method} {path} with {n:?}: {status}"
            );
            let body = crate::spec::parse_body(&res.text().await.unwrap());
            if status == StatusCode::CREATED {
                // A grace period in range rotated it: carry on with the new one.
                admin = body["secret"].as_str().unwrap().to_string();
            } else if status != StatusCode::NO_CONTENT && status != StatusCode::OK {
                // Refusals in the API's one shape.
                assert!(
                    body["error"].is_string() && body["message"].is_string(),
                    "{method} {path} with {n:?}: {status} {body}"
                );
            }
        }
    }
}

async fn sessions_extend_with_use_and_end_at_their_absolute_limit(app: TestApp) {
    let root = app.setup_admin().await;
    let signed_in = |client: Client| {
        let app = &app;
        async move {
            let (status, body) = app.rpc(&client, "get_session", &[]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["user"].is_object()
        }
    };
    assert!(signed_in(root.clone()).await);
    // Idle for a while: the session would end in 100 s...
    let (id, data): (String, String) = sqlx::query_as("SELECT id, data FROM sessions")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let mut data: Value = serde_json::from_str(&data).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    data["seen_at"] = json!(now - 120);
    sqlx::query("UPDATE sessions SET data = $1, expires_at = $2 WHERE id = $3")
        .bind(data.to_string())
        .bind(now + 100)
        .bind(&id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // ...and a request moves its end to a full idle period (12 hours) away.
    assert!(signed_in(root.clone()).await);
    let (expires_at,): (i64,) = sqlx::query_as("SELECT expires_at FROM sessions WHERE id = $1")
        .bind(&id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(
        expires_at > now + 11 * 3600,
        "extended on use: {}",
        expires_at - now
    );

    // Past the absolute limit, however active, it ends.
    data["signed_in_at"] = json!(now - 168 * 3600 - 1);
    sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
        .bind(data.to_string())
        .bind(&id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert!(!signed_in(root.clone()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_session_cookies_carry_the_host_prefix() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.secure_cookies = true)
        .await
        .unwrap();
    let res = app
        .client()
        .post(format!("{}/rpc/setup_first_admin", app.base))
        .form(&[
            ("email", "root@example.com"),
            ("display_name", "Root"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("__Host-latchkey_session="), "{cookie}");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Domain"), "{cookie}");
}

/// The follower's read of `auth_epoch` fails once (the table is renamed away
/// for one tick); a token is cached again meanwhile and then revoked through
/// another instance before the follower reads successfully again. The follower
/// must drop that answer: the value differs from the last one it saw.
/// PostgreSQL only, for its `DISABLE TRIGGER` (used to make a probe change
/// that does not move the epoch, so the failed read can be seen from outside).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_sync_never_keeps_a_stale_answer() {
    use std::time::{Duration, Instant};
    let Some(app) = spawn_app_with(Backend::Postgres, |_| {}).await else {
        return crate::helpers::postgres_skipped("a_missed_sync_never_keeps_a_stale_answer");
    };
    let root = app.setup_admin().await;
    let (_, token) = personal_token(&app, &root, "watched").await;
    let (probe_id, probe) = personal_token(&app, &root, "probe").await;
    // It follows changes by its poll alone, whose failure is the subject.
    let b = app
        .another_instance(|c| {
            c.auth_sync_millis = 5_000;
            c.auth_notifications = false;
        })
        .await;
    let status = |secret: String| {
        let b = b.clone();
        async move { call(&b, Method::GET, "/api/v1/whoami", &secret).await.0 }
    };
    let until = |secret: String, wanted: StatusCode, within: Duration| {
        let status = &status;
        async move {
            let deadline = Instant::now() + within;
            while status(secret.clone()).await != wanted {
                assert!(Instant::now() < deadline, "never answered {wanted}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(status(token.clone()).await, StatusCode::OK);
    assert_eq!(status(probe.clone()).await, StatusCode::OK);
    // The probe is disabled without moving the epoch: B keeps answering it
    // from its cache until the cache is dropped.
    let mut tx = app.db.pool.begin().await.unwrap();
    for sql in [
        "ALTER TABLE access_tokens DISABLE TRIGGER access_tokens_auth_update",
        "UPDATE access_tokens SET disabled_at = 1 WHERE id = $1",
        "ALTER TABLE access_tokens ENABLE TRIGGER access_tokens_auth_update",
    ] {
        sqlx::query(sql)
            .bind(probe_id)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(status(probe.clone()).await, StatusCode::OK, "B's cache");

    // B's next read fails, and it drops its cache (the probe says so).
    sqlx::query("ALTER TABLE auth_epoch RENAME TO auth_epoch_away")
        .execute(&app.db.pool)
        .await
        .unwrap();
    until(
        probe.clone(),
        StatusCode::UNAUTHORIZED,
        Duration::from_secs(15),
    )
    .await;
    sqlx::query("ALTER TABLE auth_epoch_away RENAME TO auth_epoch")
        .execute(&app.db.pool)
        .await
        .unwrap();
    // Before B reads again: the token is cached anew, then revoked on A.
    assert_eq!(status(token.clone()).await, StatusCode::OK);
    assert_eq!(
        api(
            &app,
            Method::DELETE,
            "/api/v1/tokens/self",
            Some(&token),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    // B's next successful read sees a value unlike the last one it saw.
    until(token, StatusCode::UNAUTHORIZED, Duration::from_secs(15)).await;
}
