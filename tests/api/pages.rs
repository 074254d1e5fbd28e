use crate::helpers::{TestApp, PASSWORD};
use crate::on_both_databases;
use reqwest::StatusCode;

on_both_databases!(
    health_probes_answer,
    unknown_pages_are_real_404s,
    pages_carry_security_headers_with_a_csp_nonce,
    cross_site_posts_are_refused,
    forms_work_without_javascript_and_keep_what_was_typed,
    links_cannot_inject_form_errors,
    a_form_that_went_through_says_so_once,
    unknown_organization_page_is_404,
    signed_in_pages_render_members_and_tabs,
);

async fn health_probes_answer(app: TestApp) {
    let client = app.client();
    let res = app.get(&client, "/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ok");
    let res = app.get(&client, "/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    app.db.pool.close().await;
    let res = app.get(&client, "/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}

async fn unknown_pages_are_real_404s(app: TestApp) {
    app.setup_admin().await;
    let res = app.get(&app.client(), "/no/such/page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("Page not found"));
    let res = app.get(&app.client(), "/api/v1/nothing-here").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

async fn pages_carry_security_headers_with_a_csp_nonce(app: TestApp) {
    let res = app.get(&app.client(), "/setup").await;
    let headers = res.headers().clone();
    let page = res.text().await.unwrap();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("nonce in CSP");
    assert!(
        page.contains(&format!("nonce=\"{nonce}\"")),
        "inline scripts carry the nonce"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let res = app.get(&app.client(), "/healthz").await;
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
}

async fn cross_site_posts_are_refused(app: TestApp) {
    app.setup_admin().await;
    app.create_person("ann@example.com", "Ann").await;
    let client = app.client();
    let post = |site: Option<&'static str>, origin: Option<&'static str>| {
        let mut req = client
            .post(format!("{}/rpc/sign_in", app.base))
            .form(&[("email", "ann@example.com"), ("password", PASSWORD)]);
        if let Some(site) = site {
            req = req.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.send()
    };
    assert_eq!(
        post(Some("cross-site"), None).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(None, Some("https://evil.example"))
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(Some("same-origin"), None).await.unwrap().status(),
        StatusCode::OK
    );
    let origin: &'static str = Box::leak(app.base.clone().into_boxed_str());
    assert_eq!(
        post(None, Some(origin)).await.unwrap().status(),
        StatusCode::OK
    );
}

async fn forms_work_without_javascript_and_keep_what_was_typed(app: TestApp) {
    let root = app.setup_admin().await;
    // A plain HTML form post: the browser accepts HTML and sends a Referer.
    let res = root
        .post(format!("{}/rpc/create_org", app.base))
        .header("accept", "text/html")
        .header("referer", format!("{}/", app.base))
        .form(&[("name", "Typed Name"), ("slug", "Bad Slug!")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    // The error travels in a signed cookie, not in the address.
    assert!(!location.contains("__err"), "{location}");
    assert!(!location.contains("Typed"), "{location}");
    let path = location.trim_start_matches(&app.base);
    let page = app.get(&root, path).await.text().await.unwrap();
    assert!(
        page.contains("Use 2–40 lower-case letters"),
        "error shown next to the field"
    );
    assert!(page.contains("value=\"Typed Name\""), "typed name kept");
    assert!(page.contains("aria-invalid=\"true\""));

    let res = root
        .post(format!("{}/rpc/create_org", app.base))
        .header("accept", "text/html")
        .header("referer", format!("{}/", app.base))
        .form(&[("name", "Typed Name"), ("slug", "typed")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/orgs/typed");

    // The sign-in form, whose action lives on its own page, does the same.
    let visitor = app.client();
    let res = visitor
        .post(format!("{}/rpc/sign_in", app.base))
        .header("accept", "text/html")
        .header("referer", format!("{}/sign-in", app.base))
        .form(&[
            ("email", "root@example.com"),
            ("password", "wrong wrong wrong"),
        ])
        .send()
        .await
        .unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        !location.contains("example.com/") && !location.contains("root%40"),
        "no typed email in the address: {location}"
    );
    let path = location.trim_start_matches(&app.base).to_string();
    let page = app.get(&visitor, &path).await.text().await.unwrap();
    assert!(
        page.contains("The email or password is not right."),
        "sign-in error shown"
    );
    assert!(
        page.contains("value=\"root@example.com\""),
        "typed email kept"
    );
    // Shown once: a reload is a clean form.
    let again = app.get(&visitor, &path).await.text().await.unwrap();
    assert!(!again.contains("The email or password is not right."));
}

/// A link cannot make a Latchkey page show words of its author's choosing
/// beside a field: error parameters in an address are dropped, and a forged
/// or foreign error cookie is ignored.
async fn links_cannot_inject_form_errors(app: TestApp) {
    use base64::Engine;
    app.setup_admin().await;
    let crafted = serde_json::json!({ "Invalid": {
        "field": "password",
        "message": "Your account is locked. Call +1 555 0100 to unlock it.",
        "input": {}
    }});
    let encoded = base64::engine::general_purpose::URL_SAFE.encode(crafted.to_string());
    let visitor = app.client();
    let res = app
        .get(
            &visitor,
            &format!("/sign-in?__path=%2Frpc%2Fsign_in&__err={encoded}"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/sign-in");
    assert!(!res.text().await.unwrap().contains("Call +1"));

    let forged = format!("latchkey_form_error=/rpc/sign_in|{encoded}|9999999999|00ff");
    let page = visitor
        .get(format!("{}/sign-in", app.base))
        .header("accept", "text/html")
        .header("cookie", forged)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in"), "the sign-in page");
    assert!(!page.contains("Call +1"), "forged cookie ignored");
}

/// Forms are plain posts answered with a redirect back; the page the
/// redirect lands on says which form went through, once.
async fn a_form_that_went_through_says_so_once(app: TestApp) {
    let root = app.setup_admin().await;
    let res = root
        .post(format!("{}/rpc/change_display_name", app.base))
        .header("accept", "text/html")
        .header("referer", format!("{}/profile", app.base))
        .form(&[("display_name", "Root Renamed")])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let page = app.get(&root, "/profile").await.text().await.unwrap();
    assert!(page.contains("Root Renamed"), "the change is on the page");
    assert!(page.contains("Name saved."), "and said");
    assert!(
        !page.contains("Email changed."),
        "only for the form that was posted"
    );
    let again = app.get(&root, "/profile").await.text().await.unwrap();
    assert!(!again.contains("Name saved."), "said once");

    // A refused post says nothing of the kind.
    root.post(format!("{}/rpc/change_display_name", app.base))
        .header("accept", "text/html")
        .header("referer", format!("{}/profile", app.base))
        .form(&[("display_name", "")])
        .send()
        .await
        .unwrap();
    let page = app.get(&root, "/profile").await.text().await.unwrap();
    assert!(!page.contains("Name saved."));
}

async fn unknown_organization_page_is_404(app: TestApp) {
    let root = app.setup_admin().await;
    let res = app.get(&root, "/orgs/nothing-here").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Organization not found."));
    let res = app.get(&app.client(), "/orgs/nothing-here").await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "anonymous visitors are sent to sign in"
    );
    assert_eq!(
        res.headers()["location"],
        "/sign-in?next=/orgs/nothing-here",
        "and come back afterwards"
    );
}

async fn signed_in_pages_render_members_and_tabs(app: TestApp) {
    let root = app.setup_admin().await;
    app.rpc(&root, "create_org", &[("name", "Acme"), ("slug", "acme")])
        .await;
    app.rpc(
        &root,
        "create_group",
        &[("org", "acme"), ("name", "Platform"), ("slug", "platform")],
    )
    .await;
    let page = app.get(&root, "/orgs/acme").await.text().await.unwrap();
    for text in [
        "Members",
        "Groups",
        "Access Tokens",
        "Root Admin",
        "Add a member",
    ] {
        assert!(page.contains(text), "{text} missing on the members tab");
    }
    let page = app
        .get(&root, "/orgs/acme/groups")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Platform") && page.contains("Create a group"));
    let page = app
        .get(&root, "/orgs/acme/tokens")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Organization access tokens")
            && page.contains("Create a new access token")
            && page.contains("Assign the organization admin role"),
        "the organization token tab with its create dialog"
    );
    let page = app
        .get(&root, "/orgs/acme/settings")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Allow organization access tokens"));
    let page = app
        .get(&root, "/orgs/acme/groups/platform")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Group in") && page.contains("Add to group"));
    let page = app.get(&root, "/profile").await.text().await.unwrap();
    assert!(page.contains("root@example.com"));
}

/// Instances started in the same process (as the test suite does, or an
/// embedding program) must not stall a page another instance is rendering:
/// working out the page routes once switched resource loading off
/// process-wide, and a resource first polled in that moment never finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_more_instances_start_in_the_process() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let root = app.setup_admin().await;
    app.rpc(&root, "create_org", &[("name", "Acme"), ("slug", "acme")])
        .await;
    let starting = tokio::spawn({
        let db_url = app.db_url.clone();
        async move {
            for _ in 0..30 {
                crate::helpers::start_instance(&db_url, |_| {}).await;
            }
        }
    });
    let mut pages = 0;
    while !starting.is_finished() {
        for path in ["/orgs/acme", "/orgs/acme/settings", "/profile"] {
            let page =
                tokio::time::timeout(std::time::Duration::from_secs(10), app.get(&root, path))
                    .await
                    .unwrap_or_else(|_| panic!("{path} stalled after {pages} pages"));
            assert_eq!(page.status(), StatusCode::OK, "{path}");
            pages += 1;
        }
    }
    starting.await.unwrap();
    assert!(pages > 0);
}

/// The release build writes brotli (quality 11) and gzip copies beside each
/// asset (`cargo leptos build --release --precompress`): those exact bytes
/// are sent, not the file compressed again on the fly at a lower quality.
/// A build without them (debug) still gets compressed per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_sent_as_precompressed_at_build_time() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let wasm = "latchkey.Xq3f0bRZgN1v0HcP9kYw2A.wasm";
    let plain: Vec<u8> = (0..64 * 1024).map(|i| (i % 7) as u8).collect();
    std::fs::write(pkg.join(wasm), &plain).unwrap();
    std::fs::write(pkg.join(format!("{wasm}.br")), b"brotli as built").unwrap();
    std::fs::write(pkg.join(format!("{wasm}.gz")), b"gzip as built").unwrap();
    let script = "latchkey.Ra-HEoTJCV6ZXUsq-nrBXQ.js";
    std::fs::write(pkg.join(script), "export default 1;\n".repeat(4096)).unwrap();
    let site_root = site.path().display().to_string();
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |config| {
        config.site_root = site_root;
    })
    .await
    .unwrap();
    let client = app.client();
    let fetch = |path: String, accept: &'static str| {
        let request = client.get(format!("{}{path}", app.base));
        let request = match accept {
            "" => request,
            accept => request.header(reqwest::header::ACCEPT_ENCODING, accept),
        };
        async move { request.send().await.unwrap() }
    };

    for (accept, encoding, body) in [
        ("br, gzip", "br", &b"brotli as built"[..]),
        ("gzip", "gzip", &b"gzip as built"[..]),
    ] {
        let res = fetch(format!("/pkg/{wasm}"), accept).await;
        assert_eq!(res.status(), StatusCode::OK);
        let headers = res.headers().clone();
        assert_eq!(headers["content-encoding"], encoding);
        assert_eq!(headers["content-type"], "application/wasm");
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(
            headers["vary"]
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("accept-encoding"),
            "{headers:?}"
        );
        assert_eq!(res.bytes().await.unwrap().as_ref(), body);
    }
    let res = fetch(format!("/pkg/{wasm}"), "").await;
    assert!(res.headers().get("content-encoding").is_none());
    assert_eq!(res.bytes().await.unwrap().as_ref(), plain.as_slice());

    // No copies beside the script: compressed on the fly instead.
    let res = fetch(format!("/pkg/{script}"), "br").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], "br");
    let sent = res.bytes().await.unwrap();
    assert!(sent.len() < 4096, "{} bytes", sent.len());
}
