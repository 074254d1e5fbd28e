//! The command line, run as a real process against a temporary SQLite file.

use std::io::Write;
use std::process::{Command, Stdio};

fn latchkey(
    data_dir: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn help_documents_commands_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(dir.path(), &["--help"], None);
    let help = text(&out);
    for needle in [
        "serve",
        "migrate",
        "user",
        "org",
        "demo",
        "DATABASE_URL",
        "LATCHKEY_DATA_DIR",
        "LATCHKEY_SECURE_COOKIES",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn migrate_user_create_and_org_create() {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(dir.path(), &["migrate"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("latchkey.db").exists());

    let out = latchkey(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--instance-admin",
        ],
        Some("a long enough password\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("as instance admin"));
    let out = latchkey(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
        ],
        Some("a long enough password\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    let out = latchkey(
        dir.path(),
        &["user", "create", "--email", "x@example.com", "--name", "X"],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("at least 12 characters"));

    let out = latchkey(
        dir.path(),
        &[
            "org",
            "create",
            "--name",
            "Globex",
            "--admin",
            "ops@example.com",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("globex"));
    let out = latchkey(
        dir.path(),
        &[
            "org",
            "create",
            "--name",
            "Nope",
            "--admin",
            "ghost@example.com",
        ],
        None,
    );
    assert!(!out.status.success());

    let out = latchkey(
        dir.path(),
        &["user", "disable", "--email", "ops@example.com"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Disabled ops@example.com"));
    let out = latchkey(
        dir.path(),
        &["user", "enable", "--email", "ghost@example.com"],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("No account has this email"));
}

#[test]
fn demo_loads_acme_with_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(dir.path(), &["demo"], None);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    for needle in [
        "Acme",
        "admin@acme.test",
        "olivia@acme.test",
        "gary@acme.test",
        "uma@acme.test",
        "latchkey-demo-password",
    ] {
        assert!(printed.contains(needle), "demo output lacks {needle}");
    }
    let again = latchkey(dir.path(), &["demo"], None);
    assert!(!again.status.success(), "loading twice is refused");
}

#[test]
fn a_failed_migration_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    assert!(latchkey(dir.path(), &["migrate"], None).status.success());
    // Tamper with the recorded checksum, as if the migration file had changed.
    let db = dir.path().join("latchkey.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let db = latchkey::server::db::Db::connect(&url).await.unwrap();
        sqlx::query("UPDATE _sqlx_migrations SET checksum = X'00'")
            .execute(&db.pool)
            .await
            .unwrap();
        db.pool.close().await;
    });
    let out = latchkey(dir.path(), &["serve", "--addr", "127.0.0.1:0"], None);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("database migration failed"),
        "{}",
        text(&out)
    );
}

#[test]
fn token_secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "log@example.com",
            "--name",
            "Log",
        ],
        Some("a long enough password\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = dir.path().join("server.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("LATCHKEY_DATA_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "trace")
        .env("LATCHKEY_USAGE_FLUSH_MILLIS", "100")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let secret = rt.block_on(async {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        for _ in 0..100 {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let res = client
            .post(format!("{base}/rpc/sign_in"))
            .form(&[
                ("email", "log@example.com"),
                ("password", "a long enough password"),
            ])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
        let created: serde_json::Value = client
            .post(format!("{base}/rpc/create_token"))
            .form(&[
                ("name", "logged?"),
                ("expiry", "7d"),
                ("scopes[]", "identity:read"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = created["secret"].as_str().unwrap().to_string();
        let api = reqwest::Client::new();
        let ok = api
            .get(format!("{base}/api/v1/whoami"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        api.get(format!("{base}/api/v1/whoami"))
            .header("apiToken", &secret)
            .send()
            .await
            .unwrap();
        let mut broken = secret.clone();
        broken.pop();
        api.get(format!("{base}/api/v1/whoami"))
            .bearer_auth(&broken)
            .send()
            .await
            .unwrap();
        // The copy page of the no-JavaScript path carries the secret too.
        client
            .post(format!("{base}/rpc/create_token"))
            .header("accept", "text/html")
            .form(&[
                ("name", "plain"),
                ("expiry", "7d"),
                ("scopes[]", "identity:read"),
            ])
            .send()
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        secret
    });
    let _ = server.kill();
    let _ = server.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("create_token") && log.contains("whoami"),
        "logs were not captured at trace level"
    );
    assert!(
        !log.contains(&secret[4..]),
        "a token secret reached the logs"
    );
}

/// SIGTERM to the real binary: `/readyz` fails at once while the instance
/// keeps serving through the drain delay, the last-use batch still waiting in
/// memory is written, and the process exits with 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_writes_the_last_uses_and_exits_cleanly() {
    use reqwest::StatusCode;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .env("LATCHKEY_DATA_DIR", dir.path())
        .env("LATCHKEY_ADDR", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_USAGE_FLUSH_MILLIS", "3600000")
        .env("LATCHKEY_SHUTDOWN_DRAIN_MILLIS", "1500")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary runs");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let started = Instant::now();
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(true, |r| r.status() != StatusCode::OK)
    {
        assert!(started.elapsed() < Duration::from_secs(30), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rpc = |name: &'static str, form: Vec<(&'static str, &'static str)>| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let res = client
                .post(format!("{base}/rpc/{name}"))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{name}: {}", res.status());
            res.json::<serde_json::Value>().await.unwrap_or_default()
        }
    };
    let password = "correct horse battery staple";
    rpc(
        "setup_first_admin",
        vec![
            ("email", "ops@example.com"),
            ("display_name", "Ops"),
            ("password", password),
            ("password_confirm", password),
        ],
    )
    .await;
    let created = rpc(
        "create_token",
        vec![
            ("name", "ci"),
            ("expiry", "7d"),
            ("scopes[]", "identity:read"),
        ],
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let whoami = reqwest::Client::new()
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), StatusCode::OK);

    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let signalled = Instant::now();
    loop {
        let ready = reqwest::Client::new()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("still serving while it drains");
        if ready.status() == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert!(
            signalled.elapsed() < Duration::from_millis(1000),
            "/readyz kept answering {}",
            ready.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");

    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("latchkey.db").display()
    ))
    .await
    .unwrap();
    let (last_used,): (Option<i64>,) = sqlx::query_as("SELECT last_used_at FROM access_tokens")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(last_used.is_some(), "the last use was written at shutdown");
}
