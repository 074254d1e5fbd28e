//! Two-factor sign-in: enrolment, the second step of signing in, replayed
//! codes, recovery codes and turning it off.

use crate::helpers::{TestApp, PASSWORD};
use crate::on_both_databases;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

on_both_databases!(
    enrolment_needs_a_code_and_hands_out_recovery_codes_once,
    sign_in_asks_for_a_code_that_works_once,
    recovery_codes_work_once_and_a_fresh_code_turns_it_off,
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
