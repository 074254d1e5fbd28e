//! Accounts in the browser: invitations, the account page, sessions, and the
//! instance admin's Users and Organizations areas.

use crate::helpers::{error_kind, futures_join_all, TestApp, PASSWORD};
use crate::on_both_databases;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

on_both_databases!(
    an_invitation_makes_one_account_and_is_kept_as_a_digest,
    an_expired_or_withdrawn_invitation_is_refused,
    racing_acceptances_make_one_account,
    organization_admins_invite_into_their_organization_only,
    a_password_change_needs_the_current_one_and_ends_other_sessions,
    sessions_are_listed_and_signed_out_one_by_one_or_all_else,
    sessions_are_stored_under_a_digest_of_the_cookie,
    account_name_and_email_change,
    only_instance_admins_manage_accounts,
    disabling_a_person_ends_their_sessions_and_tokens,
    the_last_instance_admin_stays_even_when_two_demote_each_other,
    deleting_a_person_takes_their_tokens_but_not_an_organizations_last_admin,
    instance_admins_list_create_and_delete_organizations,
    signed_out_pages_redirect_with_303_and_come_back,
);

async fn invite(app: &TestApp, admin: &Client, email: &str) -> Value {
    let (status, body) = app.rpc(admin, "invite_person", &[("email", email)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The secret part of an invitation link.
fn code_of(issued: &Value) -> String {
    let link = issued["link"].as_str().unwrap();
    link.rsplit('/').next().unwrap().to_string()
}

async fn accept(app: &TestApp, client: &Client, code: &str, password: &str) -> (StatusCode, Value) {
    app.rpc(
        client,
        "accept_invitation",
        &[
            ("code", code),
            ("display_name", "New Person"),
            ("password", password),
            ("password_confirm", password),
        ],
    )
    .await
}

async fn signed_in_email(app: &TestApp, client: &Client) -> Option<String> {
    let (_, session) = app.rpc(client, "get_session", &[]).await;
    session["user"]["email"].as_str().map(str::to_string)
}

async fn an_invitation_makes_one_account_and_is_kept_as_a_digest(app: TestApp) {
    let admin = app.setup_admin().await;
    let issued = invite(&app, &admin, "new@example.com").await;
    let link = issued["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/invite/lki_", app.base)),
        "{link}"
    );
    let code = code_of(&issued);

    // Only a digest is stored.
    let (digest,): (String,) = sqlx::query_as("SELECT secret_digest FROM invitations")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(digest, hex::encode(Sha256::digest(code.as_bytes())));
    assert_ne!(digest, code);

    // The page shows whom it is for.
    let visitor = app.client();
    let page = app.get(&visitor, &format!("/invite/{code}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("new@example.com") && page.contains("Root Admin"),
        "{page}"
    );

    // A refused form spends nothing.
    let (status, body) = accept(&app, &visitor, &code, "short").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "password");
    assert_eq!(
        body["Invalid"]["input"]["display_name"], "New Person",
        "typed name kept"
    );

    let (status, body) = accept(&app, &visitor, &code, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        signed_in_email(&app, &visitor).await.as_deref(),
        Some("new@example.com")
    );
    app.sign_in("new@example.com").await;

    // Single use.
    let (status, body) = accept(&app, &app.client(), &code, PASSWORD).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let page = app.get(&app.client(), &format!("/invite/{code}")).await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);

    // Someone with an account is not invited again.
    let (status, body) = app
        .rpc(&admin, "invite_person", &[("email", "new@example.com")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(app
        .audit_actions()
        .await
        .contains(&"invitation.accepted".to_string()));
}

async fn an_expired_or_withdrawn_invitation_is_refused(app: TestApp) {
    let admin = app.setup_admin().await;
    let expired = code_of(&invite(&app, &admin, "late@example.com").await);
    sqlx::query("UPDATE invitations SET expires_at = 1 WHERE email = 'late@example.com'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, _) = accept(&app, &app.client(), &expired, PASSWORD).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, pending) = app.rpc(&admin, "list_invitations", &[]).await;
    assert_eq!(pending[0]["expired"], true);

    let withdrawn = code_of(&invite(&app, &admin, "gone@example.com").await);
    let (_, pending) = app.rpc(&admin, "list_invitations", &[]).await;
    let id = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "gone@example.com")
        .unwrap()["id"]
        .to_string();
    let (status, _) = app.rpc(&admin, "withdraw_invitation", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = accept(&app, &app.client(), &withdrawn, PASSWORD).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A second invitation to the same person replaces the first.
    let first = code_of(&invite(&app, &admin, "twice@example.com").await);
    let second = code_of(&invite(&app, &admin, "twice@example.com").await);
    assert_eq!(
        accept(&app, &app.client(), &first, PASSWORD).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        accept(&app, &app.client(), &second, PASSWORD).await.0,
        StatusCode::OK
    );
}

async fn racing_acceptances_make_one_account(app: TestApp) {
    let admin = app.setup_admin().await;
    let code = code_of(&invite(&app, &admin, "race@example.com").await);
    let attempts = (0..4).map(|_| {
        let (base, code) = (app.base.clone(), code.clone());
        async move {
            Client::new()
                .post(format!("{base}/rpc/accept_invitation"))
                .form(&[
                    ("code", code.as_str()),
                    ("display_name", "Racer"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_join_all(attempts).await;
    let accepted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(accepted, 1, "{statuses:?}");
    let (accounts,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = 'race@example.com'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(accounts, 1);
}

async fn organization_admins_invite_into_their_organization_only(app: TestApp) {
    let root = app.setup_admin().await;
    app.create_person("ada@example.com", "Ada Admin").await;
    app.create_person("max@example.com", "Max Member").await;
    let ada = app.sign_in("ada@example.com").await;
    let max = app.sign_in("max@example.com").await;
    for (name, slug) in [("Acme", "acme"), ("Other", "other")] {
        let (status, body) = app
            .rpc(&root, "create_org", &[("name", name), ("slug", slug)])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for (email, role) in [("ada@example.com", "admin"), ("max@example.com", "user")] {
        let (status, body) = app
            .rpc(
                &root,
                "add_org_member",
                &[("org", "acme"), ("email", email), ("role", role)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let (status, issued) = app
        .rpc(
            &ada,
            "invite_to_org",
            &[
                ("org", "acme"),
                ("email", "eve@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["manage_at"], "/orgs/acme");
    // A member who is not an admin may not invite; another organization answers 404.
    let (status, _) = app
        .rpc(
            &max,
            "invite_to_org",
            &[
                ("org", "acme"),
                ("email", "x@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .rpc(
            &ada,
            "invite_to_org",
            &[
                ("org", "other"),
                ("email", "x@example.com"),
                ("role", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .rpc(&max, "list_org_invitations", &[("org", "acme")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another organization's admin cannot withdraw it (IDOR): 404.
    let (_, pending) = app
        .rpc(&ada, "list_org_invitations", &[("org", "acme")])
        .await;
    let id = pending[0]["id"].to_string();
    let (status, _) = app
        .rpc(
            &root,
            "withdraw_org_invitation",
            &[("org", "other"), ("id", &id)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Accepting adds the membership with the invited role.
    let eve = app.client();
    let (status, body) = accept(&app, &eve, &code_of(&issued), PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, members) = app.rpc(&ada, "list_org_members", &[("org", "acme")]).await;
    let eve_row = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "eve@example.com")
        .expect("eve joined");
    assert_eq!(eve_row["role"], "user");
    let (_, orgs) = app.rpc(&eve, "list_my_orgs", &[]).await;
    assert_eq!(orgs[0]["slug"], "acme");
}

async fn a_password_change_needs_the_current_one_and_ends_other_sessions(app: TestApp) {
    app.setup_admin().await;
    app.create_person("pat@example.com", "Pat").await;
    let here = app.sign_in("pat@example.com").await;
    let elsewhere = app.sign_in("pat@example.com").await;
    let new_password = "a whole new passphrase";

    let (status, body) = app
        .rpc(
            &here,
            "change_password",
            &[
                ("current_password", "not my password"),
                ("new_password", new_password),
                ("new_password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "current_password");
    let (status, body) = app
        .rpc(
            &here,
            "change_password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("new_password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "new_password");
    assert!(
        signed_in_email(&app, &elsewhere).await.is_some(),
        "nothing changed yet"
    );

    let (status, body) = app
        .rpc(
            &here,
            "change_password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new_password),
                ("new_password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        signed_in_email(&app, &here).await.as_deref(),
        Some("pat@example.com"),
        "this browser stays"
    );
    assert_eq!(
        signed_in_email(&app, &elsewhere).await,
        None,
        "the other session ended"
    );

    let (status, _) = app
        .rpc(
            &app.client(),
            "sign_in",
            &[("email", "pat@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the old password is gone"
    );
    let (status, _) = app
        .rpc(
            &app.client(),
            "sign_in",
            &[("email", "pat@example.com"), ("password", new_password)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(app
        .audit_actions()
        .await
        .contains(&"user.password_changed".to_string()));
}

async fn sessions_are_listed_and_signed_out_one_by_one_or_all_else(app: TestApp) {
    let root = app.setup_admin().await;
    app.create_person("sam@example.com", "Sam").await;
    let sam = app.sign_in("sam@example.com").await;
    let sam_phone = app.sign_in("sam@example.com").await;
    let sam_laptop = app.sign_in("sam@example.com").await;

    let (status, sessions) = app.rpc(&sam, "list_my_sessions", &[]).await;
    assert_eq!(status, StatusCode::OK, "{sessions}");
    let sessions = sessions.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0]["current"], true, "this browser first");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions[0]["ip"], "127.0.0.1");
    let other = sessions[1]["handle"].as_str().unwrap().to_string();

    // Another person cannot end Sam's session: 404, and it lives on.
    let (status, _) = app.rpc(&root, "end_session", &[("handle", &other)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let alive = [
        signed_in_email(&app, &sam_phone).await,
        signed_in_email(&app, &sam_laptop).await,
    ];
    assert!(alive.iter().all(Option::is_some));

    let (status, _) = app.rpc(&sam, "end_session", &[("handle", &other)]).await;
    assert_eq!(status, StatusCode::OK);
    let alive = [
        signed_in_email(&app, &sam_phone).await,
        signed_in_email(&app, &sam_laptop).await,
    ];
    assert_eq!(
        alive.iter().filter(|s| s.is_some()).count(),
        1,
        "exactly that one ended"
    );

    let (status, _) = app.rpc(&sam, "end_other_sessions", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(signed_in_email(&app, &sam_phone).await, None);
    assert_eq!(signed_in_email(&app, &sam_laptop).await, None);
    assert!(signed_in_email(&app, &sam).await.is_some());
    let (_, sessions) = app.rpc(&sam, "list_my_sessions", &[]).await;
    assert_eq!(sessions.as_array().unwrap().len(), 1);
}

async fn sessions_are_stored_under_a_digest_of_the_cookie(app: TestApp) {
    let client = app.client();
    let res = client
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
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("latchkey_session="))
        .expect("session cookie");
    let value = cookie
        .trim_start_matches("latchkey_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let keys: Vec<(String,)> = sqlx::query_as("SELECT id FROM sessions")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_ne!(keys[0].0, value, "the cookie itself is not stored");
    assert_eq!(keys[0].0, hex::encode(Sha256::digest(value.as_bytes())));
}

async fn account_name_and_email_change(app: TestApp) {
    app.setup_admin().await;
    app.create_person("kim@example.com", "Kim").await;
    app.create_person("taken@example.com", "Taken").await;
    let kim = app.sign_in("kim@example.com").await;

    let (status, body) = app
        .rpc(&kim, "change_display_name", &[("display_name", "  ")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .rpc(&kim, "change_display_name", &[("display_name", "Kim Lee")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, session) = app.rpc(&kim, "get_session", &[]).await;
    assert_eq!(session["user"]["display_name"], "Kim Lee");

    let (status, body) = app
        .rpc(
            &kim,
            "change_email",
            &[
                ("email", "kim.lee@example.com"),
                ("current_password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "current_password");
    assert_eq!(
        body["Invalid"]["input"]["email"], "kim.lee@example.com",
        "typed email kept"
    );
    let (status, body) = app
        .rpc(
            &kim,
            "change_email",
            &[
                ("email", "taken@example.com"),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "email");
    let (status, _) = app
        .rpc(
            &kim,
            "change_email",
            &[
                ("email", "kim.lee@example.com"),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        signed_in_email(&app, &kim).await.as_deref(),
        Some("kim.lee@example.com")
    );
    app.sign_in("kim.lee@example.com").await;
}

async fn only_instance_admins_manage_accounts(app: TestApp) {
    app.setup_admin().await;
    let lee_id = app
        .create_person("lee@example.com", "Lee")
        .await
        .to_string();
    let lee = app.sign_in("lee@example.com").await;
    for (name, form) in [
        ("list_people", vec![]),
        ("list_invitations", vec![]),
        ("invite_person", vec![("email", "x@example.com")]),
        (
            "set_person_disabled",
            vec![("user_id", lee_id.as_str()), ("disabled", "true")],
        ),
        (
            "set_instance_admin",
            vec![("user_id", lee_id.as_str()), ("instance_admin", "true")],
        ),
        ("delete_person", vec![("user_id", lee_id.as_str())]),
        ("list_all_orgs", vec![]),
        ("delete_org", vec![("org", "x"), ("confirm", "x")]),
    ] {
        let (status, body) = app.rpc(&lee, name, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        let (status, _) = app.rpc(&app.client(), name, &form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} signed out");
    }
    assert_eq!(
        signed_in_email(&app, &lee).await.as_deref(),
        Some("lee@example.com")
    );
}

async fn disabling_a_person_ends_their_sessions_and_tokens(app: TestApp) {
    let root = app.setup_admin().await;
    let id = app
        .create_person("dee@example.com", "Dee")
        .await
        .to_string();
    let dee = app.sign_in("dee@example.com").await;
    let (status, created) = app
        .rpc(&dee, "create_token", &[("name", "ci"), ("expiry", "30d")])
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let whoami = |secret: String| {
        let base = app.base.clone();
        async move {
            Client::new()
                .get(format!("{base}/api/v1/whoami"))
                .bearer_auth(secret)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(whoami(secret.clone()).await, StatusCode::OK);

    let (status, body) = app
        .rpc(
            &root,
            "set_person_disabled",
            &[("user_id", &id), ("disabled", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(signed_in_email(&app, &dee).await, None);
    assert_eq!(whoami(secret.clone()).await, StatusCode::UNAUTHORIZED);
    let (_, people) = app.rpc(&root, "list_people", &[("query", "dee")]).await;
    assert_eq!(
        people.as_array().unwrap().len(),
        1,
        "search by name or email"
    );
    assert_eq!(people[0]["is_disabled"], true);
    assert_eq!(people[0]["personal_tokens"], 1);

    let (status, _) = app
        .rpc(
            &root,
            "set_person_disabled",
            &[("user_id", &id), ("disabled", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami(secret).await, StatusCode::OK);
    app.sign_in("dee@example.com").await;

    // Not oneself; technical users and unknown ids are not people (404).
    let (_, me) = app.rpc(&root, "get_session", &[]).await;
    let my_id = me["user"]["id"].to_string();
    let (status, _) = app
        .rpc(
            &root,
            "set_person_disabled",
            &[("user_id", &my_id), ("disabled", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .rpc(
            &root,
            "set_person_disabled",
            &[("user_id", "999999"), ("disabled", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_last_instance_admin_stays_even_when_two_demote_each_other(app: TestApp) {
    let root = app.setup_admin().await;
    let (_, me) = app.rpc(&root, "get_session", &[]).await;
    let root_id = me["user"]["id"].to_string();
    let bo_id = app.create_person("bo@example.com", "Bo").await.to_string();
    let (status, _) = app
        .rpc(
            &root,
            "set_instance_admin",
            &[("user_id", &bo_id), ("instance_admin", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let bo = app.sign_in("bo@example.com").await;

    // Each removes the other at the same moment: one of them must remain.
    let demote = |client: Client, target: String| {
        let base = app.base.clone();
        async move {
            client
                .post(format!("{base}/rpc/set_instance_admin"))
                .form(&[("user_id", target.as_str()), ("instance_admin", "false")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let statuses = futures_join_all([
        demote(root.clone(), bo_id.clone()),
        demote(bo.clone(), root_id.clone()),
    ])
    .await;
    let (admins,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM users WHERE is_instance_admin = 1 AND is_disabled = 0",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(admins, 1, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    // The other was refused by the guard (409), or, arriving after the
    // first had committed, was no longer an instance admin at all (403).
    assert!(
        statuses.contains(&StatusCode::CONFLICT) || statuses.contains(&StatusCode::FORBIDDEN),
        "{statuses:?}"
    );
}

async fn deleting_a_person_takes_their_tokens_but_not_an_organizations_last_admin(app: TestApp) {
    let root = app.setup_admin().await;
    let fay_id = app
        .create_person("fay@example.com", "Fay")
        .await
        .to_string();
    let fay = app.sign_in("fay@example.com").await;
    let (_, created) = app
        .rpc(
            &fay,
            "create_token",
            &[("name", "laptop"), ("expiry", "30d")],
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let (status, _) = app
        .rpc(
            &root,
            "create_org",
            &[
                ("name", "Fay Co"),
                ("slug", "fay-co"),
                ("admin_email", "fay@example.com"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = app
        .rpc(&root, "delete_person", &[("user_id", &fay_id)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.to_string().contains("Fay Co"),
        "names the organization: {body}"
    );
    assert_eq!(error_kind(&body), "Conflict");

    let (status, _) = app
        .rpc(
            &root,
            "delete_org",
            &[("org", "fay-co"), ("confirm", "fay-co")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .rpc(&root, "delete_person", &[("user_id", &fay_id)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(signed_in_email(&app, &fay).await, None);
    let res = Client::new()
        .get(format!("{}/api/v1/whoami", app.base))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (tokens,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM access_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(tokens, 0);
    assert!(app
        .audit_actions()
        .await
        .contains(&"user.deleted".to_string()));
}

async fn instance_admins_list_create_and_delete_organizations(app: TestApp) {
    let root = app.setup_admin().await;
    app.create_person("gus@example.com", "Gus").await;
    let (status, body) = app
        .rpc(
            &root,
            "create_org",
            &[
                ("name", "Gus Org"),
                ("slug", "gus"),
                ("admin_email", "nobody@example.com"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "admin_email");
    assert_eq!(body["Invalid"]["input"]["name"], "Gus Org");
    let (status, _) = app
        .rpc(
            &root,
            "create_org",
            &[
                ("name", "Gus Org"),
                ("slug", "gus"),
                ("admin_email", "gus@example.com"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let gus = app.sign_in("gus@example.com").await;
    let (status, created) = app
        .rpc(
            &gus,
            "create_token",
            &[("name", "deploy"), ("expiry", "30d"), ("org", "gus")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");

    let (_, orgs) = app.rpc(&root, "list_all_orgs", &[]).await;
    assert_eq!(orgs[0]["slug"], "gus");
    assert_eq!(orgs[0]["members"], 1, "technical users are not counted");
    assert_eq!(orgs[0]["tokens"], 1);

    let (status, body) = app
        .rpc(&root, "delete_org", &[("org", "gus"), ("confirm", "wrong")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .rpc(&root, "delete_org", &[("org", "gus"), ("confirm", "gus")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (technical,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE kind = 'technical'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(technical, 0, "the token's technical user went with it");
    let (_, orgs) = app.rpc(&root, "list_all_orgs", &[]).await;
    assert_eq!(orgs.as_array().unwrap().len(), 0);
    let (status, _) = app
        .rpc(&root, "delete_org", &[("org", "gus"), ("confirm", "gus")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn signed_out_pages_redirect_with_303_and_come_back(app: TestApp) {
    let visitor = app.client();
    let res = app.get(&visitor, "/profile/tokens").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        "/setup",
        "an empty instance is set up first"
    );

    app.setup_admin().await;
    for path in [
        "/profile",
        "/profile/tokens",
        "/admin/users",
        "/orgs/acme/settings",
    ] {
        let res = app.get(&visitor, path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            res.headers()["location"],
            format!("/sign-in?next={path}"),
            "{path}"
        );
    }
    // A plain form post from that sign-in page comes back to the page.
    let res = visitor
        .post(format!("{}/rpc/sign_in", app.base))
        .header("accept", "text/html")
        .header("referer", format!("{}/sign-in?next=/profile", app.base))
        .form(&[
            ("email", "root@example.com"),
            ("password", PASSWORD),
            ("next", "/profile"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/profile");
    assert_eq!(app.get(&visitor, "/profile").await.status(), StatusCode::OK);
}
