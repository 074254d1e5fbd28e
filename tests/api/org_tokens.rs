//! Organization and group tokens: technical users, roles, policies, the
//! Settings and Audit tabs, and the API routes a token uses for automation.

use crate::helpers::{TestApp, PASSWORD};
use crate::on_both_databases;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

on_both_databases!(
    org_admin_creates_an_org_token_backed_by_a_technical_user,
    group_admin_creates_a_group_token_that_acts_in_that_group_only,
    plain_members_cannot_manage_org_or_group_tokens,
    revoke_reactivate_and_delete_reach_the_api_at_once,
    the_token_outlives_its_creators_membership,
    settings_switch_token_kinds_off_and_limit_their_lifetime,
    audit_tab_pages_and_filters_the_orgs_events,
    an_admin_token_manages_tokens_through_the_api,
    deleting_a_group_removes_its_tokens_and_technical_users,
);

/// An organization "acme" with: root (instance admin, org admin), oa (org
/// admin), ou (org user), ga (org user, admin of group "platform"), gu (org
/// user, user of "platform"), and "outsider" who belongs nowhere.
pub struct World {
    pub root: Client,
    pub oa: Client,
    pub ou: Client,
    pub ga: Client,
    pub gu: Client,
    pub outsider: Client,
}

pub async fn world(app: &TestApp) -> World {
    let root = app.setup_admin().await;
    ok(app
        .rpc(&root, "create_org", &[("name", "Acme"), ("slug", "acme")])
        .await);
    ok(app
        .rpc(
            &root,
            "create_group",
            &[("org", "acme"), ("name", "Platform"), ("slug", "platform")],
        )
        .await);
    for (email, role) in [
        ("oa@example.com", "admin"),
        ("ou@example.com", "user"),
        ("ga@example.com", "user"),
        ("gu@example.com", "user"),
    ] {
        app.create_person(email, email.split('@').next().unwrap())
            .await;
        ok(app
            .rpc(
                &root,
                "add_org_member",
                &[("org", "acme"), ("email", email), ("role", role)],
            )
            .await);
    }
    for (email, role) in [("ga@example.com", "admin"), ("gu@example.com", "user")] {
        ok(app
            .rpc(
                &root,
                "add_group_member",
                &[
                    ("org", "acme"),
                    ("group", "platform"),
                    ("email", email),
                    ("role", role),
                ],
            )
            .await);
    }
    app.create_person("outsider@example.com", "Outsider").await;
    World {
        oa: app.sign_in("oa@example.com").await,
        ou: app.sign_in("ou@example.com").await,
        ga: app.sign_in("ga@example.com").await,
        gu: app.sign_in("gu@example.com").await,
        outsider: app.sign_in("outsider@example.com").await,
        root,
    }
}

