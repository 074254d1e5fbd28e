use crate::helpers::{futures_join_all, spawn_app_with, Backend, TestApp};
use crate::on_both_databases;
use latchkey::auth::server::set_user_disabled;
use latchkey::domain::Email;
use latchkey::server::audit::Actor;
use reqwest::{Client, StatusCode};
use serde_json::Value;

on_both_databases!(
    created_token_is_shown_once_and_stored_only_as_a_digest,
    whoami_accepts_bearer_and_api_token_headers,
    every_token_state_is_checked_by_whoami,
    missing_and_malformed_tokens_get_rfc6750_answers,
    a_token_follows_the_users_current_memberships,
    another_users_token_id_is_not_found_and_unchanged,
    expiry_choices_follow_the_instance_policy,
    token_names_are_validated_and_duplicates_warned,
    at_most_500_tokens_per_user,
    revoke_all_disables_every_token,
    last_use_is_recorded_in_the_background,
    a_new_secret_is_shown_once_on_its_own_page,
    racing_loads_of_the_secret_page_show_it_once,
    recent_activity_lists_token_events_newest_first,
    a_change_on_one_instance_reaches_the_others,
    a_change_made_in_sql_is_picked_up_by_the_sync,
    a_refused_form_names_every_wrong_field_at_once,
    last_use_batches_from_several_instances_keep_the_latest,
    periodic_clean_ups_run_on_one_instance_at_a_time,
);

async fn person(app: &TestApp, email: &str) -> Client {
    app.create_person(email, email.split('@').next().unwrap())
        .await;
    app.sign_in(email).await
}

