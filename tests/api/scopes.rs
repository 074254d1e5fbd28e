//! Fine-grained tokens: scopes on every route, custom scopes in
//! introspection, the organization restriction of personal tokens and the
//! address allowlist.

use crate::helpers::{spawn_app_with, Backend, TestApp};
use crate::on_both_databases;
use crate::org_tokens::{api, ok, world, World};
use latchkey::server::client::TrustedProxies;
use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};

on_both_databases!(
    each_route_needs_its_scope,
    rotation_keeps_scopes_and_created_tokens_get_at_most_their_creators,
    custom_scopes_reach_introspection_and_leave_with_their_deletion,
    restricted_personal_tokens_act_only_in_chosen_organizations,
    scopes_and_restrictions_are_checked_on_create,
    organizations_can_require_approval_of_personal_tokens,
    a_scope_deleted_during_creation_leaves_no_token_holding_it,
);

/// A personal token of `client` with exactly `scopes` (and more form fields).
async fn personal_token(
    app: &TestApp,
    client: &Client,
    scopes: &[&str],
    extra: &[(&str, &str)],
) -> Value {
    let mut form = vec![("name", "scoped"), ("expiry", "7d")];
    form.extend(scopes.iter().map(|s| ("scopes[]", *s)));
    form.extend(extra.iter().copied());
    ok(app.rpc(client, "create_token", &form).await)
}

