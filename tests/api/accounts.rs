use crate::helpers::{error_kind, spawn_app_with, TestApp, PASSWORD};
use crate::on_both_databases;
use reqwest::header::SET_COOKIE;
use reqwest::StatusCode;

on_both_databases!(
    first_visit_offers_setup_until_an_admin_exists,
    setup_happens_once_and_makes_an_instance_admin,
    setup_refuses_bad_input_and_echoes_it_without_the_password,
    sign_in_sets_a_hardened_cookie_and_sign_out_ends_the_session,
    session_id_is_renewed_at_sign_in,
    wrong_password_and_unknown_email_get_the_same_answer,
    repeated_failed_sign_ins_are_refused_for_a_while,
    disabled_account_cannot_sign_in_and_loses_its_session,
    passwords_are_stored_as_argon2id_hashes,
    failed_sign_ins_from_one_address_are_refused_across_accounts,
    cookies_are_secure_when_configured_for_https,
    malformed_requests_are_client_errors_not_500,
);

async fn first_visit_offers_setup_until_an_admin_exists(app: TestApp) {
    let client = app.client();
    let res = app.get(&client, "/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/setup");
    let page = app.get(&client, "/setup").await.text().await.unwrap();
    assert!(page.contains("Create admin account"), "setup form missing");

    app.setup_admin().await;
    let res = app.get(&app.client(), "/setup").await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "setup must not be offered twice"
    );
    let res = app.get(&app.client(), "/").await;
    assert_eq!(res.headers()["location"], "/sign-in");
}