pub fn ok((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Creates a token through the server function; returns (id, secret).
pub async fn create_token(
    app: &TestApp,
    client: &Client,
    group: &str,
    name: &str,
    admin: bool,
) -> (String, String) {
    let mut form = vec![
        ("org", "acme"),
        ("group", group),
        ("name", name),
        ("expiry", "30d"),
    ];
    if admin {
        form.push(("admin", "on"));
    }
    let body = ok(app.rpc(client, "create_token", &form).await);
    (
        body["token"]["id"].to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

/// An API call with a token; returns status and JSON body.
pub async fn api(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Client::new().request(method.clone(), format!("{}{path}", app.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let body = crate::spec::parse_body(&res.text().await.unwrap());
    crate::spec::conforms(method.as_str(), path, status.as_u16(), &body);
    (status, body)
}

async fn org_admin_creates_an_org_token_backed_by_a_technical_user(app: TestApp) {
    let w = world(&app).await;
    let form = [
        ("org", "acme"),
        ("name", "Deploy bot"),
        ("expiry", "30d"),
        ("admin", "on"),
    ];
    let created = ok(app.rpc(&w.oa, "create_token", &form).await);
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("lko_"), "{secret}");
    assert_eq!(created["token"]["role"], "admin");
    assert_eq!(created["token"]["created_by"], "oa");

    let listed = ok(app.rpc(&w.oa, "list_tokens", &[("org", "acme")]).await);
    assert_eq!(listed["tokens"][0]["name"], "Deploy bot");
    assert_eq!(listed["tokens"][0]["role"], "admin");
    // Not among oa's personal tokens.
    let personal = ok(app.rpc(&w.oa, "list_tokens", &[]).await);
    assert_eq!(personal["tokens"].as_array().unwrap().len(), 0);

    // Its technical user is an organization member, marked technical, and
    // cannot be edited like a person or sign in.
    let members = ok(app.rpc(&w.oa, "list_org_members", &[("org", "acme")]).await);
    let bot = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["display_name"] == "Deploy bot")
        .expect("technical member listed")
        .clone();
    assert_eq!(bot["technical"], true);
    assert_eq!(bot["role"], "admin");
    assert!(bot["email"].is_null());
    let bot_id = bot["user_id"].to_string();
    let (status, _) = app
        .rpc(
            &w.oa,
            "set_org_member_role",
            &[("org", "acme"), ("user_id", &bot_id), ("role", "user")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, me) = api(&app, Method::GET, "/api/v1/whoami", Some(secret), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["acts_as"]["kind"], "technical");
    assert_eq!(me["acts_as"]["display_name"], "Deploy bot");
    assert_eq!(me["token"]["kind"], "organization");
    assert_eq!(me["organizations"][0]["slug"], "acme");
    assert_eq!(me["organizations"][0]["role"], "admin");
    assert_eq!(me["organizations"].as_array().unwrap().len(), 1);

    // Without the admin box the token is an organization user.
    let user_token = ok(app
        .rpc(
            &w.oa,
            "create_token",
            &[("org", "acme"), ("name", "Reader"), ("expiry", "7d")],
        )
        .await);
    assert_eq!(user_token["token"]["role"], "user");
    let audit = app.audit_actions().await;
    assert!(audit.iter().filter(|a| *a == "token.created").count() >= 2);
}

async fn group_admin_creates_a_group_token_that_acts_in_that_group_only(app: TestApp) {
    let w = world(&app).await;
    ok(app
        .rpc(
            &w.root,
            "create_group",
            &[("org", "acme"), ("name", "Data"), ("slug", "data")],
        )
        .await);
    let (_, secret) = create_token(&app, &w.ga, "platform", "Group bot", true).await;
    assert!(secret.starts_with("lkg_"));
    let (status, me) = api(&app, Method::GET, "/api/v1/whoami", Some(&secret), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["token"]["kind"], "group");
    let org = &me["organizations"][0];
    assert_eq!(org["slug"], "acme");
    assert!(org["role"].is_null(), "no organization role: {me}");
    assert_eq!(org["groups"][0]["slug"], "platform");
    assert_eq!(org["groups"][0]["role"], "admin");

    // It reads its own group, not the organization nor another group.
    let (status, members) = api(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/groups/platform/members",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(members
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["display_name"] == "Group bot" && m["technical"] == true));
    for path in [
        "/api/v1/orgs/acme/members",
        "/api/v1/orgs/acme/groups",
        "/api/v1/orgs/acme/tokens",
    ] {
        let (status, body) = api(&app, Method::GET, path, Some(&secret), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, _) = api(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/groups/data/members",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The parent organization's admins manage group tokens too.
    let listed = ok(app
        .rpc(
            &w.oa,
            "list_tokens",
            &[("org", "acme"), ("group", "platform")],
        )
        .await);
    assert_eq!(listed["tokens"][0]["role"], "admin");
    assert_eq!(listed["tokens"][0]["created_by"], "ga");
}

async fn plain_members_cannot_manage_org_or_group_tokens(app: TestApp) {
    let w = world(&app).await;
    let org_form = [("org", "acme"), ("name", "x"), ("expiry", "7d")];
    let group_form = [
        ("org", "acme"),
        ("group", "platform"),
        ("name", "x"),
        ("expiry", "7d"),
    ];
    for (who, client) in [("ou", &w.ou), ("gu", &w.gu), ("ga", &w.ga)] {
        let (status, _) = app.rpc(client, "create_token", &org_form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} made an org token");
        let (status, _) = app.rpc(client, "list_tokens", &[("org", "acme")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} listed org tokens");
    }
    for (who, client) in [("ou", &w.ou), ("gu", &w.gu)] {
        let (status, _) = app.rpc(client, "create_token", &group_form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} made a group token");
    }
    let (status, _) = app.rpc(&w.outsider, "create_token", &org_form).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let tokens: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM access_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(tokens.0, 0, "no refused call created anything");

    // The tabs are not offered to them either.
    let page = app.get(&w.ou, "/orgs/acme").await.text().await.unwrap();
    assert!(!page.contains("/orgs/acme/tokens") && !page.contains("/orgs/acme/settings"));
    let page = app.get(&w.oa, "/orgs/acme").await.text().await.unwrap();
    assert!(page.contains("/orgs/acme/tokens") && page.contains("/orgs/acme/audit"));
    let page = app
        .get(&w.gu, "/orgs/acme/groups/platform")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("/orgs/acme/groups/platform/tokens"));
    let page = app
        .get(&w.ga, "/orgs/acme/groups/platform")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("/orgs/acme/groups/platform/tokens"));
}

async fn revoke_reactivate_and_delete_reach_the_api_at_once(app: TestApp) {
    let w = world(&app).await;
    let app = &app;
    for (client, group) in [(&w.oa, ""), (&w.ga, "platform")] {
        let (id, secret) = create_token(app, client, group, "bot", false).await;
        let scope = [("org", "acme"), ("group", group)];
        let whoami = || api(app, Method::GET, "/api/v1/whoami", Some(&secret), None);
        assert_eq!(whoami().await.0, StatusCode::OK);
        let id = id.as_str();
        let change = move |enabled: &'static str| {
            let mut form = scope.to_vec();
            form.extend([("token_id", id), ("enabled", enabled)]);
            async move { app.rpc(client, "set_token_enabled", &form).await.0 }
        };
        assert_eq!(change("false").await, StatusCode::OK);
        let (status, body) = whoami().await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(change("true").await, StatusCode::OK);
        assert_eq!(whoami().await.0, StatusCode::OK);

        let mut form = scope.to_vec();
        form.push(("token_id", id));
        ok(app.rpc(client, "delete_token", &form).await);
        assert_eq!(whoami().await.0, StatusCode::UNAUTHORIZED);
        let technical: (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE kind = 'technical'")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        assert_eq!(technical.0, 0, "the technical user goes with its token");
    }

    // Revoke all, per organization and per group.
    let (_, org_secret) = create_token(app, &w.oa, "", "one", false).await;
    let (_, group_secret) = create_token(app, &w.ga, "platform", "two", false).await;
    ok(app
        .rpc(
            &w.ga,
            "revoke_all_tokens",
            &[("org", "acme"), ("group", "platform")],
        )
        .await);
    assert_eq!(
        api(
            app,
            Method::GET,
            "/api/v1/whoami",
            Some(&group_secret),
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api(app, Method::GET, "/api/v1/whoami", Some(&org_secret), None)
            .await
            .0,
        StatusCode::OK,
        "a group's revoke-all leaves organization tokens alone"
    );
    ok(app
        .rpc(&w.oa, "revoke_all_tokens", &[("org", "acme")])
        .await);
    assert_eq!(
        api(app, Method::GET, "/api/v1/whoami", Some(&org_secret), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

async fn the_token_outlives_its_creators_membership(app: TestApp) {
    let w = world(&app).await;
    let (_, secret) = create_token(&app, &w.oa, "", "Nightly export", true).await;
    let oa_id: (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = 'oa@example.com'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    ok(app
        .rpc(
            &w.root,
            "remove_org_member",
            &[("org", "acme"), ("user_id", &oa_id.0.to_string())],
        )
        .await);
    let (status, body) = api(
        &app,
        Method::GET,
        "/api/v1/orgs/acme/members",
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = ok(app.rpc(&w.root, "list_tokens", &[("org", "acme")]).await);
    assert_eq!(
        listed["tokens"][0]["created_by"], "oa",
        "the creator stays on record"
    );
    // And a personal token loses the organization at once.
    let personal = ok(app
        .rpc(&w.ou, "create_token", &[("name", "mine"), ("expiry", "7d")])
        .await);
    let personal = personal["secret"].as_str().unwrap();
    assert_eq!(
        api(
            &app,
            Method::GET,
            "/api/v1/orgs/acme/members",
            Some(personal),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    let ou_id: (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = 'ou@example.com'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    ok(app
        .rpc(
            &w.root,
            "remove_org_member",
            &[("org", "acme"), ("user_id", &ou_id.0.to_string())],
        )
        .await);
    assert_eq!(
        api(
            &app,
            Method::GET,
            "/api/v1/orgs/acme/members",
            Some(personal),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

async fn settings_switch_token_kinds_off_and_limit_their_lifetime(app: TestApp) {
    let w = world(&app).await;
    let (_, org_secret) = create_token(&app, &w.oa, "", "org", false).await;
    let (_, group_secret) = create_token(&app, &w.ga, "platform", "group", false).await;
    let settings = ok(app.rpc(&w.oa, "get_org_settings", &[("org", "acme")]).await);
    assert_eq!(settings["allow_org_tokens"], true);
    assert_eq!(settings["allow_non_expiring_tokens"], false);

    // Non-expiring org tokens are refused by default.
    let (status, body) = app
        .rpc(
            &w.oa,
            "create_token",
            &[("org", "acme"), ("name", "forever"), ("expiry", "never")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["Invalid"]["field"], "expiry");

    // Organization tokens off: existing ones stop, new ones are refused with why.
    ok(app
        .rpc(
            &w.oa,
            "update_org_settings",
            &[
                ("org", "acme"),
                ("allow_group_tokens", "on"),
                ("token_max_lifetime_days", "10"),
            ],
        )
        .await);
    let whoami = |secret: &str| {
        let secret = secret.to_string();
        let app = &app;
        async move {
            api(app, Method::GET, "/api/v1/whoami", Some(&secret), None)
                .await
                .0
        }
    };
    assert_eq!(whoami(&org_secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&group_secret).await, StatusCode::OK);
    let (status, body) = app
        .rpc(
            &w.oa,
            "create_token",
            &[("org", "acme"), ("name", "new"), ("expiry", "7d")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["Conflict"]
        .as_str()
        .unwrap()
        .contains("turned off for Acme"));
    // The list says so, offers no expiry choices, and the page shows no
    // create button and no token as active.
    let list = ok(app.rpc(&w.oa, "list_tokens", &[("org", "acme")]).await);
    assert!(list["turned_off"]
        .as_str()
        .unwrap()
        .contains("turned off for Acme"));
    assert!(list["policy"].is_null());
    let page = app.get(&w.oa, "/orgs/acme/tokens").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Turned off."), "the banner");
    assert!(page.contains("/orgs/acme/settings"), "where to change it");
    assert!(!page.contains("?new#create-token"), "no create button");
    assert!(!page.contains(">Active<"), "no token shows as active");
    // The lifetime limit applies to group tokens.
    let (status, body) = app
        .rpc(
            &w.ga,
            "create_token",
            &[
                ("org", "acme"),
                ("group", "platform"),
                ("name", "long"),
                ("expiry", "30d"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["Invalid"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 10 days"));
    let list = ok(app
        .rpc(
            &w.ga,
            "list_tokens",
            &[("org", "acme"), ("group", "platform")],
        )
        .await);
    assert_eq!(list["policy"]["max_lifetime_days"], 10);
    assert!(list["turned_off"].is_null());

    // Back on: the old token works again.
    ok(app
        .rpc(
            &w.oa,
            "update_org_settings",
            &[
                ("org", "acme"),
                ("allow_org_tokens", "on"),
                ("allow_group_tokens", "on"),
            ],
        )
        .await);
    assert_eq!(whoami(&org_secret).await, StatusCode::OK);

    let (status, body) = app
        .rpc(
            &w.oa,
            "update_org_settings",
            &[("org", "acme"), ("token_max_lifetime_days", "lots")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "token_max_lifetime_days");
    assert_eq!(
        body["Invalid"]["input"]["token_max_lifetime_days"], "lots",
        "what was typed comes back"
    );
    let (status, _) = app
        .rpc(&w.ou, "update_org_settings", &[("org", "acme")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(app
        .audit_actions()
        .await
        .contains(&"org.settings_changed".to_string()));
}

async fn audit_tab_pages_and_filters_the_orgs_events(app: TestApp) {
    let w = world(&app).await;
    for n in 0..30 {
        create_token(&app, &w.oa, "", &format!("t{n}"), false).await;
    }
    create_token(&app, &w.ga, "platform", "group one", false).await;
    let first = ok(app.rpc(&w.oa, "list_org_audit", &[("org", "acme")]).await);
    let entries = first["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 25);
    assert_eq!(first["has_more"], true);
    assert_eq!(entries[0]["target"], "group one", "newest first");
    assert_eq!(entries[0]["group"], "Platform");
    assert!(first["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("org.member_added")));
    let second = ok(app
        .rpc(&w.oa, "list_org_audit", &[("org", "acme"), ("page", "2")])
        .await);
    assert!(!second["entries"].as_array().unwrap().is_empty());
    let filtered = ok(app
        .rpc(
            &w.oa,
            "list_org_audit",
            &[("org", "acme"), ("action", "group.member_added")],
        )
        .await);
    let filtered = filtered["entries"].as_array().unwrap();
    assert_eq!(filtered.len(), 2);
    assert!(filtered.iter().all(|e| e["action"] == "group.member_added"));
    let (status, _) = app.rpc(&w.ou, "list_org_audit", &[("org", "acme")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The page renders without JavaScript, filter included.
    let page = app
        .get(&w.oa, "/orgs/acme/audit?action=token.created&page=2")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Page 2") && page.contains(">Token created</option>"));
    assert!(
        page.contains("oa created the organization token \u{201c}t"),
        "events read as sentences, people by name"
    );
    // Times to the second: "…HH:MM:SS UTC</time>".
    let end = page.find(" UTC</time>").expect("a time");
    let clock: Vec<char> = page[end - 8..end].chars().collect();
    assert!(
        clock[2] == ':'
            && clock[5] == ':'
            && clock.iter().filter(|c| c.is_ascii_digit()).count() == 6,
        "{clock:?}"
    );
}

async fn an_admin_token_manages_tokens_through_the_api(app: TestApp) {
    let w = world(&app).await;
    let (_, admin) = create_token(&app, &w.oa, "", "automation", true).await;
    let (status, created) = api(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/tokens",
        Some(&admin),
        Some(json!({ "name": "minted", "expiry": "7d" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let minted = created["secret"].as_str().unwrap().to_string();
    let id = created["token"]["id"].as_i64().unwrap();
    assert_eq!(created["token"]["role"], "user");
    assert_eq!(
        api(&app, Method::GET, "/api/v1/whoami", Some(&minted), None)
            .await
            .0,
        StatusCode::OK
    );
    let path = format!("/api/v1/orgs/acme/tokens/{id}");
    let (status, body) = api(
        &app,
        Method::POST,
        &format!("{path}/revoke"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "revoked");
    assert_eq!(
        api(&app, Method::GET, "/api/v1/whoami", Some(&minted), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (_, body) = api(
        &app,
        Method::POST,
        &format!("{path}/reactivate"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(body["status"], "active");
    let (status, _) = api(&app, Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api(&app, Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The minted user-role token may read but not manage.
    let (_, reader) = create_token(&app, &w.oa, "", "reader", false).await;
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/tokens",
        Some(&reader),
        Some(json!({ "name": "nope", "expiry": "7d" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "forbidden");

    // A body with the wrong fields is 422 with a JSON explanation, as is bad input.
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/tokens",
        Some(&admin),
        Some(json!({ "nom": "x" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "invalid_input");
    assert!(body["message"].as_str().unwrap().contains("nom"), "{body}");
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/groups/platform/tokens",
        Some(&admin),
        Some(json!({ "name": " ", "expiry": "7d", "admin": true })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // An org admin token manages the org's group tokens.
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/v1/orgs/acme/groups/platform/tokens",
        Some(&admin),
        Some(json!({ "name": "group via org", "expiry": "7d", "admin": true })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["secret"].as_str().unwrap().starts_with("lkg_"));
    let audit: Vec<(String,)> =
        sqlx::query_as("SELECT actor_label FROM audit_events WHERE action = 'token.created'")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert!(audit
        .iter()
        .any(|(label,)| label == "token \u{201c}automation\u{201d}"));
}

async fn deleting_a_group_removes_its_tokens_and_technical_users(app: TestApp) {
    let w = world(&app).await;
    let (_, secret) = create_token(&app, &w.ga, "platform", "doomed", true).await;
    ok(app
        .rpc(
            &w.oa,
            "delete_group",
            &[("org", "acme"), ("group", "platform")],
        )
        .await);
    assert_eq!(
        api(&app, Method::GET, "/api/v1/whoami", Some(&secret), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let technical: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE kind = 'technical'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(technical.0, 0);
    // Technical users can never sign in.
    let (status, _) = app
        .rpc(
            &app.client(),
            "sign_in",
            &[("email", ""), ("password", PASSWORD)],
        )
        .await;
    assert_ne!(status, StatusCode::OK);
}
