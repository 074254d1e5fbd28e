use crate::helpers::{error_kind, TestApp};
use crate::on_both_databases;
use reqwest::{Client, StatusCode};
use serde_json::Value;

on_both_databases!(
    only_the_instance_admin_creates_organizations,
    org_admin_manages_members_and_every_change_is_audited,
    an_organization_keeps_at_least_one_admin,
    removing_a_member_also_removes_their_group_memberships,
    org_admin_creates_and_deletes_groups,
    group_admins_manage_their_group_only,
    members_without_the_role_are_refused_everything,
    outsiders_cannot_see_an_organization,
    navigation_lists_my_organizations_and_groups,
);

/// An org "acme" (admin: root) with members ann (user) and a group "platform".
async fn acme(app: &TestApp) -> (Client, i64) {
    let root = app.setup_admin().await;
    let (status, body) = app
        .rpc(&root, "create_org", &[("name", "Acme Corp"), ("slug", "")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ann = app.create_person("ann@example.com", "Ann").await;
    let (status, body) = app
        .rpc(
            &root,
            "add_org_member",
            &[
                ("org", "acme-corp"),
                ("email", "ann@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .rpc(
            &root,
            "create_group",
            &[
                ("org", "acme-corp"),
                ("name", "Platform"),
                ("slug", "platform"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (root, ann)
}

async fn members(app: &TestApp, client: &Client, org: &str) -> Vec<Value> {
    let (status, body) = app.rpc(client, "list_org_members", &[("org", org)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

async fn only_the_instance_admin_creates_organizations(app: TestApp) {
    let (root, _) = acme(&app).await;
    let ann = app.sign_in("ann@example.com").await;
    let (status, _) = app
        .rpc(&ann, "create_org", &[("name", "Ann Inc"), ("slug", "ann")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .rpc(
            &app.client(),
            "create_org",
            &[("name", "Anon"), ("slug", "anon")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_kind(&body), "Unauthenticated");

    // A taken slug is a field error with a plain message, never database text.
    let (status, body) = app
        .rpc(
            &root,
            "create_org",
            &[("name", "Acme again"), ("slug", "acme-corp")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "slug");
    assert_eq!(body["Invalid"]["input"]["name"], "Acme again");
    let text = body.to_string().to_lowercase();
    assert!(
        !text.contains("unique") && !text.contains("constraint") && !text.contains("sql"),
        "{text}"
    );
    let (status, body) = app
        .rpc(&root, "create_org", &[("name", ""), ("slug", "x")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "name");
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM organizations")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

async fn org_admin_manages_members_and_every_change_is_audited(app: TestApp) {
    let (root, ann) = acme(&app).await;
    let list = members(&app, &root, "acme-corp").await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["role"], "admin");

    let (status, body) = app
        .rpc(
            &root,
            "add_org_member",
            &[
                ("org", "acme-corp"),
                ("email", "ghost@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "email");
    assert_eq!(body["Invalid"]["input"]["email"], "ghost@example.com");
    let (status, body) = app
        .rpc(
            &root,
            "add_org_member",
            &[
                ("org", "acme-corp"),
                ("email", "ann@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "duplicate: {body}"
    );
    let (status, body) = app
        .rpc(
            &root,
            "add_org_member",
            &[
                ("org", "acme-corp"),
                ("email", "x@example.com"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let id = ann.to_string();
    let (status, _) = app
        .rpc(
            &root,
            "set_org_member_role",
            &[("org", "acme-corp"), ("user_id", &id), ("role", "admin")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let list = members(&app, &root, "acme-corp").await;
    assert!(list.iter().all(|m| m["role"] == "admin"));
    let (status, _) = app
        .rpc(
            &root,
            "remove_org_member",
            &[("org", "acme-corp"), ("user_id", &id)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(members(&app, &root, "acme-corp").await.len(), 1);

    let actions = app.audit_actions().await;
    for expected in [
        "org.created",
        "org.member_added",
        "group.created",
        "org.member_role_changed",
        "org.member_removed",
    ] {
        assert!(
            actions.contains(&expected.to_string()),
            "missing audit event {expected}: {actions:?}"
        );
    }
    let (ip, actor): (Option<String>, String) = sqlx::query_as(
        "SELECT ip, actor_label FROM audit_events WHERE action = 'org.member_removed'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(actor, "root@example.com");
}

async fn an_organization_keeps_at_least_one_admin(app: TestApp) {
    let (root, _) = acme(&app).await;
    let (root_id,): (i64,) =
        sqlx::query_as("SELECT id FROM users WHERE email = 'root@example.com'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let id = root_id.to_string();
    let (status, body) = app
        .rpc(
            &root,
            "set_org_member_role",
            &[("org", "acme-corp"), ("user_id", &id), ("role", "user")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = app
        .rpc(
            &root,
            "remove_org_member",
            &[("org", "acme-corp"), ("user_id", &id)],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(members(&app, &root, "acme-corp").await[0]["role"], "admin");
}

async fn removing_a_member_also_removes_their_group_memberships(app: TestApp) {
    let (root, ann) = acme(&app).await;
    let (status, _) = app
        .rpc(
            &root,
            "add_group_member",
            &[
                ("org", "acme-corp"),
                ("group", "platform"),
                ("email", "ann@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.rpc(
        &root,
        "remove_org_member",
        &[("org", "acme-corp"), ("user_id", &ann.to_string())],
    )
    .await;
    let (_, body) = app
        .rpc(
            &root,
            "list_group_members",
            &[("org", "acme-corp"), ("group", "platform")],
        )
        .await;
    assert_eq!(body.as_array().unwrap().len(), 0);
}

async fn org_admin_creates_and_deletes_groups(app: TestApp) {
    let (root, _) = acme(&app).await;
    let (status, body) = app
        .rpc(
            &root,
            "create_group",
            &[("org", "acme-corp"), ("name", "Data Science"), ("slug", "")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .rpc(
            &root,
            "create_group",
            &[
                ("org", "acme-corp"),
                ("name", "Again"),
                ("slug", "platform"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "slug");
    let (_, groups) = app.rpc(&root, "list_groups", &[("org", "acme-corp")]).await;
    let slugs: Vec<_> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["slug"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(slugs, ["data-science", "platform"]);
    let (status, _) = app
        .rpc(
            &root,
            "delete_group",
            &[("org", "acme-corp"), ("group", "data-science")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .rpc(
            &root,
            "get_group",
            &[("org", "acme-corp"), ("group", "data-science")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(app
        .audit_actions()
        .await
        .contains(&"group.deleted".to_string()));
}

async fn group_admins_manage_their_group_only(app: TestApp) {
    let (root, _) = acme(&app).await;
    app.create_person("bob@example.com", "Bob").await;
    app.rpc(
        &root,
        "add_org_member",
        &[
            ("org", "acme-corp"),
            ("email", "bob@example.com"),
            ("role", "user"),
        ],
    )
    .await;
    app.rpc(
        &root,
        "add_group_member",
        &[
            ("org", "acme-corp"),
            ("group", "platform"),
            ("email", "ann@example.com"),
            ("role", "admin"),
        ],
    )
    .await;
    app.rpc(
        &root,
        "create_group",
        &[("org", "acme-corp"), ("name", "Data"), ("slug", "data")],
    )
    .await;
    let ann = app.sign_in("ann@example.com").await;

    let (_, view) = app
        .rpc(
            &ann,
            "get_group",
            &[("org", "acme-corp"), ("group", "platform")],
        )
        .await;
    assert_eq!(view["can_manage"], true);
    let (status, body) = app
        .rpc(
            &ann,
            "add_group_member",
            &[
                ("org", "acme-corp"),
                ("group", "platform"),
                ("email", "bob@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Only organization members can join, and not twice.
    let (status, body) = app
        .rpc(
            &ann,
            "add_group_member",
            &[
                ("org", "acme-corp"),
                ("group", "platform"),
                ("email", "root@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.create_person("eve@example.com", "Eve").await;
    let (status, body) = app
        .rpc(
            &ann,
            "add_group_member",
            &[
                ("org", "acme-corp"),
                ("group", "platform"),
                ("email", "eve@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["Invalid"]["field"], "email");
    let bob_id: (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = 'bob@example.com'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let (status, _) = app
        .rpc(
            &ann,
            "set_group_member_role",
            &[
                ("org", "acme-corp"),
                ("group", "platform"),
                ("user_id", &bob_id.0.to_string()),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .rpc(
            &ann,
            "remove_group_member",
            &[
                ("org", "acme-corp"),
                ("group", "platform"),
                ("user_id", &bob_id.0.to_string()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Not another group, and not the organization.
    let (status, _) = app
        .rpc(
            &ann,
            "add_group_member",
            &[
                ("org", "acme-corp"),
                ("group", "data"),
                ("email", "bob@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .rpc(
            &ann,
            "add_org_member",
            &[
                ("org", "acme-corp"),
                ("email", "eve@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .rpc(
            &ann,
            "create_group",
            &[("org", "acme-corp"), ("name", "Mine"), ("slug", "mine")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let actions = app.audit_actions().await;
    for expected in [
        "group.member_added",
        "group.member_role_changed",
        "group.member_removed",
    ] {
        assert!(
            actions.contains(&expected.to_string()),
            "missing {expected}"
        );
    }
}

async fn members_without_the_role_are_refused_everything(app: TestApp) {
    let (root, _) = acme(&app).await;
    let (root_id,): (i64,) =
        sqlx::query_as("SELECT id FROM users WHERE email = 'root@example.com'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    app.rpc(
        &root,
        "add_group_member",
        &[
            ("org", "acme-corp"),
            ("group", "platform"),
            ("email", "root@example.com"),
            ("role", "admin"),
        ],
    )
    .await;
    let before = app.audit_actions().await.len();
    let ann = app.sign_in("ann@example.com").await;
    let root_id = root_id.to_string();
    let refused: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "add_org_member",
            vec![
                ("org", "acme-corp"),
                ("email", "root@example.com"),
                ("role", "user"),
            ],
        ),
        (
            "set_org_member_role",
            vec![
                ("org", "acme-corp"),
                ("user_id", &root_id),
                ("role", "user"),
            ],
        ),
        (
            "remove_org_member",
            vec![("org", "acme-corp"), ("user_id", &root_id)],
        ),
        (
            "create_group",
            vec![("org", "acme-corp"), ("name", "X"), ("slug", "xx")],
        ),
        (
            "delete_group",
            vec![("org", "acme-corp"), ("group", "platform")],
        ),
        (
            "add_group_member",
            vec![
                ("org", "acme-corp"),
                ("group", "platform"),
                ("email", "ann@example.com"),
                ("role", "admin"),
            ],
        ),
        (
            "set_group_member_role",
            vec![
                ("org", "acme-corp"),
                ("group", "platform"),
                ("user_id", &root_id),
                ("role", "user"),
            ],
        ),
        (
            "remove_group_member",
            vec![
                ("org", "acme-corp"),
                ("group", "platform"),
                ("user_id", &root_id),
            ],
        ),
    ];
    for (name, form) in &refused {
        let (status, body) = app.rpc(&ann, name, form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        let (status, _) = app.rpc(&app.client(), name, form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} anonymous");
    }
    assert_eq!(
        app.audit_actions().await.len(),
        before + 1,
        "only Ann's sign-in was recorded"
    );
    // Reading is fine for members.
    let (status, _) = app
        .rpc(&ann, "list_org_members", &[("org", "acme-corp")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, view) = app
        .rpc(
            &ann,
            "get_group",
            &[("org", "acme-corp"), ("group", "platform")],
        )
        .await;
    assert_eq!(view["can_manage"], false);
}

async fn outsiders_cannot_see_an_organization(app: TestApp) {
    let (root, _) = acme(&app).await;
    app.create_person("eve@example.com", "Eve").await;
    let eve = app.sign_in("eve@example.com").await;
    for (name, form) in [
        ("get_org", vec![("org", "acme-corp")]),
        ("list_org_members", vec![("org", "acme-corp")]),
        ("list_groups", vec![("org", "acme-corp")]),
        (
            "get_group",
            vec![("org", "acme-corp"), ("group", "platform")],
        ),
        (
            "list_group_members",
            vec![("org", "acme-corp"), ("group", "platform")],
        ),
        (
            "add_org_member",
            vec![
                ("org", "acme-corp"),
                ("email", "eve@example.com"),
                ("role", "admin"),
            ],
        ),
        (
            "delete_group",
            vec![("org", "acme-corp"), ("group", "platform")],
        ),
    ] {
        let (status, body) = app.rpc(&eve, name, &form).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {body}");
        // The same answer as for an organization that does not exist.
        let missing: Vec<_> = form
            .iter()
            .map(|(k, v)| (*k, if *k == "org" { "no-such-org" } else { *v }))
            .collect();
        let (status_missing, body_missing) = app.rpc(&eve, name, &missing).await;
        assert_eq!((status_missing, body_missing), (status, body));
    }
    // Another organization's admin is an outsider here too.
    app.rpc(&root, "create_org", &[("name", "Other"), ("slug", "other")])
        .await;
    app.rpc(
        &root,
        "add_org_member",
        &[
            ("org", "other"),
            ("email", "eve@example.com"),
            ("role", "admin"),
        ],
    )
    .await;
    let (status, _) = app
        .rpc(
            &eve,
            "add_org_member",
            &[
                ("org", "acme-corp"),
                ("email", "eve@example.com"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn navigation_lists_my_organizations_and_groups(app: TestApp) {
    let (root, _) = acme(&app).await;
    app.rpc(
        &root,
        "add_group_member",
        &[
            ("org", "acme-corp"),
            ("group", "platform"),
            ("email", "ann@example.com"),
            ("role", "user"),
        ],
    )
    .await;
    let ann = app.sign_in("ann@example.com").await;
    let (_, orgs) = app.rpc(&ann, "list_my_orgs", &[]).await;
    assert_eq!(orgs[0]["slug"], "acme-corp");
    assert_eq!(orgs[0]["role"], "user");
    assert_eq!(orgs[0]["groups"][0]["slug"], "platform");
    let page = app.get(&ann, "/orgs/acme-corp").await.text().await.unwrap();
    assert!(
        page.contains("Your organizations")
            && page.contains("href=\"/orgs/acme-corp/groups/platform\""),
        "nav missing"
    );
}
