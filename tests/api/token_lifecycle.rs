//! The integration API around a token's life: self-service, rotation with a
//! grace period, RFC 7662 introspection, RFC 7009 revocation, leak reports,
//! rate limits, body limits and the OpenAPI document.

use crate::helpers::{spawn_app_with, Backend, TestApp};
use crate::on_both_databases;
use crate::org_tokens::{api, create_token, ok, world};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

on_both_databases!(
    a_token_reads_and_revokes_itself,
    rotation_keeps_the_old_secret_for_the_grace_period_only,
    rotation_without_grace_ends_the_old_secret_at_once,
    a_rotated_org_token_keeps_its_technical_user_until_both_are_gone,
    introspection_answers_admins_about_what_they_may_see,
    revocation_needs_only_the_secret_and_reveals_nothing,
    leak_reports_disable_tokens_and_notify_owners,
    bad_bodies_get_clear_json_errors,
);

/// A personal token of `client`; returns (id, secret).
async fn personal_token(app: &TestApp, client: &Client, name: &str) -> (String, String) {
    let body = ok(app
        .rpc(client, "create_token", &[("name", name), ("expiry", "30d")])
        .await);
    (
        body["token"]["id"].to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn whoami_status(app: &TestApp, token: &str) -> StatusCode {
    api(app, Method::GET, "/api/v1/whoami", Some(token), None)
        .await
        .0
}

/// A form post to one of the OAuth endpoints.
async fn oauth(
    app: &TestApp,
    path: &str,
    bearer: Option<&str>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = Client::new().post(format!("{}{path}", app.base)).form(form);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let res = request.send().await.unwrap();
    let status = res.status();
    let body = crate::spec::parse_body(&res.text().await.unwrap());
    crate::spec::conforms("POST", path, status.as_u16(), &body);
    (status, body)
}

async fn a_token_reads_and_revokes_itself(app: TestApp) {
    let root = app.setup_admin().await;
    let (id, secret) = personal_token(&app, &root, "ci").await;
    let (status, me) = api(
        &app,
        Method::GET,
        "/api/v1/tokens/self",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"].to_string(), id);
    assert_eq!(me["name"], "ci");
    assert_eq!(me["status"], "active");
    assert!(!me.to_string().contains(&secret), "no secret in the answer");

    let (status, _) = api(
        &app,
        Method::DELETE,
        "/api/v1/tokens/self",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(whoami_status(&app, &secret).await, StatusCode::UNAUTHORIZED);
    let (status, _) = api(
        &app,
        Method::GET,
        "/api/v1/tokens/self",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Its owner can bring it back, as after any revocation.
    ok(app
        .rpc(
            &root,
            "set_token_enabled",
            &[("token_id", &id), ("enabled", "true")],
        )
        .await);
    assert_eq!(whoami_status(&app, &secret).await, StatusCode::OK);
    assert!(app
        .audit_actions()
        .await
        .contains(&"token.revoked".to_string()));
}

async fn rotation_keeps_the_old_secret_for_the_grace_period_only(app: TestApp) {
    let root = app.setup_admin().await;
    let (old_id, old) = personal_token(&app, &root, "deploy").await;
    let (_, me) = api(&app, Method::GET, "/api/v1/tokens/self", Some(&old), None).await;
    let original_expiry = me["expires_at"].clone();
    assert!(original_expiry.is_i64());
    let (status, rotated) = api(
        &app,
        Method::POST,
        "/api/v1/tokens/self/rotate",
        Some(&old),
        Some(json!({ "grace_seconds": 2 })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated["previous_token_id"].to_string(), old_id);
    assert_eq!(rotated["token"]["name"], "deploy");
    // Same expiry as the old token: rotating never lengthens a token's life.
    assert_eq!(rotated["token"]["expires_at"], original_expiry);

    // Inside the grace period both work...
    assert_eq!(whoami_status(&app, &old).await, StatusCode::OK);
    assert_eq!(whoami_status(&app, &new).await, StatusCode::OK);
    // ...after it only the new one.
    let deadline = Instant::now() + Duration::from_secs(15);
    while whoami_status(&app, &old).await == StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the old secret outlived its grace period"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(whoami_status(&app, &new).await, StatusCode::OK);
    let list = ok(app.rpc(&root, "list_tokens", &[]).await);
    let old_row = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == old_id.parse::<i64>().unwrap())
        .unwrap()
        .clone();
    assert_eq!(old_row["status"], "expired");
    assert_eq!(old_row["replaced_by"], rotated["token"]["id"]);
    assert!(app
        .audit_actions()
        .await
        .contains(&"token.rotated".to_string()));
}

async fn rotation_without_grace_ends_the_old_secret_at_once(app: TestApp) {
    let root = app.setup_admin().await;
    let (_, old) = personal_token(&app, &root, "deploy").await;
    // Out of range: refused, nothing changes.
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/v1/tokens/self/rotate",
        Some(&old),
        Some(json!({ "grace_seconds": 90_000 })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("24 hours"));
    assert_eq!(whoami_status(&app, &old).await, StatusCode::OK);
    // No body at all means the defaults: no overlap.
    let res = Client::new()
        .post(format!("{}/api/v1/tokens/self/rotate", app.base))
        .bearer_auth(&old)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = crate::spec::parse_body(&res.text().await.unwrap());
    crate::spec::conforms("POST", "/api/v1/tokens/self/rotate", status.as_u16(), &body);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let new = body["secret"].as_str().unwrap();
    assert_eq!(whoami_status(&app, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami_status(&app, new).await, StatusCode::OK);
}

async fn a_rotated_org_token_keeps_its_technical_user_until_both_are_gone(app: TestApp) {
    let w = world(&app).await;
    let (old_id, old) = create_token(&app, &w.oa, "", "sync", true).await;
    let (status, rotated) = api(
        &app,
        Method::POST,
        "/api/v1/tokens/self/rotate",
        Some(&old),
        Some(json!({ "grace_seconds": 600 })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("lko_"));
    assert_eq!(rotated["token"]["role"], "admin");
    let (_, me_old) = api(&app, Method::GET, "/api/v1/whoami", Some(&old), None).await;
    let (_, me_new) = api(&app, Method::GET, "/api/v1/whoami", Some(&new), None).await;
    assert_eq!(me_old["acts_as"]["id"], me_new["acts_as"]["id"]);
    assert_eq!(me_new["organizations"][0]["role"], "admin");

    // Deleting the old token leaves the technical user to the new one.
    ok(app
        .rpc(
            &w.oa,
            "delete_token",
            &[("org", "acme"), ("token_id", &old_id)],
        )
        .await);
    assert_eq!(whoami_status(&app, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami_status(&app, &new).await, StatusCode::OK);
    let new_id = rotated["token"]["id"].to_string();
    ok(app
        .rpc(
            &w.oa,
            "delete_token",
            &[("org", "acme"), ("token_id", &new_id)],
        )
        .await);
    let (technical,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE kind = 'technical'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(technical, 0, "the technical user went with the last token");
}

async fn introspection_answers_admins_about_what_they_may_see(app: TestApp) {
    let w = world(&app).await;
    let (_, org_admin) = create_token(&app, &w.oa, "", "introspector", true).await;
    let (_, org_user) = create_token(&app, &w.oa, "", "reader", false).await;
    let (_, group_token) = create_token(&app, &w.ga, "platform", "ci", false).await;
    let (_, root_personal) = personal_token(&app, &w.root, "root-cli").await;
    let (_, ou_personal) = personal_token(&app, &w.ou, "mine").await;

    // Needs a token, and the right kind of one.
    let (status, _) = oauth(&app, "/oauth/introspect", None, &[("token", &org_user)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for caller in [&org_user, &ou_personal, &group_token] {
        let (status, _) = oauth(
            &app,
            "/oauth/introspect",
            Some(caller),
            &[("token", &org_user)],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    // An org admin token about its own organization's tokens.
    let (status, body) = oauth(
        &app,
        "/oauth/introspect",
        Some(&org_admin),
        &[("token", &group_token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "Bearer");
    // `scope` lists scopes (RFC 7662); where the token acts is said apart.
    assert_eq!(
        body["scope"],
        "identity:read orgs:read self:rotate tokens:manage"
    );
    assert_eq!(body["organization"], "acme");
    assert_eq!(body["group"], "platform");
    assert_eq!(body["role"], "user");
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());
    // ...but not about a person's token, nor about garbage.
    for token in [ou_personal.as_str(), "lkp_nonsense", "x"] {
        let (status, body) = oauth(
            &app,
            "/oauth/introspect",
            Some(&org_admin),
            &[("token", token)],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "active": false }));
    }
    // An instance admin's personal token sees any token.
    let (_, body) = oauth(
        &app,
        "/oauth/introspect",
        Some(&root_personal),
        &[("token", &ou_personal)],
    )
    .await;
    assert_eq!(body["active"], true);
    assert_eq!(
        body["scope"],
        "identity:read orgs:read self:rotate tokens:introspect"
    );
    assert!(body.get("acts_in").is_none(), "not restricted");
    assert_eq!(body["username"], "ou@example.com");
    // A disabled token is inactive.
    api(
        &app,
        Method::DELETE,
        "/api/v1/tokens/self",
        Some(&ou_personal),
        None,
    )
    .await;
    let (_, body) = oauth(
        &app,
        "/oauth/introspect",
        Some(&root_personal),
        &[("token", &ou_personal)],
    )
    .await;
    assert_eq!(body, json!({ "active": false }));
}

async fn revocation_needs_only_the_secret_and_reveals_nothing(app: TestApp) {
    let root = app.setup_admin().await;
    let (_, secret) = personal_token(&app, &root, "leaky").await;
    let (_, other) = personal_token(&app, &root, "other").await;
    // Unknown and malformed strings get the same answer as a real one.
    for token in ["lkp_0000000000000000000000000000000000000000", "nonsense"] {
        let (status, body) = oauth(&app, "/oauth/revoke", None, &[("token", token)]).await;
        assert_eq!((status, body), (StatusCode::OK, Value::Null));
    }
    // A bad token in the header is refused before anything happens.
    let (status, _) = oauth(
        &app,
        "/oauth/revoke",
        Some("lkp_bad"),
        &[("token", &secret)],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami_status(&app, &secret).await, StatusCode::OK);

    let (status, _) = oauth(&app, "/oauth/revoke", None, &[("token", &secret)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami_status(&app, &secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami_status(&app, &other).await, StatusCode::OK);
    // Revoking again is fine, and one token may revoke another it holds.
    let (status, _) = oauth(&app, "/oauth/revoke", Some(&other), &[("token", &secret)]).await;
    assert_eq!(status, StatusCode::OK);
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor_label FROM audit_events WHERE action = 'token.revoked'",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(events.len(), 1, "one revocation recorded: {events:?}");
    assert!(events[0].1.contains("holder"));
}

async fn leak_reports_disable_tokens_and_notify_owners(app: TestApp) {
    let root = app.setup_admin().await;
    let (id, leaked) = personal_token(&app, &root, "pushed-to-github").await;
    let (_, safe) = personal_token(&app, &root, "safe").await;
    let report = json!([
        leaked,
        { "token": "lkp_0000000000000000000000000000000000000000", "url": "https://example.com/commit/1", "source": "scanner" },
        "not a token at all",
    ]);
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/v1/credentials/leaked",
        None,
        Some(report),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, json!({ "received": 3 }));
    // Nothing known: the very same answer.
    let (status, unknown) = api(
        &app,
        Method::POST,
        "/api/v1/credentials/leaked",
        None,
        Some(json!(["a", "b", "c"])),
    )
    .await;
    assert_eq!((status, unknown), (StatusCode::ACCEPTED, body));

    assert_eq!(whoami_status(&app, &leaked).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami_status(&app, &safe).await, StatusCode::OK);
    let list = ok(app.rpc(&root, "list_tokens", &[]).await);
    let row = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.parse::<i64>().unwrap())
        .unwrap()
        .clone();
    assert_eq!(row["status"], "revoked");
    assert!(row["leaked_at"].as_i64().is_some());
    assert!(app
        .audit_actions()
        .await
        .contains(&"token.leaked".to_string()));
    // The owner's tokens page says so, without JavaScript too.
    let page = app
        .get(&root, "/profile/tokens")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("found in public"), "leak notice on the page");

    let too_many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/v1/credentials/leaked",
        None,
        Some(json!(too_many)),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

async fn bad_bodies_get_clear_json_errors(app: TestApp) {
    let url = format!("{}/api/v1/credentials/leaked", app.base);
    let send = |body: Vec<u8>, content_type: &'static str| {
        let url = url.clone();
        async move {
            let res = Client::new()
                .post(url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body = crate::spec::parse_body(&res.text().await.unwrap());
            crate::spec::conforms("POST", "/api/v1/credentials/leaked", status.as_u16(), &body);
            (status, body)
        }
    };
    let (status, body) = send(b"[\"a\"".to_vec(), "application/json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "bad_request");
    let (status, body) = send(b"[\"a\"]".to_vec(), "text/plain").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) = send(b"{\"token\": 5}".to_vec(), "application/json").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Larger than any real report: refused before it is read.
    let huge = format!("[\"{}\"]", "a".repeat(70 * 1024)).into_bytes();
    let (status, body) = send(huge, "application/json").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"], "payload_too_large");
    // Introspection takes a form, not JSON.
    let root = app.setup_admin().await;
    let (_, token) = personal_token(&app, &root, "cli").await;
    let res = Client::new()
        .post(format!("{}/oauth/introspect", app.base))
        .bearer_auth(&token)
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = oauth(&app, "/oauth/introspect", Some(&token), &[("tok", "x")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("token"),
        "{body}"
    );
    let res = Client::new()
        .post(format!("{}/oauth/revoke", app.base))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = crate::spec::parse_body(&res.text().await.unwrap());
    crate::spec::conforms("POST", "/oauth/revoke", status.as_u16(), &body);
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"], "unsupported_media_type");
    // A known route with the wrong method answers JSON too.
    let res = Client::new()
        .put(format!("{}/api/v1/whoami", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_endpoints_are_rate_limited_per_address() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.public_rate_burst = 3;
        config.public_rate_period_millis = 60_000;
    })
    .await
    .unwrap();
    let report = || async {
        api(
            &app,
            Method::POST,
            "/api/v1/credentials/leaked",
            None,
            Some(json!(["x"])),
        )
        .await
    };
    for _ in 0..3 {
        assert_eq!(report().await.0, StatusCode::ACCEPTED);
    }
    let res = Client::new()
        .post(format!("{}/oauth/revoke", app.base))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // Token-authenticated routes are not limited this way.
    assert_eq!(
        api(&app, Method::GET, "/api/v1/whoami", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_describes_every_api_route() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await.unwrap();
    let res = Client::new()
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let served: Value = res.json().await.unwrap();
    let built = serde_json::to_value(latchkey::server::openapi::document()).unwrap();
    assert_eq!(
        served, built,
        "the suite checks answers against what is served"
    );
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = served["paths"].as_object().unwrap();
    for path in [
        "/api/v1/whoami",
        "/api/v1/tokens/self",
        "/api/v1/tokens/self/rotate",
        "/api/v1/orgs/{org}/members",
        "/api/v1/orgs/{org}/groups",
        "/api/v1/orgs/{org}/groups/{group}/members",
        "/api/v1/orgs/{org}/tokens",
        "/api/v1/orgs/{org}/tokens/{token_id}",
        "/api/v1/orgs/{org}/tokens/{token_id}/{action}",
        "/api/v1/orgs/{org}/groups/{group}/tokens",
        "/api/v1/orgs/{org}/groups/{group}/tokens/{token_id}",
        "/api/v1/orgs/{org}/groups/{group}/tokens/{token_id}/{action}",
        "/api/v1/credentials/leaked",
        "/oauth/introspect",
        "/oauth/revoke",
    ] {
        assert!(paths.contains_key(path), "{path} is described");
    }
    // The reference page lists every operation, without JavaScript.
    let page = app.get(&app.client(), "/api-docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    for (path, item) in paths {
        for op in item.as_object().unwrap().values() {
            let summary = op["summary"].as_str().unwrap();
            assert!(
                page.contains(summary),
                "the reference page shows {path}: {summary}"
            );
        }
    }
    assert!(page.contains("/api/v1/openapi.json"));

    // Every described route is really served: none answers the catch-all 404.
    for (path, item) in paths {
        let concrete = path
            .replace("{org}", "acme")
            .replace("{group}", "platform")
            .replace("{token_id}", "1")
            .replace("{action}", "revoke");
        for method in item.as_object().unwrap().keys() {
            let res = Client::new()
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    format!("{}{concrete}", app.base),
                )
                .send()
                .await
                .unwrap();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["message"], "No such API route.",
                "{method} {path} is routed"
            );
        }
    }
}
