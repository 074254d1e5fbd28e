//! Two-factor sign-in: enrolment, the second step of signing in, replayed
//! codes, recovery codes and turning it off.

use crate::helpers::{error_kind, TestApp, PASSWORD};
use crate::on_both_databases;
use crate::org_tokens::{api, ok, world};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

on_both_databases!(
    enrolment_needs_a_code_and_hands_out_recovery_codes_once,
    sign_in_asks_for_a_code_that_works_once,
    recovery_codes_work_once_and_a_fresh_code_turns_it_off,
    organizations_can_require_two_factor_sign_in,
);

/// What an authenticator app would show at `offset` seconds from now.
fn code_for(secret: &str, offset: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now + offset).to_string()
}

async fn status(app: &TestApp, client: &Client) -> Value {
    let (status, body) = app.rpc(client, "get_two_factor", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Turns two-factor sign-in on for a signed-in person; answers the secret,
/// the code used to confirm it and the recovery codes.
async fn enrol(app: &TestApp, client: &Client) -> (String, String, Vec<String>) {
    let (begun, _) = app.rpc(client, "begin_two_factor", &[]).await;
    assert_eq!(begun, StatusCode::OK);
    let secret = status_secret(&status(app, client).await);
    let code = code_for(&secret, 0);
    let (confirmed, body) = app
        .rpc(client, "confirm_two_factor", &[("code", &code)])
        .await;
    assert_eq!(confirmed, StatusCode::OK, "{body}");
    let codes = body["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, code, codes)
}

fn status_secret(status: &Value) -> String {
    status["enrolment"]["secret"]
        .as_str()
        .expect("enrolment")
        .to_string()
}

async fn signed_in(app: &TestApp, client: &Client) -> bool {
    let (_, session) = app.rpc(client, "get_session", &[]).await;
    session["user"].is_object()
}

/// Signs in with the password only; the second step is still to come.
async fn password_step(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    let (status, body) = app
        .rpc(
            &client,
            "sign_in",
            &[("email", email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !signed_in(app, &client).await,
        "not signed in before the code"
    );
    client
}

async fn enrolment_needs_a_code_and_hands_out_recovery_codes_once(app: TestApp) {
    app.setup_admin().await;
    app.create_person("tia@example.com", "Tia").await;
    let tia = app.sign_in("tia@example.com").await;
    let off = status(&app, &tia).await;
    assert_eq!(off["enabled"], false);
    assert!(off["enrolment"].is_null());
    let (status_code, _) = app
        .rpc(&tia, "confirm_two_factor", &[("code", "123456")])
        .await;
    assert_eq!(status_code, StatusCode::CONFLICT, "nothing to confirm yet");

    let (status_code, _) = app.rpc(&tia, "begin_two_factor", &[]).await;
    assert_eq!(status_code, StatusCode::OK);
    let pending = status(&app, &tia).await;
    let secret = status_secret(&pending);
    assert!(pending["enrolment"]["qr_svg"]
        .as_str()
        .unwrap()
        .starts_with("<svg"));
    assert!(pending["enrolment"]["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Latchkey:tia%40example.com?"));
    // Kept encrypted, never as the secret itself.
    let (stored,): (String,) =
        sqlx::query_as("SELECT totp_pending FROM users WHERE email = 'tia@example.com'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(!stored.contains(&secret.replace(' ', "")));

    let right = code_for(&secret, 0);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let (status_code, body) = app
        .rpc(&tia, "confirm_two_factor", &[("code", &wrong)])
        .await;
    assert_eq!(status_code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["field"], "code");
    assert_eq!(status(&app, &tia).await["enabled"], false);

    let (status_code, body) = app
        .rpc(&tia, "confirm_two_factor", &[("code", &right)])
        .await;
    assert_eq!(status_code, StatusCode::OK, "{body}");
    let codes = body["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let on = status(&app, &tia).await;
    assert_eq!(on["enabled"], true);
    assert_eq!(on["recovery_codes_left"], 10);
    assert!(on["enrolment"].is_null(), "the secret is not shown again");
    let stored: Vec<(String,)> = sqlx::query_as("SELECT digest FROM recovery_codes")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    for code in codes {
        let code = code.as_str().unwrap();
        assert!(
            stored.iter().all(|(digest,)| !digest.contains(code)),
            "digests only"
        );
    }
    let (status_code, _) = app.rpc(&tia, "begin_two_factor", &[]).await;
    assert_eq!(status_code, StatusCode::CONFLICT, "on already");
    assert!(app
        .audit_actions()
        .await
        .contains(&"user.two_factor_enabled".to_string()));
}

async fn sign_in_asks_for_a_code_that_works_once(app: TestApp) {
    app.setup_admin().await;
    app.create_person("uma@example.com", "Uma").await;
    let uma = app.sign_in("uma@example.com").await;
    let (secret, used_to_confirm, _) = enrol(&app, &uma).await;

    // No code without the password first.
    let (status_code, _) = app
        .rpc(&app.client(), "sign_in_code", &[("code", &used_to_confirm)])
        .await;
    assert_eq!(status_code, StatusCode::CONFLICT);

    let browser = password_step(&app, "uma@example.com").await;
    let (status_code, body) = app
        .rpc(&browser, "sign_in_code", &[("code", &used_to_confirm)])
        .await;
    assert_eq!(
        status_code,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a code is accepted once: {body}"
    );
    assert!(!signed_in(&app, &browser).await);

    let next = code_for(&secret, 30);
    let (status_code, body) = app
        .rpc(
            &browser,
            "sign_in_code",
            &[("code", &next), ("next", "/profile")],
        )
        .await;
    assert_eq!(status_code, StatusCode::OK, "{body}");
    assert!(signed_in(&app, &browser).await);

    // The same code in another browser, at once: refused.
    let other = password_step(&app, "uma@example.com").await;
    let (status_code, _) = app.rpc(&other, "sign_in_code", &[("code", &next)]).await;
    assert_eq!(status_code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!signed_in(&app, &other).await);
    assert_eq!(
        enrol_codes_left(&app, &uma).await,
        10,
        "no recovery code was spent"
    );
}

async fn enrol_codes_left(app: &TestApp, client: &Client) -> i64 {
    status(app, client).await["recovery_codes_left"]
        .as_i64()
        .unwrap()
}

async fn recovery_codes_work_once_and_a_fresh_code_turns_it_off(app: TestApp) {
    app.setup_admin().await;
    app.create_person("vic@example.com", "Vic").await;
    let vic = app.sign_in("vic@example.com").await;
    let (_, _, codes) = enrol(&app, &vic).await;

    let first = password_step(&app, "vic@example.com").await;
    // Typed in capitals with a space instead of the dash: still the code.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let res = first
        .post(format!("{}/rpc/sign_in_code", app.base))
        .header("accept", "text/html")
        .header("referer", format!("{}/sign-in/two-factor", app.base))
        .form(&[("code", typed.as_str()), ("next", "/profile")])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(
        res.headers()["location"],
        "/profile",
        "a plain post goes on to next"
    );
    assert!(signed_in(&app, &first).await);
    assert_eq!(enrol_codes_left(&app, &vic).await, 9);

    let second = password_step(&app, "vic@example.com").await;
    let (status_code, _) = app
        .rpc(&second, "sign_in_code", &[("code", &codes[0])])
        .await;
    assert_eq!(
        status_code,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a recovery code works once"
    );

    let (status_code, body) = app
        .rpc(&vic, "disable_two_factor", &[("code", "000000x")])
        .await;
    assert_eq!(status_code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status_code, body) = app
        .rpc(&vic, "disable_two_factor", &[("code", &codes[1])])
        .await;
    assert_eq!(status_code, StatusCode::OK, "{body}");
    assert_eq!(status(&app, &vic).await["enabled"], false);
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM recovery_codes")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    app.sign_in("vic@example.com").await;
    assert!(app
        .audit_actions()
        .await
        .contains(&"user.two_factor_disabled".to_string()));
}

async fn organizations_can_require_two_factor_sign_in(app: TestApp) {
    let w = world(&app).await;
    let require = |client: Client, on: &'static str| {
        let app = &app;
        async move {
            app.rpc(
                &client,
                "update_org_settings",
                &[
                    ("org", "acme"),
                    ("allow_org_tokens", "on"),
                    ("allow_group_tokens", "on"),
                    ("require_two_factor", on),
                ],
            )
            .await
        }
    };
    // Only an admin who has it may require it.
    let (status_code, body) = require(w.oa.clone(), "on").await;
    assert_eq!(status_code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["Invalid"]["field"], "require_two_factor");

    let personal = ok(app
        .rpc(&w.ou, "create_token", &[("name", "ci"), ("expiry", "7d")])
        .await)["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let org_token = ok(app
        .rpc(
            &w.oa,
            "create_token",
            &[("org", "acme"), ("name", "bot"), ("expiry", "7d")],
        )
        .await)["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let members_with = |token: String| {
        let app = &app;
        async move {
            api(
                app,
                Method::GET,
                "/api/v1/orgs/acme/members",
                Some(&token),
                None,
            )
            .await
            .0
        }
    };
    assert_eq!(members_with(personal.clone()).await, StatusCode::OK);

    enrol(&app, &w.oa).await;
    let settings = ok(require(w.oa.clone(), "on").await);
    assert_eq!(settings["require_two_factor"], true);
    assert_eq!(
        settings["members_without_two_factor"], 4,
        "root, ou, ga and gu"
    );
    assert!(app
        .audit_actions()
        .await
        .contains(&"org.settings_changed".to_string()));

    // A member without it is told why, on the page and in every call.
    let (status_code, body) = app.rpc(&w.ou, "list_org_members", &[("org", "acme")]).await;
    assert_eq!(status_code, StatusCode::FORBIDDEN);
    assert_eq!(error_kind(&body), "TwoFactorRequired");
    // Said before anything about their role, which would not help them.
    let (status_code, body) = app.rpc(&w.ou, "list_org_audit", &[("org", "acme")]).await;
    assert_eq!(status_code, StatusCode::FORBIDDEN);
    assert_eq!(error_kind(&body), "TwoFactorRequired");
    let page = app.get(&w.ou, "/orgs/acme/groups/platform").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Two-factor sign-in required"));
    let (_, mine) = app.rpc(&w.ou, "list_my_orgs", &[]).await;
    assert_eq!(mine[0]["needs_your_two_factor"], true);
    // Anyone else still learns nothing about the organization.
    let (status_code, _) = app
        .rpc(&w.outsider, "list_org_members", &[("org", "acme")])
        .await;
    assert_eq!(status_code, StatusCode::NOT_FOUND);

    // Their personal token stops acting there; the organization's own token does not.
    assert_eq!(members_with(personal.clone()).await, StatusCode::NOT_FOUND);
    let (_, whoami) = api(&app, Method::GET, "/api/v1/whoami", Some(&personal), None).await;
    assert_eq!(whoami["organizations"], json!([]));
    assert_eq!(members_with(org_token.clone()).await, StatusCode::OK);

    // Admins see who has it; technical users have no such thing.
    let members = ok(app.rpc(&w.oa, "list_org_members", &[("org", "acme")]).await);
    let of = |email: &str| {
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .unwrap()["two_factor"]
            .clone()
    };
    assert_eq!(of("oa@example.com"), true);
    assert_eq!(of("ou@example.com"), false);
    let technical = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["technical"] == true)
        .unwrap();
    assert!(technical.get("two_factor").is_none(), "{technical}");

    // Turning it on lets them back in at once, person and token alike.
    let (_, _, recovery_codes) = enrol(&app, &w.ou).await;
    let members = ok(app.rpc(&w.ou, "list_org_members", &[("org", "acme")]).await);
    assert!(
        members[0].get("two_factor").is_none(),
        "members do not see it"
    );
    assert_eq!(members_with(personal.clone()).await, StatusCode::OK);

    // Turning it off again shuts them out again.
    ok(app
        .rpc(
            &w.ou,
            "disable_two_factor",
            &[("code", recovery_codes[0].as_str())],
        )
        .await);
    assert_eq!(members_with(personal).await, StatusCode::NOT_FOUND);
    let (status_code, _) = app.rpc(&w.ou, "list_org_members", &[("org", "acme")]).await;
    assert_eq!(status_code, StatusCode::FORBIDDEN);
}