async fn create(app: &TestApp, client: &Client, name: &str, expiry: &str) -> Value {
    let (status, body) = app
        .rpc(
            client,
            "create_token",
            &[("name", name), ("expiry", expiry)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn whoami(app: &TestApp, token: &str) -> (StatusCode, Option<String>, Value) {
    whoami_at(&app.base, token).await
}

async fn whoami_at(base: &str, token: &str) -> (StatusCode, Option<String>, Value) {
    let res = Client::new()
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body = crate::spec::parse_body(&res.text().await.unwrap());
    crate::spec::conforms("GET", "/api/v1/whoami", status.as_u16(), &body);
    (status, challenge, body)
}

async fn set_enabled(app: &TestApp, client: &Client, id: &str, enabled: &str) -> StatusCode {
    app.rpc(
        client,
        "set_token_enabled",
        &[("token_id", id), ("enabled", enabled)],
    )
    .await
    .0
}

/// Every stored byte, to look for a secret in: the SQLite files, or each
/// PostgreSQL row as text.
async fn everything_stored(app: &TestApp) -> String {
    match app.backend {
        Backend::Sqlite => {
            let url = app.db_url.trim_start_matches("sqlite://");
            let path = url.split('?').next().unwrap();
            let mut all = Vec::new();
            for suffix in ["", "-wal"] {
                if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                    all.extend(bytes);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        Backend::Postgres => {
            let tables: Vec<(String,)> =
                sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                    .fetch_all(&app.db.pool)
                    .await
                    .unwrap();
            let mut all = String::new();
            for (table,) in tables {
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("SELECT t::text FROM {table} t"))
                        .fetch_all(&app.db.pool)
                        .await
                        .unwrap();
                for (row,) in rows {
                    all.push_str(&row);
                }
            }
            all
        }
    }
}

async fn created_token_is_shown_once_and_stored_only_as_a_digest(app: TestApp) {
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let created = create(&app, &ann, "CI deploy", "30d").await;
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("lkp_") && secret.len() == 42, "{secret}");
    assert_eq!(created["token"]["status"], "active");
    assert!(created["token"]["hint"]
        .as_str()
        .unwrap()
        .ends_with(&secret[38..]));

    let (_, list) = app.rpc(&ann, "list_tokens", &[]).await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains(&secret),
        "the list never carries the secret"
    );
    let page = app.get(&ann, "/profile/tokens").await.text().await.unwrap();
    assert!(!page.contains(&secret));

    let stored = everything_stored(&app).await;
    assert!(!stored.is_empty());
    assert!(
        !stored.contains(&secret),
        "plaintext token found in the database"
    );
    assert!(
        !stored.contains(&secret[4..]),
        "token body found in the database"
    );
    let audit: Vec<(String,)> = sqlx::query_as("SELECT detail FROM audit_events")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert!(audit.iter().all(|(d,)| !d.contains(&secret[4..])));
    assert!(app
        .audit_actions()
        .await
        .contains(&"token.created".to_string()));
}

async fn whoami_accepts_bearer_and_api_token_headers(app: TestApp) {
    let root = app.setup_admin().await;
    app.rpc(&root, "create_org", &[("name", "Acme"), ("slug", "acme")])
        .await;
    app.rpc(
        &root,
        "create_group",
        &[("org", "acme"), ("name", "Platform"), ("slug", "platform")],
    )
    .await;
    app.rpc(
        &root,
        "add_group_member",
        &[
            ("org", "acme"),
            ("group", "platform"),
            ("email", "root@example.com"),
            ("role", "admin"),
        ],
    )
    .await;
    let created = create(&app, &root, "script", "7d").await;
    let secret = created["secret"].as_str().unwrap();

    let (status, _, body) = whoami(&app, secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acts_as"]["email"], "root@example.com");
    assert_eq!(body["acts_as"]["kind"], "human");
    assert_eq!(body["token"]["name"], "script");
    assert_eq!(body["token"]["kind"], "personal");
    assert_eq!(body["token"]["id"], created["token"]["id"]);
    assert!(body["token"]["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["organizations"][0]["slug"], "acme");
    assert_eq!(body["organizations"][0]["role"], "admin");
    assert_eq!(body["organizations"][0]["groups"][0]["slug"], "platform");
    assert_eq!(body["organizations"][0]["groups"][0]["role"], "admin");

    let res = app
        .client()
        .get(format!("{}/api/v1/whoami", app.base))
        .header("apiToken", secret)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = crate::spec::parse_body(&res.text().await.unwrap());
    crate::spec::conforms("GET", "/api/v1/whoami", status.as_u16(), &body);
    assert_eq!(status, StatusCode::OK);
}

async fn every_token_state_is_checked_by_whoami(app: TestApp) {
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let created = create(&app, &ann, "states", "never").await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["token"]["id"].to_string();
    let refused = |(status, challenge, body): (StatusCode, Option<String>, Value)| {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer realm="latchkey", error="invalid_token""#)
        );
        assert_eq!(body["error"], "invalid_token");
    };

    assert_eq!(whoami(&app, &secret).await.0, StatusCode::OK);
    assert_eq!(set_enabled(&app, &ann, &id, "false").await, StatusCode::OK);
    refused(whoami(&app, &secret).await);
    assert_eq!(set_enabled(&app, &ann, &id, "true").await, StatusCode::OK);
    assert_eq!(whoami(&app, &secret).await.0, StatusCode::OK);

    // A disabled user's tokens stop working (`latchkey user disable`).
    let ann_email = Email::parse("ann@example.com").unwrap();
    let operator = Actor::system("test");
    set_user_disabled(&app.db, &operator, &ann_email, true)
        .await
        .unwrap();
    refused(whoami(&app, &secret).await);
    set_user_disabled(&app.db, &operator, &ann_email, false)
        .await
        .unwrap();
    assert_eq!(whoami(&app, &secret).await.0, StatusCode::OK);

    // Expired: refused, listed as Expired, and cannot be enabled again. The
    // expiry is written behind the app's back, so its cache is dropped by hand
    // here (the sync test shows the app notices such changes by itself).
    sqlx::query("UPDATE access_tokens SET expires_at = 1000")
        .execute(&app.db.pool)
        .await
        .unwrap();
    app.db.follow_auth_changes().await;
    refused(whoami(&app, &secret).await);
    let (_, list) = app.rpc(&ann, "list_tokens", &[]).await;
    assert_eq!(list["tokens"][0]["status"], "expired");
    assert_eq!(set_enabled(&app, &ann, &id, "false").await, StatusCode::OK);
    assert_eq!(
        set_enabled(&app, &ann, &id, "true").await,
        StatusCode::CONFLICT
    );

    // Deleted: gone from the list and refused.
    let (status, _) = app.rpc(&ann, "delete_token", &[("token_id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    refused(whoami(&app, &secret).await);
    let (_, list) = app.rpc(&ann, "list_tokens", &[]).await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), 0);
    let actions = app.audit_actions().await;
    for expected in ["token.revoked", "token.reactivated", "token.deleted"] {
        assert!(
            actions.contains(&expected.to_string()),
            "missing {expected}"
        );
    }
}

async fn missing_and_malformed_tokens_get_rfc6750_answers(app: TestApp) {
    let res = app
        .client()
        .get(format!("{}/api/v1/whoami", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="latchkey""#
    );
    let body = crate::spec::parse_body(&res.text().await.unwrap());
    crate::spec::conforms("GET", "/api/v1/whoami", 401, &body);
    assert_eq!(body["error"], "unauthenticated");

    // Malformed, a wrong checksum, and a well-formed token nobody issued.
    let unknown = {
        let created = {
            app.setup_admin().await;
            let ann = person(&app, "ann@example.com").await;
            create(&app, &ann, "x", "7d").await
        };
        let secret = created["secret"].as_str().unwrap().to_string();
        let id = created["token"]["id"].as_i64().unwrap();
        sqlx::query("DELETE FROM access_tokens WHERE id = $1")
            .bind(id)
            .execute(&app.db.pool)
            .await
            .unwrap();
        secret
    };
    let mut wrong_checksum = unknown.clone();
    let last = wrong_checksum.pop().unwrap();
    wrong_checksum.push(if last == 'a' { 'b' } else { 'a' });
    for bad in ["nonsense", "lkp_short", &wrong_checksum, &unknown] {
        let (status, challenge, body) = whoami(&app, bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert!(challenge.unwrap().contains(r#"error="invalid_token""#));
        assert_eq!(
            body["message"],
            "The access token is malformed, unknown, revoked or expired."
        );
    }
}

async fn a_token_follows_the_users_current_memberships(app: TestApp) {
    let root = app.setup_admin().await;
    app.rpc(&root, "create_org", &[("name", "Acme"), ("slug", "acme")])
        .await;
    let ann_id = app.create_person("ann@example.com", "Ann").await;
    app.rpc(
        &root,
        "add_org_member",
        &[
            ("org", "acme"),
            ("email", "ann@example.com"),
            ("role", "user"),
        ],
    )
    .await;
    let ann = app.sign_in("ann@example.com").await;
    let secret = create(&app, &ann, "member", "7d").await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, _, body) = whoami(&app, &secret).await;
    assert_eq!(body["organizations"][0]["role"], "user");
    // Whoami's answer is kept with the cached token check: a change of role
    // must replace it at once.
    let (status, _) = app
        .rpc(
            &root,
            "set_org_member_role",
            &[
                ("org", "acme"),
                ("user_id", &ann_id.to_string()),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, body) = whoami(&app, &secret).await;
    assert_eq!(body["organizations"][0]["role"], "admin");
    app.rpc(
        &root,
        "remove_org_member",
        &[("org", "acme"), ("user_id", &ann_id.to_string())],
    )
    .await;
    let (status, _, body) = whoami(&app, &secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["organizations"].as_array().unwrap().len(),
        0,
        "removed from the org, the token loses it at once"
    );
}

async fn another_users_token_id_is_not_found_and_unchanged(app: TestApp) {
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let bob = person(&app, "bob@example.com").await;
    let created = create(&app, &ann, "ann's", "7d").await;
    let (id, secret) = (
        created["token"]["id"].to_string(),
        created["secret"].as_str().unwrap().to_string(),
    );
    assert_eq!(
        set_enabled(&app, &bob, &id, "false").await,
        StatusCode::NOT_FOUND
    );
    let (status, body) = app.rpc(&bob, "delete_token", &[("token_id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["NotFound"], "Token not found.");
    let (_, list) = app.rpc(&bob, "list_tokens", &[]).await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), 0);
    app.rpc(&bob, "revoke_all_tokens", &[]).await;
    assert_eq!(
        whoami(&app, &secret).await.0,
        StatusCode::OK,
        "Ann's token is untouched"
    );
    // Anonymous callers are refused before anything else.
    let (status, _) = app
        .rpc(&app.client(), "delete_token", &[("token_id", &id)])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn expiry_choices_follow_the_instance_policy(app: TestApp) {
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let (status, body) = app
        .rpc(
            &ann,
            "create_token",
            &[
                ("name", "past"),
                ("expiry", "custom"),
                ("custom_expiry", "2001-01-01T00:00"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "custom_expiry");
    assert_eq!(body["Invalid"]["input"]["name"], "past");
    let (status, body) = app
        .rpc(
            &ann,
            "create_token",
            &[
                ("name", "later"),
                ("expiry", "custom"),
                ("custom_expiry", "2099-12-31T23:59"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .rpc(
            &ann,
            "create_token",
            &[("name", "odd"), ("expiry", "forever")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let strict = spawn_app_with(app.backend, |c| {
        c.token_max_lifetime_days = Some(30);
        c.allow_non_expiring_tokens = false;
    })
    .await
    .unwrap();
    strict.setup_admin().await;
    let ann = person(&strict, "ann@example.com").await;
    let (_, list) = strict.rpc(&ann, "list_tokens", &[]).await;
    assert_eq!(list["policy"]["max_lifetime_days"], 30);
    assert_eq!(list["policy"]["allow_non_expiring"], false);
    for refused in ["never", "90d"] {
        let (status, body) = strict
            .rpc(&ann, "create_token", &[("name", "x"), ("expiry", refused)])
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused}: {body}"
        );
        assert_eq!(body["Invalid"]["field"], "expiry");
    }
    create(&strict, &ann, "ok", "30d").await;
}

async fn token_names_are_validated_and_duplicates_warned(app: TestApp) {
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let long = "n".repeat(101);
    for bad in ["", "   ", long.as_str()] {
        let (status, body) = app
            .rpc(&ann, "create_token", &[("name", bad), ("expiry", "7d")])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["Invalid"]["field"], "name");
    }
    let first = create(&app, &ann, "  deploy  ", "7d").await;
    assert_eq!(first["token"]["name"], "deploy");
    assert_eq!(first["duplicate_name"], false);
    let second = create(&app, &ann, "deploy", "7d").await;
    assert_eq!(second["duplicate_name"], true);
}

async fn at_most_500_tokens_per_user(app: TestApp) {
    app.setup_admin().await;
    let ann_id = app.create_person("ann@example.com", "Ann").await;
    let ann = app.sign_in("ann@example.com").await;
    let mut tx = app.db.pool.begin().await.unwrap();
    for n in 0..500 {
        sqlx::query("INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at) VALUES ('personal', $1, 'bulk', $2, 'lkp_…0000', 0)")
            .bind(ann_id)
            .bind(format!("digest-{n}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let (status, body) = app
        .rpc(
            &ann,
            "create_token",
            &[("name", "one more"), ("expiry", "7d")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["Conflict"].as_str().unwrap().contains("500"));
}

async fn revoke_all_disables_every_token(app: TestApp) {
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let mut secrets = Vec::new();
    for name in ["a", "b", "c"] {
        secrets.push(
            create(&app, &ann, name, "7d").await["secret"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let (_, list) = app.rpc(&ann, "list_tokens", &[]).await;
    let names: Vec<_> = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "b", "a"], "newest first");
    let (status, count) = app.rpc(&ann, "revoke_all_tokens", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(count, 3);
    for secret in &secrets {
        assert_eq!(whoami(&app, secret).await.0, StatusCode::UNAUTHORIZED);
    }
    assert!(app
        .audit_actions()
        .await
        .contains(&"token.revoked_all".to_string()));
}

async fn last_use_is_recorded_in_the_background(app: TestApp) {
    let app = spawn_app_with(app.backend, |c| c.usage_flush_millis = 200)
        .await
        .unwrap();
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let secret = create(&app, &ann, "used", "7d").await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..3 {
        assert_eq!(whoami(&app, &secret).await.0, StatusCode::OK);
    }
    let mut recorded = Value::Null;
    for _ in 0..50 {
        let (_, list) = app.rpc(&ann, "list_tokens", &[]).await;
        if !list["tokens"][0]["last_used_at"].is_null() {
            recorded = list["tokens"][0].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        recorded["last_used_at"].as_i64().is_some(),
        "last use was never recorded"
    );
    assert_eq!(recorded["last_used_ip"], "127.0.0.1");
}

/// The one showing is claimed in one statement: however many loads of the
/// secret page race with the same cookie, exactly one shows the secret.
async fn racing_loads_of_the_secret_page_show_it_once(app: TestApp) {
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let res = ann
        .post(format!("{}/rpc/create_token", app.base))
        .header("accept", "text/html")
        .header("referer", format!("{}/profile/tokens?new", app.base))
        .form(&[
            ("name", "raced"),
            ("expiry", "7d"),
            ("scopes[]", "identity:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("latchkey_new_token="))
        .expect("the new token travels in a cookie");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let loads = (0..8).map(|_| {
        let (client, url, cookie) = (
            app.client(),
            format!("{}/tokens/new", app.base),
            cookie.clone(),
        );
        async move {
            let res = client
                .get(url)
                .header("accept", "text/html")
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            // The others are told it was shown, not given an error.
            assert_eq!(res.status(), StatusCode::OK);
            res.text().await.unwrap().contains("value=\"lkp_")
        }
    });
    let shown = futures_join_all(loads).await;
    assert_eq!(shown.iter().filter(|shown| **shown).count(), 1, "{shown:?}");
}

async fn a_new_secret_is_shown_once_on_its_own_page(app: TestApp) {
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let post = |form: Vec<(&'static str, &'static str)>| {
        ann.post(format!("{}/rpc/create_token", app.base))
            .header("accept", "text/html")
            .header("referer", format!("{}/profile/tokens?new", app.base))
            .form(&form)
            .send()
    };
    let res = post(vec![
        ("name", "plain form"),
        ("expiry", "7d"),
        ("scopes[]", "identity:read"),
    ])
    .await
    .unwrap();
    // Post, then redirect: the secret is not in the answer to the post, so
    // reloading the page that shows it cannot post (and mint) again.
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/tokens/new");
    let set_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("latchkey_new_token="))
        .expect("the new token travels in a cookie");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("Path=/tokens/new"));
    assert!(
        !set_cookie.contains("lkp_"),
        "only ciphertext in the cookie"
    );
    assert!(res.text().await.unwrap().is_empty());
    let res = app.get(&ann, "/tokens/new").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap_or_else(|| panic!("the page's own policy: {csp}"))
        .to_string();
    let page = res.text().await.unwrap();
    // Only Latchkey's own scripts run here (the copy button).
    let scripts: Vec<&str> = page
        .split("<script")
        .skip(1)
        .map(|tag| tag.split('>').next().unwrap_or_default())
        .collect();
    assert!(!scripts.is_empty(), "the islands' loader");
    for tag in scripts {
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "every script carries the nonce: {tag}"
        );
    }
    let (_, list) = app.rpc(&ann, "list_tokens", &[]).await;
    let hint = list["tokens"][0]["hint"].as_str().unwrap();
    let secret_start = page.find("value=\"lkp_").expect("secret shown") + 7;
    let secret = &page[secret_start..secret_start + 42];
    assert!(secret.ends_with(&hint[hint.len() - 4..]));
    assert!(page.contains("This is the only time it is shown."));
    assert!(
        page.contains("Sign out"),
        "one of the app's pages, for the person signed in"
    );
    assert_eq!(
        page.matches(secret).count(),
        1,
        "the secret is in its field only, not in the data islands carry"
    );
    assert_eq!(whoami(&app, secret).await.0, StatusCode::OK);
    // Reloading the token list never shows it again...
    let list_page = app.get(&ann, "/profile/tokens").await.text().await.unwrap();
    assert!(!list_page.contains(secret));
    // ...nor does reloading the secret page, even with the cookie replayed.
    let reload = app.get(&ann, "/tokens/new").await.text().await.unwrap();
    assert!(!reload.contains(secret) && reload.contains("already shown"));
    let cookie_value = set_cookie.split(';').next().unwrap().to_string();
    let replayed = app
        .client()
        .get(format!("{}/tokens/new", app.base))
        .header("cookie", cookie_value)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !replayed.contains(secret),
        "a replayed cookie shows nothing"
    );
    let (_, list) = app.rpc(&ann, "list_tokens", &[]).await;
    assert_eq!(
        list["tokens"].as_array().unwrap().len(),
        1,
        "one token made"
    );

    // A mistake goes back to the open dialog with its message and the typed name.
    let res = post(vec![
        ("name", "typed name"),
        ("expiry", "custom"),
        ("custom_expiry", "yesterday"),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let page = app
        .get(&ann, location.trim_start_matches(&app.base))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Enter a date and time like"), "error shown");
    assert!(page.contains("value=\"typed name\""), "typed name kept");
}

async fn recent_activity_lists_token_events_newest_first(app: TestApp) {
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let created = create(&app, &ann, "watched", "7d").await;
    let id = created["token"]["id"].to_string();
    set_enabled(&app, &ann, &id, "false").await;
    let (_, events) = app.rpc(&ann, "list_token_activity", &[]).await;
    let actions: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["token.revoked", "token.created"]);
    assert_eq!(events[0]["token_name"], "watched");
    assert_eq!(events[0]["ip"], "127.0.0.1");
    let page = app.get(&ann, "/profile/tokens").await.text().await.unwrap();
    assert!(page.contains("Recent activity") && page.contains("Revoked \u{201c}watched\u{201d}"));
}

/// Polls `base` until whoami answers `expected`; changes made elsewhere reach an
/// instance within its sync interval, so this waits a few of those at most.
async fn eventually_whoami(base: &str, token: &str, expected: StatusCode) {
    for _ in 0..100 {
        if whoami_at(base, token).await.0 == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("whoami at {base} never answered {expected}");
}

async fn a_change_on_one_instance_reaches_the_others(app: TestApp) {
    let other = app.another_instance(|c| c.auth_sync_millis = 100).await;
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let created = create(&app, &ann, "shared", "7d").await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["token"]["id"].to_string();
    // Both instances have now checked (and cached) the token.
    assert_eq!(whoami(&app, &secret).await.0, StatusCode::OK);
    assert_eq!(whoami_at(&other, &secret).await.0, StatusCode::OK);

    assert_eq!(set_enabled(&app, &ann, &id, "false").await, StatusCode::OK);
    assert_eq!(
        whoami(&app, &secret).await.0,
        StatusCode::UNAUTHORIZED,
        "the instance that disabled it refuses it at once"
    );
    eventually_whoami(&other, &secret, StatusCode::UNAUTHORIZED).await;

    assert_eq!(set_enabled(&app, &ann, &id, "true").await, StatusCode::OK);
    eventually_whoami(&other, &secret, StatusCode::OK).await;
}

async fn a_change_made_in_sql_is_picked_up_by_the_sync(app: TestApp) {
    let app = spawn_app_with(app.backend, |c| c.auth_sync_millis = 100)
        .await
        .unwrap();
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let secret = create(&app, &ann, "by hand", "7d").await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(whoami(&app, &secret).await.0, StatusCode::OK);
    // An operator suspends the account directly in the database.
    sqlx::query("UPDATE users SET is_disabled = 1 WHERE email = 'ann@example.com'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    eventually_whoami(&app.base, &secret, StatusCode::UNAUTHORIZED).await;
    sqlx::query("UPDATE users SET is_disabled = 0 WHERE email = 'ann@example.com'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    eventually_whoami(&app.base, &secret, StatusCode::OK).await;
    // Recording last use is not a change to the token check: the flush's
    // UPDATE must not move the epoch, or every batch would empty the cache.
    let before = app.db.auth_epoch().await.unwrap();
    sqlx::query("UPDATE access_tokens SET last_used_at = 5, last_used_ip = '10.0.0.1'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(app.db.auth_epoch().await.unwrap(), before);
}

async fn a_refused_form_names_every_wrong_field_at_once(app: TestApp) {
    let root = app.setup_admin().await;
    let fields = |body: &Value| {
        let invalid = &body["Invalid"];
        let mut fields: Vec<String> = invalid["more"]
            .as_object()
            .map(|more| more.keys().cloned().collect())
            .unwrap_or_default();
        fields.push(invalid["field"].as_str().unwrap_or_default().to_string());
        fields.sort();
        fields
    };
    // A token: no name, an expiry in the past, no scope, a bad address.
    let (status, body) = app
        .rpc(
            &root,
            "create_token",
            &[
                ("name", " "),
                ("expiry", "custom"),
                ("custom_expiry", "2001-01-01T00:00"),
                ("scopes[]", "no:such-scope"),
                ("allowed_ips", "not an address"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["allowed_ips", "custom_expiry", "name", "scopes"],
        "{body}"
    );
    assert_eq!(body["Invalid"]["input"]["allowed_ips"], "not an address");
    let (tokens,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM access_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(tokens, 0);

    // An organization: no name and a URL name that cannot be one.
    let (status, body) = app
        .rpc(
            &root,
            "create_org",
            &[("name", ""), ("slug", "Not A Slug!")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["name", "slug"], "{body}");

    // An invitation's form: a short password that does not match, no name.
    let (_, issued) = app
        .rpc(&root, "invite_person", &[("email", "ivy@example.com")])
        .await;
    let link = issued["link"].as_str().unwrap();
    let code = link.rsplit('/').next().unwrap();
    let (status, body) = app
        .rpc(
            &app.client(),
            "accept_invitation",
            &[
                ("code", code),
                ("display_name", ""),
                ("password", "short"),
                ("password_confirm", "other"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["display_name", "password"], "{body}");
}

/// On PostgreSQL a change reaches the other instances by notification, not
/// by their poll: here the other instance polls once an hour, yet refuses
/// the revoked token at once and accepts it again once reactivated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tells_every_instance_of_a_change_at_once() {
    let Some(app) = crate::helpers::spawn_app(Backend::Postgres).await else {
        crate::helpers::postgres_skipped("postgres_tells_every_instance_of_a_change_at_once");
        return;
    };
    let other = app
        .another_instance(|c| c.auth_sync_millis = 3_600_000)
        .await;
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let created = create(&app, &ann, "pushed", "7d").await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["token"]["id"].to_string();
    assert_eq!(whoami_at(&other, &secret).await.0, StatusCode::OK);
    assert_eq!(whoami_at(&other, &secret).await.0, StatusCode::OK, "cached");

    assert_eq!(set_enabled(&app, &ann, &id, "false").await, StatusCode::OK);
    eventually_whoami(&other, &secret, StatusCode::UNAUTHORIZED).await;
    assert_eq!(set_enabled(&app, &ann, &id, "true").await, StatusCode::OK);
    eventually_whoami(&other, &secret, StatusCode::OK).await;
}

/// Two instances' batches, written in either order, keep the later use.
async fn last_use_batches_from_several_instances_keep_the_latest(app: TestApp) {
    use latchkey::tokens::server::{TokenIdentity, UsageRecorder};
    app.setup_admin().await;
    let ann = person(&app, "ann@example.com").await;
    let created = create(&app, &ann, "busy", "7d").await;
    // Each instance has its own copy of the token's check.
    let identity = || TokenIdentity {
        token_id: created["token"]["id"].as_i64().unwrap(),
        noted_at: std::sync::atomic::AtomicI64::new(i64::MIN),
        ..Default::default()
    };
    let (later, earlier) = (UsageRecorder::default(), UsageRecorder::default());
    later.record(&identity(), 2_000_000_000, None);
    earlier.record(&identity(), 1_900_000_000, None);
    assert_eq!(later.flush(&app.db).await.unwrap(), 1);
    assert_eq!(earlier.flush(&app.db).await.unwrap(), 1);
    let (last_used,): (Option<i64>,) = sqlx::query_as("SELECT last_used_at FROM access_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(last_used, Some(2_000_000_000));
}

/// While one instance runs the clean-ups, another skips them (PostgreSQL's
/// advisory lock); SQLite, one machine, always runs them.
async fn periodic_clean_ups_run_on_one_instance_at_a_time(app: TestApp) {
    let other = latchkey::server::db::Db::connect(&app.db_url)
        .await
        .unwrap();
    let (started, release) = (tokio::sync::Notify::new(), tokio::sync::Notify::new());
    let first = app.db.exclusively(7, async {
        started.notify_one();
        release.notified().await;
    });
    let second = async {
        started.notified().await;
        let ran = other.exclusively(7, async {}).await.unwrap();
        release.notify_one();
        ran
    };
    let (first, second) = tokio::join!(first, second);
    assert!(first.unwrap());
    match app.backend {
        Backend::Postgres => assert!(!second, "the second instance skipped"),
        Backend::Sqlite => assert!(second),
    }
    // Once released, the next round runs.
    assert!(other.exclusively(7, async {}).await.unwrap());
}