async fn setup_happens_once_and_makes_an_instance_admin(app: TestApp) {
    let admin = app.setup_admin().await;
    let (_, session) = app.rpc(&admin, "get_session", &[]).await;
    assert_eq!(session["user"]["email"], "root@example.com");
    assert_eq!(session["user"]["is_instance_admin"], true);

    let (status, body) = app
        .rpc(
            &app.client(),
            "setup_first_admin",
            &[
                ("email", "mallory@example.com"),
                ("display_name", "M"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_kind(&body), "Conflict");
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(app
        .audit_actions()
        .await
        .contains(&"instance.first_admin_created".to_string()));
}

async fn setup_refuses_bad_input_and_echoes_it_without_the_password(app: TestApp) {
    let client = app.client();
    let cases: [(&str, &str, &str, &str, &str); 4] = [
        ("not-an-email", "Root", PASSWORD, PASSWORD, "email"),
        (
            "root@example.com",
            "   ",
            PASSWORD,
            PASSWORD,
            "display_name",
        ),
        ("root@example.com", "Root", "short", "short", "password"),
        (
            "root@example.com",
            "Root",
            PASSWORD,
            "something else entirely",
            "password_confirm",
        ),
    ];
    for (email, name, password, confirm, field) in cases {
        let (status, body) = app
            .rpc(
                &client,
                "setup_first_admin",
                &[
                    ("email", email),
                    ("display_name", name),
                    ("password", password),
                    ("password_confirm", confirm),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["Invalid"]["field"], field);
        assert_eq!(
            body["Invalid"]["input"]["email"], email,
            "typed email is kept"
        );
        assert!(
            !body.to_string().contains(password),
            "a password was echoed"
        );
    }
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

async fn sign_in_sets_a_hardened_cookie_and_sign_out_ends_the_session(app: TestApp) {
    app.setup_admin().await;
    app.create_person("ann@example.com", "Ann").await;
    let client = app.client();
    let res = client
        .post(format!("{}/rpc/sign_in", app.base))
        .form(&[("email", "Ann@Example.com "), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("latchkey_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");

    let (_, session) = app.rpc(&client, "get_session", &[]).await;
    assert_eq!(session["user"]["display_name"], "Ann");
    let (status, _) = app.rpc(&client, "sign_out", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, session) = app.rpc(&client, "get_session", &[]).await;
    assert!(session["user"].is_null());
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&"user.signed_in".into()) && actions.contains(&"user.signed_out".into())
    );
}

async fn session_id_is_renewed_at_sign_in(app: TestApp) {
    app.setup_admin().await;
    app.create_person("ann@example.com", "Ann").await;
    let client = app.client();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = client
            .post(format!("{}/rpc/sign_in", app.base))
            .form(&[("email", "ann@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_string();
        ids.push(cookie.split(';').next().unwrap().to_string());
    }
    assert_ne!(ids[0], ids[1], "the session id must change at sign-in");
    let (old_sessions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        old_sessions, 2,
        "setup's session and Ann's current one only"
    );
}

async fn wrong_password_and_unknown_email_get_the_same_answer(app: TestApp) {
    app.setup_admin().await;
    app.create_person("ann@example.com", "Ann").await;
    let client = app.client();
    let (s1, wrong) = app
        .rpc(
            &client,
            "sign_in",
            &[("email", "ann@example.com"), ("password", "nope nope nope")],
        )
        .await;
    let (s2, unknown) = app
        .rpc(
            &client,
            "sign_in",
            &[
                ("email", "nobody@example.com"),
                ("password", "nope nope nope"),
            ],
        )
        .await;
    assert_eq!(s1, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s2, s1);
    assert_eq!(wrong["Invalid"]["message"], unknown["Invalid"]["message"]);
    assert_eq!(
        wrong["Invalid"]["message"],
        "The email or password is not right."
    );
}

async fn repeated_failed_sign_ins_are_refused_for_a_while(app: TestApp) {
    app.setup_admin().await;
    app.create_person("ann@example.com", "Ann").await;
    let client = app.client();
    for _ in 0..5 {
        let (status, _) = app
            .rpc(
                &client,
                "sign_in",
                &[
                    ("email", "ann@example.com"),
                    ("password", "guess guess guess"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Even the right password is refused now, with a clear message.
    let (status, body) = app
        .rpc(
            &client,
            "sign_in",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let message = body["TooManyRequests"].as_str().unwrap();
    assert!(
        message.starts_with("Too many failed sign-in attempts. Try again in"),
        "{message}"
    );
    // Another account from the same address is not locked by Ann's failures yet.
    app.create_person("bob@example.com", "Bob").await;
    app.sign_in("bob@example.com").await;
}

async fn disabled_account_cannot_sign_in_and_loses_its_session(app: TestApp) {
    app.setup_admin().await;
    app.create_person("ann@example.com", "Ann").await;
    let ann = app.sign_in("ann@example.com").await;
    sqlx::query("UPDATE users SET is_disabled = 1 WHERE email = 'ann@example.com'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (_, session) = app.rpc(&ann, "get_session", &[]).await;
    assert!(
        session["user"].is_null(),
        "a disabled user's session must stop working"
    );
    let (status, _) = app
        .rpc(
            &app.client(),
            "sign_in",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn passwords_are_stored_as_argon2id_hashes(app: TestApp) {
    app.setup_admin().await;
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

async fn failed_sign_ins_from_one_address_are_refused_across_accounts(app: TestApp) {
    let app = spawn_app_with(app.backend, |c| c.max_failed_sign_ins_per_ip = 3)
        .await
        .unwrap();
    app.setup_admin().await;
    app.create_person("ann@example.com", "Ann").await;
    let client = app.client();
    for n in 0..3 {
        let email = format!("guess{n}@example.com");
        let (status, _) = app
            .rpc(
                &client,
                "sign_in",
                &[("email", &email), ("password", "guess guess guess")],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, body) = app
        .rpc(
            &client,
            "sign_in",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (failures,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE action = 'user.sign_in_failed'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(failures, 3);
}

async fn cookies_are_secure_when_configured_for_https(app: TestApp) {
    let app = spawn_app_with(app.backend, |c| c.secure_cookies = true)
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
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

async fn malformed_requests_are_client_errors_not_500(app: TestApp) {
    let admin = app.setup_admin().await;
    let (status, body) = app
        .rpc(
            &admin,
            "remove_org_member",
            &[("org", "acme"), ("user_id", "abc")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_kind(&body), "BadRequest");
    let (status, _) = app
        .rpc(&app.client(), "sign_in", &[("email", "root@example.com")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let res = admin
        .post(format!("{}/rpc/create_org", app.base))
        .form(&[("name", "x".repeat(100_000).as_str()), ("slug", "big")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