/// An organization (or group) token of acme made by `client`.
async fn owned_token(
    app: &TestApp,
    client: &Client,
    group: &str,
    admin: bool,
    scopes: &[&str],
) -> String {
    let mut form = vec![
        ("org", "acme"),
        ("group", group),
        ("name", "scoped"),
        ("expiry", "7d"),
    ];
    if admin {
        form.push(("admin", "on"));
    }
    form.extend(scopes.iter().map(|s| ("scopes[]", *s)));
    ok(app.rpc(client, "create_token", &form).await)["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Calls a route with `token` and checks the RFC 6750 §3.1 refusal: 403, a
/// challenge naming the scope, and a body naming it too.
async fn refused_for_scope(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    scope: &str,
) {
    let mut req = Client::new()
        .request(method.clone(), format!("{}{path}", app.base))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
    assert_eq!(
        res.headers()[header::WWW_AUTHENTICATE],
        format!(r#"Bearer realm="latchkey", error="insufficient_scope", scope="{scope}""#),
        "{method} {path}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert!(body["message"].as_str().unwrap().contains(scope), "{body}");
}

async fn each_route_needs_its_scope(app: TestApp) {
    let w = world(&app).await;
    let create_body = json!({ "name": "child", "expiry": "6h" });
    // (method, path, body, the scope it needs, success status); every call
    // is made by an admin-role organization token, which has the role for
    // all of them.
    let routes: Vec<(Method, &str, Option<Value>, &str, StatusCode)> = vec![
        (
            Method::GET,
            "/api/v1/whoami",
            None,
            "identity:read",
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/tokens/self",
            None,
            "identity:read",
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/orgs/acme/members",
            None,
            "orgs:read",
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/orgs/acme/groups",
            None,
            "orgs:read",
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/orgs/acme/groups/platform/members",
            None,
            "orgs:read",
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/api/v1/orgs/acme/tokens",
            None,
            "tokens:manage",
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/api/v1/orgs/acme/tokens",
            Some(create_body.clone()),
            "tokens:manage",
            StatusCode::CREATED,
        ),
        (
            Method::GET,
            "/api/v1/orgs/acme/groups/platform/tokens",
            None,
            "tokens:manage",
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/api/v1/tokens/self/rotate",
            None,
            "self:rotate",
            StatusCode::CREATED,
        ),
    ];
    for (method, path, body, scope, success) in routes {
        // Every built-in scope but the one the route needs: refused.
        let others: Vec<&str> = latchkey::access::BUILT_IN_SCOPES
            .iter()
            .map(|s| s.name)
            .filter(|name| *name != scope)
            .collect();
        let without = owned_token(&app, &w.oa, "", true, &others).await;
        refused_for_scope(&app, method.clone(), path, &without, body.clone(), scope).await;
        // That one scope alone: allowed.
        let with = owned_token(&app, &w.oa, "", true, &[scope]).await;
        let (status, answer) = api(&app, method.clone(), path, Some(&with), body).await;
        assert_eq!(status, success, "{method} {path} with {scope}: {answer}");
    }

    // Introspection needs tokens:introspect as well as the admin role.
    let target = owned_token(&app, &w.oa, "", false, &["orgs:read"]).await;
    let introspect = |token: String| {
        let (base, target) = (app.base.clone(), target.clone());
        async move {
            Client::new()
                .post(format!("{base}/oauth/introspect"))
                .bearer_auth(token)
                .form(&[("token", target)])
                .send()
                .await
                .unwrap()
        }
    };
    let without = owned_token(&app, &w.oa, "", true, &["identity:read"]).await;
    let res = introspect(without).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .ends_with(r#"scope="tokens:introspect""#));
    let with = owned_token(&app, &w.oa, "", true, &["tokens:introspect"]).await;
    let body: Value = introspect(with).await.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "orgs:read");

    // A token may always revoke itself, whatever its scopes.
    let any = owned_token(&app, &w.oa, "", true, &["orgs:read"]).await;
    let (status, _) = api(
        &app,
        Method::DELETE,
        "/api/v1/tokens/self",
        Some(&any),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A role refusal is not a scope refusal: a user-role token holding
    // tokens:manage is forbidden, without a scope in the challenge.
    let user_role = owned_token(&app, &w.oa, "", false, &["tokens:manage"]).await;
    let res = Client::new()
        .get(format!("{}/api/v1/orgs/acme/tokens", app.base))
        .bearer_auth(&user_role)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(!res.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("scope="));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
}

async fn rotation_keeps_scopes_and_created_tokens_get_at_most_their_creators(app: TestApp) {
    let w = world(&app).await;
    let created = personal_token(
        &app,
        &w.ou,
        &["identity:read", "self:rotate"],
        &[
            ("allowed_ips", "127.0.0.1 10.0.0.0/8"),
            ("acts", "some"),
            ("acts_in[]", "acme"),
        ],
    )
    .await;
    let secret = created["secret"].as_str().unwrap();
    let (status, rotated) = api(
        &app,
        Method::POST,
        "/api/v1/tokens/self/rotate",
        Some(secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    assert_eq!(
        rotated["token"]["scopes"],
        json!(["identity:read", "self:rotate"])
    );
    assert_eq!(
        rotated["token"]["allowed_ips"],
        json!(["127.0.0.1", "10.0.0.0/8"])
    );
    assert_eq!(rotated["token"]["acts_in"], json!(["acme"]));
    let new_secret = rotated["secret"].as_str().unwrap();
    let (status, whoami) = api(&app, Method::GET, "/api/v1/whoami", Some(new_secret), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        whoami["token"]["scopes"],
        json!(["identity:read", "self:rotate"])
    );
    // Still without orgs:read after rotating.
    refused_for_scope(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/members",
        new_secret,
        None,
        "orgs:read",
    )
    .await;

    // A token creating a token: by default its own scopes that apply, never
    // more than it holds.
    let creator = owned_token(
        &app,
        &w.oa,
        "",
        true,
        &["tokens:manage", "orgs:read", "tokens:introspect"],
    )
    .await;
    let (status, child) = api(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/groups/platform/tokens",
        Some(&creator),
        Some(json!({ "name": "child", "expiry": "6h" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{child}");
    // A group token cannot introspect, so that scope is not passed on.
    assert_eq!(
        child["token"]["scopes"],
        json!(["orgs:read", "tokens:manage"])
    );
    let (status, refused) = api(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/tokens",
        Some(&creator),
        Some(json!({ "name": "wider", "expiry": "6h", "scopes": ["orgs:read", "identity:read"] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("identity:read"),
        "{refused}"
    );
    let (status, narrower) = api(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/tokens",
        Some(&creator),
        Some(json!({ "name": "narrower", "expiry": "6h", "scopes": ["orgs:read"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(narrower["token"]["scopes"], json!(["orgs:read"]));
}

async fn custom_scopes_reach_introspection_and_leave_with_their_deletion(app: TestApp) {
    let w = world(&app).await;
    // Only an instance admin defines scopes.
    let (status, _) = app
        .rpc(
            &w.oa,
            "create_custom_scope",
            &[("name", "billing:read"), ("description", "Read invoices")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (name, field) in [
        ("Billing", "name"),
        ("identity:read", "name"),
        ("billing:read", "description"),
    ] {
        let description = if field == "description" { "" } else { "x" };
        let (status, body) = app
            .rpc(
                &w.root,
                "create_custom_scope",
                &[("name", name), ("description", description)],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(body["Invalid"]["field"], field, "{name}: {body}");
    }
    ok(app
        .rpc(
            &w.root,
            "create_custom_scope",
            &[("name", "billing:read"), ("description", "Read invoices")],
        )
        .await);
    let (status, _) = app
        .rpc(
            &w.root,
            "create_custom_scope",
            &[("name", "billing:read"), ("description", "again")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = ok(app.rpc(&w.root, "list_custom_scopes", &[]).await);
    assert_eq!(
        listed,
        json!([{ "name": "billing:read", "description": "Read invoices" }])
    );

    // The admin page: for instance admins only, one clear refusal otherwise.
    let page = app
        .get(&w.root, "/admin/scopes")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("billing:read") && page.contains("Define a scope"));
    let page = app.get(&w.oa, "/admin/scopes").await.text().await.unwrap();
    assert!(page.contains("You do not have permission to do that."));
    assert!(!page.contains("Define a scope") && !page.contains("identity:read"));

    // Offered in every create dialog, under Services.
    let options = ok(app.rpc(&w.ou, "token_grant_options", &[]).await);
    assert_eq!(options["custom"][0]["name"], "billing:read");
    assert_eq!(options["organizations"], json!([["acme", "Acme"]]));

    let token = personal_token(&app, &w.ou, &["identity:read", "billing:read"], &[]).await;
    let secret = token["secret"].as_str().unwrap();
    let root_token = personal_token(&app, &w.root, &["tokens:introspect"], &[]).await;
    let introspect = || async {
        Client::new()
            .post(format!("{}/oauth/introspect", app.base))
            .bearer_auth(root_token["secret"].as_str().unwrap())
            .form(&[("token", secret)])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let answer = introspect().await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["scope"], "billing:read identity:read");

    // Deleting the scope takes it from every token at once.
    ok(app
        .rpc(&w.root, "delete_custom_scope", &[("name", "billing:read")])
        .await);
    assert_eq!(introspect().await["scope"], "identity:read");
    let listed = ok(app.rpc(&w.ou, "list_tokens", &[]).await);
    assert_eq!(listed["tokens"][0]["scopes"], json!(["identity:read"]));
    let (status, body) = app
        .rpc(
            &w.ou,
            "create_token",
            &[
                ("name", "x"),
                ("expiry", "7d"),
                ("scopes[]", "billing:read"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "scopes");
}

async fn restricted_personal_tokens_act_only_in_chosen_organizations(app: TestApp) {
    let w = world(&app).await;
    ok(app
        .rpc(
            &w.root,
            "create_org",
            &[("name", "Globex"), ("slug", "globex")],
        )
        .await);
    ok(app
        .rpc(
            &w.root,
            "add_org_member",
            &[
                ("org", "globex"),
                ("email", "ou@example.com"),
                ("role", "user"),
            ],
        )
        .await);
    let token = personal_token(
        &app,
        &w.ou,
        &["identity:read", "orgs:read"],
        &[("acts", "some"), ("acts_in[]", "globex")],
    )
    .await;
    assert_eq!(token["token"]["acts_in"], json!(["globex"]));
    let secret = token["secret"].as_str().unwrap().to_string();
    let whoami = || async {
        api(&app, Method::GET, "/api/v1/whoami", Some(&secret), None)
            .await
            .1["organizations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["slug"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(whoami().await, ["globex"]);
    // Outside: exactly as for a stranger.
    for path in [
        "/api/v1/orgs/acme/members",
        "/api/v1/orgs/acme/groups",
        "/api/v1/orgs/acme/groups/platform/members",
    ] {
        let (status, body) = api(&app, Method::GET, path, Some(&secret), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["message"], "Organization not found.");
    }
    let (status, _) = api(
        &app,
        Method::GET,
        "/api/v1/orgs/globex/members",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Leaving and re-joining never widens it; leaving Globex shrinks it.
    ok(app
        .rpc(
            &w.root,
            "remove_org_member",
            &[
                ("org", "globex"),
                ("user_id", &user_id(&app, "ou@example.com").await),
            ],
        )
        .await);
    assert!(whoami().await.is_empty());
    ok(app
        .rpc(
            &w.root,
            "add_org_member",
            &[
                ("org", "globex"),
                ("email", "ou@example.com"),
                ("role", "user"),
            ],
        )
        .await);
    assert_eq!(whoami().await, ["globex"]);
    let (status, _) = api(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/members",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An unrestricted token of the same person reaches both.
    let all = personal_token(&app, &w.ou, &["orgs:read"], &[]).await;
    assert_eq!(all["token"]["acts_in"], Value::Null);
    let (status, _) = api(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/members",
        all["secret"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

async fn user_id(app: &TestApp, email: &str) -> String {
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    id.to_string()
}

async fn scopes_and_restrictions_are_checked_on_create(app: TestApp) {
    let w: World = world(&app).await;
    let refused = |form: Vec<(&'static str, &'static str)>, field: &'static str| {
        let (app, client) = (&app, w.ou.clone());
        async move {
            let mut full = vec![("name", "bad"), ("expiry", "7d")];
            full.extend(form);
            let (status, body) = app.rpc(&client, "create_token", &full).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(body["Invalid"]["field"], field, "{body}");
            // What was typed comes back for the form.
            assert_eq!(body["Invalid"]["input"]["name"], "bad");
            body
        }
    };
    // No scope at all, an unknown one, one that does not apply to the kind.
    let body = app
        .rpc(
            &w.ou,
            "create_token",
            &[("name", "bad"), ("expiry", "7d"), ("scopes[]", "")],
        )
        .await
        .1;
    assert_eq!(body["Invalid"]["field"], "scopes", "{body}");
    refused(vec![("scopes[]", "nope:nope")], "scopes").await;
    refused(vec![("scopes[]", "tokens:manage")], "scopes").await;
    // Not one of the person's organizations; none chosen.
    refused(
        vec![
            ("scopes[]", "orgs:read"),
            ("acts", "some"),
            ("acts_in[]", "globex"),
        ],
        "acts_in",
    )
    .await;
    refused(vec![("scopes[]", "orgs:read"), ("acts", "some")], "acts_in").await;
    // Addresses: malformed, too many.
    let body = refused(
        vec![
            ("scopes[]", "orgs:read"),
            ("allowed_ips", "10.0.0.1, example.com"),
        ],
        "allowed_ips",
    )
    .await;
    assert_eq!(
        body["Invalid"]["input"]["allowed_ips"],
        "10.0.0.1, example.com"
    );
    refused(
        vec![
            ("scopes[]", "orgs:read"),
            ("allowed_ips", "1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9 1.1.1.10 1.1.1.11"),
        ],
        "allowed_ips",
    )
    .await;
    let listed = ok(app.rpc(&w.ou, "list_tokens", &[]).await);
    assert_eq!(listed["tokens"], json!([]), "nothing was made");
    // An organization token is not restricted to organizations.
    let (status, body) = app
        .rpc(
            &w.oa,
            "create_token",
            &[
                ("org", "acme"),
                ("name", "x"),
                ("expiry", "7d"),
                ("scopes[]", "orgs:read"),
                ("acts", "some"),
                ("acts_in[]", "acme"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "acts_in");
}

/// The allowlist, through a trusted proxy so the test can speak from any
/// address, IPv4 and IPv6; refusals are written in batches like last use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_allowlists_refuse_other_addresses_sqlite() {
    address_allowlists_refuse_other_addresses(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_allowlists_refuse_other_addresses_postgres() {
    address_allowlists_refuse_other_addresses(Backend::Postgres).await;
}

async fn address_allowlists_refuse_other_addresses(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.trusted_proxies = TrustedProxies::parse("127.0.0.0/8").unwrap();
        c.usage_flush_millis = 100;
    })
    .await
    else {
        return crate::helpers::postgres_skipped("address_allowlists_refuse_other_addresses");
    };
    let w = world(&app).await;
    let token = personal_token(
        &app,
        &w.ou,
        &["identity:read"],
        &[("allowed_ips", "203.0.113.7\n2001:db8::/32")],
    )
    .await;
    assert_eq!(
        token["token"]["allowed_ips"],
        json!(["203.0.113.7", "2001:db8::/32"])
    );
    let secret = token["secret"].as_str().unwrap();
    let base = app.base.clone();
    let from = |address: &'static str| {
        let base = base.clone();
        async move {
            let res = Client::new()
                .get(format!("{base}/api/v1/whoami"))
                .bearer_auth(secret)
                .header("x-forwarded-for", address)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let challenge = res
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_string());
            (status, challenge, res.json::<Value>().await.unwrap())
        }
    };
    for allowed in ["203.0.113.7", "2001:db8::1", "2001:db8:ffff::9"] {
        assert_eq!(from(allowed).await.0, StatusCode::OK, "{allowed}");
    }
    for refused in ["203.0.113.8", "2001:db9::1", "10.0.0.1"] {
        let (status, challenge, body) = from(refused).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer realm="latchkey", error="invalid_token""#)
        );
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(
            body["message"],
            format!("This access token may not be used from {refused}.")
        );
    }
    // The last refusal shows on the token's row once the batch is written.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = ok(app.rpc(&w.ou, "list_tokens", &[]).await);
        let row = &listed["tokens"][0];
        if row["last_refused_ip"] == "10.0.0.1" {
            assert!(row["last_refused_at"].as_i64().is_some());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refusal was never written: {row}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn organizations_can_require_approval_of_personal_tokens(app: TestApp) {
    let w = world(&app).await;
    let token = personal_token(&app, &w.ou, &["identity:read", "orgs:read"], &[]).await;
    let secret = token["secret"].as_str().unwrap().to_string();
    let token_id = token["token"]["id"].to_string();
    let members = || async {
        api(
            &app,
            Method::GET,
            "/api/v1/orgs/acme/members",
            Some(&secret),
            None,
        )
        .await
        .0
    };
    assert_eq!(members().await, StatusCode::OK);

    // Turned on, the token stops reaching acme and becomes a request.
    ok(app
        .rpc(
            &w.oa,
            "update_org_settings",
            &[
                ("org", "acme"),
                ("allow_org_tokens", "on"),
                ("allow_group_tokens", "on"),
                ("personal_tokens_need_approval", "on"),
            ],
        )
        .await);
    assert_eq!(members().await, StatusCode::NOT_FOUND);
    let (_, whoami) = api(&app, Method::GET, "/api/v1/whoami", Some(&secret), None).await;
    assert_eq!(whoami["organizations"], json!([]));
    let mine = ok(app.rpc(&w.ou, "list_tokens", &[]).await);
    assert_eq!(
        mine["tokens"][0]["approvals"],
        json!([{ "org": "acme", "state": "pending" }])
    );
    let requests = ok(app
        .rpc(&w.oa, "list_token_requests", &[("org", "acme")])
        .await);
    assert_eq!(requests.as_array().unwrap().len(), 1, "{requests}");
    assert_eq!(requests[0]["name"], "scoped");
    assert_eq!(requests[0]["scopes"], json!(["identity:read", "orgs:read"]));
    assert!(requests[0]["owner"]
        .as_str()
        .unwrap()
        .contains("ou@example.com"));

    // Only the organization's admins decide.
    for (client, expected) in [
        (&w.ou, StatusCode::FORBIDDEN),
        (&w.outsider, StatusCode::NOT_FOUND),
    ] {
        let (status, _) = app
            .rpc(
                client,
                "decide_token_request",
                &[
                    ("org", "acme"),
                    ("token_id", &token_id),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(status, expected);
    }
    // Two admins deciding at once: one decision, the other told so.
    let decide = |client: Client, decision: &'static str| {
        let (base, token_id) = (app.base.clone(), token_id.clone());
        tokio::spawn(async move {
            client
                .post(format!("{base}/rpc/decide_token_request"))
                .form(&[
                    ("org", "acme"),
                    ("token_id", &token_id),
                    ("decision", decision),
                ])
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    let (first, second) = (
        decide(w.oa.clone(), "approve"),
        decide(w.root.clone(), "deny"),
    );
    let mut statuses = [first.await.unwrap(), second.await.unwrap()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let (approved,): (i64,) =
        sqlx::query_as("SELECT approved FROM token_org_approvals WHERE token_id = $1")
            .bind(token_id.parse::<i64>().unwrap())
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let expected = if approved == 1 {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    assert_eq!(members().await, expected);
    let mine = ok(app.rpc(&w.ou, "list_tokens", &[]).await);
    assert_eq!(
        mine["tokens"][0]["approvals"][0]["state"],
        if approved == 1 { "approved" } else { "denied" }
    );
    let requests = ok(app
        .rpc(&w.oa, "list_token_requests", &[("org", "acme")])
        .await);
    assert_eq!(requests, json!([]));
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&"token.approved".to_string())
            || actions.contains(&"token.denied".to_string()),
        "{actions:?}"
    );

    // An approved token's successor stays approved; a new token asks anew.
    let rotator = personal_token(&app, &w.ou, &["orgs:read", "self:rotate"], &[]).await;
    let rotator_id = rotator["token"]["id"].to_string();
    ok(app
        .rpc(
            &w.oa,
            "decide_token_request",
            &[
                ("org", "acme"),
                ("token_id", &rotator_id),
                ("decision", "approve"),
            ],
        )
        .await);
    let (status, rotated) = api(
        &app,
        Method::POST,
        "/api/v1/tokens/self/rotate",
        rotator["secret"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/members",
        rotated["secret"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the successor keeps the approval");
    let fresh = personal_token(&app, &w.ou, &["orgs:read"], &[]).await;
    let (status, _) = api(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/members",
        fresh["secret"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Tokens made before scopes existed keep working: the migration gives each
/// the built-in scopes its kind can use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_tokens_migrate_to_the_scopes_of_their_kind_sqlite() {
    existing_tokens_migrate_to_the_scopes_of_their_kind(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_tokens_migrate_to_the_scopes_of_their_kind_postgres() {
    existing_tokens_migrate_to_the_scopes_of_their_kind(Backend::Postgres).await;
}

async fn existing_tokens_migrate_to_the_scopes_of_their_kind(backend: Backend) {
    let Some((url, _dir)) = crate::helpers::fresh_database(backend).await else {
        return crate::helpers::postgres_skipped(
            "existing_tokens_migrate_to_the_scopes_of_their_kind",
        );
    };
    let db = latchkey::server::db::Db::connect(&url).await.unwrap();
    let dialect = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    // The schema as it was before fine-grained tokens.
    let mut before = sqlx::migrate::Migrator::new(std::path::Path::new(dialect))
        .await
        .unwrap();
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 7)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(&db.pool).await.unwrap();
    let exec = |sql: &'static str| {
        let pool = db.pool.clone();
        async move { sqlx::query(sql).execute(&pool).await.unwrap() }
    };
    exec("INSERT INTO users (kind, email, display_name, password_hash, created_at) VALUES ('human', 'old@example.com', 'Old', 'x', 1)").await;
    exec("INSERT INTO users (kind, display_name, created_at) VALUES ('technical', 'bot', 1)").await;
    exec("INSERT INTO organizations (slug, name, created_at) VALUES ('acme', 'Acme', 1)").await;
    exec(
        "INSERT INTO groups (org_id, slug, name, created_at) VALUES (1, 'platform', 'Platform', 1)",
    )
    .await;
    exec("INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at) VALUES ('personal', 1, 'p', 'd1', 'h', 1)").await;
    exec("INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at, org_id) VALUES ('organization', 2, 'o', 'd2', 'h', 1, 1)").await;
    exec("INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at, org_id, group_id) VALUES ('group', 2, 'g', 'd3', 'h', 1, 1, 1)").await;

    db.migrate().await.unwrap();
    let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT kind, scopes, restricted_to_orgs, allowed_ips FROM access_tokens ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for (kind, scopes, restricted, allowed) in rows {
        let kind = latchkey::tokens::TokenKind::from_db(&kind);
        assert_eq!(
            latchkey::access::Scopes::from_stored(&scopes),
            latchkey::access::Scopes::all_built_in(kind),
            "{kind:?}"
        );
        assert_eq!((restricted, allowed.as_str()), (0, ""));
    }
}

/// Deleting a custom scope while tokens are being created with it never
/// leaves a token holding the deleted scope.
async fn a_scope_deleted_during_creation_leaves_no_token_holding_it(app: TestApp) {
    let w = world(&app).await;
    for round in 0..4 {
        let name = format!("race{round}:read");
        ok(app
            .rpc(
                &w.root,
                "create_custom_scope",
                &[("name", &name), ("description", "racing")],
            )
            .await);
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (base, client, name) = (app.base.clone(), w.ou.clone(), name.clone());
            tasks.push(tokio::spawn(async move {
                client
                    .post(format!("{base}/rpc/create_token"))
                    .form(&[
                        ("name", format!("racer {i}")),
                        ("expiry", "7d".into()),
                        ("scopes[]", name),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            }));
        }
        let (base, client, scope) = (app.base.clone(), w.root.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{base}/rpc/delete_custom_scope"))
                .form(&[("name", scope)])
                .send()
                .await
                .unwrap()
                .status()
        }));
        for task in tasks {
            let status = task.await.unwrap();
            assert!(
                status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY,
                "round {round}: {status}"
            );
        }
        let (holding,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM access_tokens WHERE ' ' || scopes || ' ' LIKE $1")
                .bind(format!("% {name} %"))
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        assert_eq!(holding, 0, "round {round}");
    }
}
