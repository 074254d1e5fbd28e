//! The OAuth 2.1 authorization server, driven by a real, unmodified client
//! library (`oauth2`, pinned) through discovery, and every refusal.

use crate::helpers::TestApp;
use crate::on_both_databases;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, TokenResponse, TokenUrl,
};
use reqwest::{header, Client, StatusCode};
use serde_json::Value;

on_both_databases!(
    a_standard_client_runs_the_whole_flow,
    refresh_tokens_rotate_and_reuse_ends_the_family,
    every_authorization_refusal,
    every_token_endpoint_refusal,
    revoked_access_and_forbidding_organizations_stop_tokens,
    owners_manage_their_apps_and_nobody_else_can,
    a_code_exchanged_twice_at_once_issues_tokens_once,
    resource_servers_introspect_with_client_credentials,
    dynamic_registration_is_off_by_default,
    organizations_own_apps_and_stop_others,
    editing_an_app_narrows_what_its_tokens_may_do,
    a_second_instance_follows_revocations_and_racing_refreshes,
);

/// With dynamic client registration on: a public client registers itself and
/// runs the flow with PKCE alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_registration_makes_unverified_public_clients() {
    for backend in [
        crate::helpers::Backend::Sqlite,
        crate::helpers::Backend::Postgres,
    ] {
        let Some(app) = crate::helpers::spawn_app_with(backend, |config| {
            config.oauth_dynamic_registration = true;
        })
        .await
        else {
            crate::helpers::postgres_skipped(
                "dynamic_registration_makes_unverified_public_clients",
            );
            continue;
        };
        dynamic_registration(app).await;
    }
}

const REDIRECT: &str = "http://127.0.0.1/callback";

type Oauth = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

struct Flow {
    person: Client,
    client_id: String,
    secret: String,
    oauth: Oauth,
    http: Client,
}

fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A person (member of acme) and a confidential app they registered, with an
/// `oauth2` client configured from the discovery document.
async fn flow(app: &TestApp) -> Flow {
    let admin = app.setup_admin().await;
    let (status, _) = app
        .rpc(&admin, "create_org", &[("name", "Acme"), ("slug", "acme")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let person = admin;
    let (status, body) = app
        .rpc(
            &person,
            "register_app",
            &[
                ("name", "Deploy Dashboard"),
                ("redirect_uris", REDIRECT),
                ("client_type", "confidential"),
                ("scopes[]", "identity:read"),
                ("scopes[]", "orgs:read"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let client_id = body["client_id"].as_str().unwrap().to_string();
    let secret = body["client_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("lks_"));

    let meta: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], app.base);
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    let oauth = BasicClient::new(ClientId::new(client_id.clone()))
        .set_client_secret(ClientSecret::new(secret.clone()))
        .set_auth_uri(
            AuthUrl::new(meta["authorization_endpoint"].as_str().unwrap().into()).unwrap(),
        )
        .set_token_uri(TokenUrl::new(meta["token_endpoint"].as_str().unwrap().into()).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    Flow {
        person,
        client_id,
        secret,
        oauth,
        http: http(),
    }
}

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// The authorization URL the library builds, with PKCE and state.
fn authorization_url(flow: &Flow, scopes: &[&str]) -> (String, CsrfToken, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = flow
        .oauth
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(Scope::new(scope.to_string()));
    }
    let (url, state) = request.url();
    (url.to_string(), state, verifier)
}

/// Opens the authorization URL as the signed-in person and answers the
/// consent page; returns where the browser is sent.
async fn consent(flow: &Flow, url: &str, decision: &str, extra: &[(&str, &str)]) -> String {
    let page = flow.person.get(url).send().await.unwrap();
    if page.status() == StatusCode::SEE_OTHER && decision == "approve" {
        // Consent given before covers this request: straight back with a code.
        return page.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
    }
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("Authorize Deploy Dashboard"), "{html}");
    let mut form = query(url);
    form.push(("decision".into(), decision.into()));
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let origin = url::Url::parse(url).unwrap().origin().ascii_serialization();
    let answer = flow
        .person
        .post(url.split('?').next().unwrap())
        .header(header::ORIGIN, origin)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    answer.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string()
}

async fn whoami(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let res = http()
        .get(format!("{}/api/v1/whoami", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// Approves and exchanges: the library's token response.
async fn authorized(
    app: &TestApp,
    flow: &Flow,
    scopes: &[&str],
) -> oauth2::basic::BasicTokenResponse {
    let (url, state, verifier) = authorization_url(flow, scopes);
    let back = consent(flow, &url, "approve", &[]).await;
    let pairs = query(&back);
    assert!(back.starts_with(REDIRECT));
    assert_eq!(
        param(&pairs, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(param(&pairs, "iss").as_deref(), Some(app.base.as_str()));
    let code = param(&pairs, "code").unwrap();
    flow.oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&flow.http)
        .await
        .expect("the code exchanges")
}

async fn a_standard_client_runs_the_whole_flow(app: TestApp) {
    let flow = flow(&app).await;
    let tokens = authorized(&app, &flow, &["identity:read", "orgs:read"]).await;
    let access = tokens.access_token().secret().clone();
    assert!(access.starts_with("lka_"));
    assert!(tokens.refresh_token().unwrap().secret().starts_with("lkr_"));
    assert_eq!(
        tokens.expires_in(),
        Some(std::time::Duration::from_secs(3600))
    );

    let (status, me) = whoami(&app, &access).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["token"]["kind"], "oauth");
    assert_eq!(me["token"]["name"], "Deploy Dashboard");
    let members = http()
        .get(format!("{}/api/v1/orgs/acme/members", app.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(members.status(), StatusCode::OK);

    // It has no token record of its own to read, rotate or revoke.
    let own = http()
        .get(format!("{}/api/v1/tokens/self", app.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::CONFLICT);
    // A browser-based client may call the token endpoint from its own origin.
    let preflight = http()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/oauth/token", app.base),
        )
        .header(header::ORIGIN, "https://spa.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let cross_site = http()
        .post(format!("{}/oauth/token", app.base))
        .header(header::ORIGIN, "https://spa.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "lkr_x"),
            ("client_id", "app_x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        cross_site.status(),
        StatusCode::UNAUTHORIZED,
        "the client is checked, not refused as cross-site"
    );

    // Introspection names the app and the granted scopes.
    let admin_token = crate::org_tokens::ok(
        app.rpc(
            &flow.person,
            "create_token",
            &[("name", "introspector"), ("expiry", "7d")],
        )
        .await,
    )["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let answer: Value = http()
        .post(format!("{}/oauth/introspect", app.base))
        .bearer_auth(&admin_token)
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], flow.client_id);
    assert_eq!(answer["scope"], "identity:read orgs:read");
    // A refresh token is introspected too (RFC 7662 §2.1), but is no bearer token.
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let about_refresh: Value = http()
        .post(format!("{}/oauth/introspect", app.base))
        .bearer_auth(&admin_token)
        .form(&[
            ("token", refresh.as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(about_refresh["active"], true, "{about_refresh}");
    assert_eq!(about_refresh["token_type"], "refresh_token");
    assert_eq!(whoami(&app, &refresh).await.0, StatusCode::UNAUTHORIZED);

    // Consent is remembered: the same request goes straight back with a code.
    let (url, _, _) = authorization_url(&flow, &["identity:read"]);
    let again = flow.person.get(&url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let location = again.headers()[header::LOCATION].to_str().unwrap();
    assert!(param(&query(location), "code").is_some());

    // Apps and Connections lists it; RFC 7009 ends the access token.
    let (_, connections) = app.rpc(&flow.person, "list_connections", &[]).await;
    assert_eq!(connections[0]["app_name"], "Deploy Dashboard");
    let revoked = http()
        .post(format!("{}/oauth/revoke", app.base))
        .form(&[
            ("token", access.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(whoami(&app, &access).await.0, StatusCode::UNAUTHORIZED);
    let _ = &flow.secret;
}

async fn refresh_tokens_rotate_and_reuse_ends_the_family(app: TestApp) {
    let flow = flow(&app).await;
    let first = authorized(&app, &flow, &["identity:read"]).await;
    let refresh = |token: &RefreshToken| {
        let token = token.clone();
        let flow = &flow;
        async move {
            flow.oauth
                .exchange_refresh_token(&token)
                .request_async(&flow.http)
                .await
        }
    };
    let a = first.refresh_token().unwrap().clone();
    let second = refresh(&a).await.expect("refresh works");
    let b = second.refresh_token().unwrap().clone();
    assert_ne!(a.secret(), b.secret());
    assert_eq!(
        whoami(&app, second.access_token().secret()).await.0,
        StatusCode::OK
    );

    // A lost answer: the spent token, again within the grace period, gets a
    // new pair, and the successor it had is withdrawn.
    let third = refresh(&a).await.expect("reuse within the grace period");
    assert!(
        refresh(&b).await.is_err(),
        "the withdrawn successor is refused"
    );
    let c = third.refresh_token().unwrap().clone();

    // Used again after the grace period: the whole family ends.
    let fourth = refresh(&c).await.expect("refresh works");
    sqlx::query("UPDATE oauth_tokens SET used_at = used_at - 600 WHERE used_at IS NOT NULL")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let reuse = http()
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(&flow.client_id, Some(&flow.secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", c.secret().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reuse.status(), StatusCode::BAD_REQUEST);
    let body: Value = reuse.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        whoami(&app, fourth.access_token().secret()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(refresh(fourth.refresh_token().unwrap()).await.is_err());

    // A day after the family ended, its rows go; the live ones stay.
    latchkey::apps::server::prune(&app.db).await.unwrap();
    let left: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oauth_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(left.0 > 0, "revoked less than a day ago: kept");
    sqlx::query("UPDATE oauth_sessions SET revoked_at = revoked_at - 90000")
        .execute(&app.db.pool)
        .await
        .unwrap();
    latchkey::apps::server::prune(&app.db).await.unwrap();
    let left: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oauth_tokens")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(left.0, 0);
}

async fn every_authorization_refusal(app: TestApp) {
    let flow = flow(&app).await;
    let (url, _, _) = authorization_url(&flow, &["identity:read"]);
    let base = url::Url::parse(&url).unwrap();
    let with = |changes: &[(&str, Option<&str>)]| {
        let mut pairs = query(&url);
        for (name, value) in changes {
            pairs.retain(|(k, _)| k != name);
            if let Some(value) = value {
                pairs.push((name.to_string(), value.to_string()));
            }
        }
        let mut u = base.clone();
        u.query_pairs_mut().clear().extend_pairs(&pairs);
        u.to_string()
    };
    // Unknown client and unregistered redirect URI: an error page, never a redirect.
    for changed in [
        with(&[("client_id", Some("app_unknown"))]),
        with(&[("redirect_uri", Some("https://evil.example/callback"))]),
        with(&[("redirect_uri", Some("http://127.0.0.1/other"))]),
    ] {
        let res = flow.person.get(&changed).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{changed}");
        assert!(res.headers().get(header::LOCATION).is_none());
    }
    // A loopback redirect URI may name any port (RFC 8252 §7.3).
    let any_port = with(&[("redirect_uri", Some("http://127.0.0.1:49152/callback"))]);
    assert_eq!(
        flow.person.get(&any_port).send().await.unwrap().status(),
        StatusCode::OK
    );
    // Errors the client can be told go back to it, with state and iss.
    for (changes, error) in [
        (
            vec![("code_challenge", None), ("code_challenge_method", None)],
            "invalid_request",
        ),
        (
            vec![("code_challenge_method", Some("plain"))],
            "invalid_request",
        ),
        (
            vec![("scope", Some("identity:read tokens:manage"))],
            "invalid_scope",
        ),
        (
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
        ),
    ] {
        let res = flow.person.get(with(&changes)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{changes:?}");
        let pairs = query(res.headers()[header::LOCATION].to_str().unwrap());
        assert_eq!(
            param(&pairs, "error").as_deref(),
            Some(error),
            "{changes:?}"
        );
        assert!(param(&pairs, "state").is_some());
        assert_eq!(param(&pairs, "iss").as_deref(), Some(app.base.as_str()));
    }
    // Deny.
    let back = consent(&flow, &url, "deny", &[]).await;
    assert_eq!(
        param(&query(&back), "error").as_deref(),
        Some("access_denied")
    );
    // A cross-site post to the consent form is refused.
    let mut form = query(&url);
    form.push(("decision".into(), "approve".into()));
    let forged = flow
        .person
        .post(format!("{}/oauth/authorize", app.base))
        .header(header::ORIGIN, "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Signed out: sign in first, then come back.
    let stranger = app.client();
    let res = stranger.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(to.starts_with("/sign-in?next=%2Foauth%2Fauthorize"), "{to}");
    let next = param(&query(&format!("{}{to}", app.base)), "next").unwrap();
    let signed = stranger
        .post(format!("{}/rpc/sign_in", app.base))
        .header(header::ACCEPT, "text/html")
        .form(&[
            ("email", "root@example.com"),
            ("password", crate::helpers::PASSWORD),
            ("next", next.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(signed.status().is_redirection(), "{}", signed.status());
    assert_eq!(signed.headers()[header::LOCATION].to_str().unwrap(), next);
}

async fn every_token_endpoint_refusal(app: TestApp) {
    let flow = flow(&app).await;
    let token = |form: Vec<(&'static str, String)>, secret: Option<String>| {
        let mut request = http().post(format!("{}/oauth/token", app.base));
        if let Some(secret) = secret {
            request = request.basic_auth(&flow.client_id, Some(secret));
        }
        async move {
            let res = request.form(&form).send().await.unwrap();
            let status = res.status();
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let code_for = |verifier_out: &mut Option<PkceCodeVerifier>| {
        let (url, _, verifier) = authorization_url(&flow, &["identity:read"]);
        *verifier_out = Some(verifier);
        url
    };
    let mut verifier = None;
    let url = code_for(&mut verifier);
    let back = consent(&flow, &url, "approve", &[]).await;
    let code = param(&query(&back), "code").unwrap();
    let verifier = verifier.unwrap().secret().clone();
    let exchange = |code: &str, verifier: &str, redirect: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("code_verifier", verifier.to_string()),
            ("redirect_uri", redirect.to_string()),
        ]
    };
    // Wrong secret: 401 invalid_client with a Basic challenge.
    let (status, body) = token(
        exchange(&code, &verifier, REDIRECT),
        Some("lks_wrong".into()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // A wrong verifier spends the code.
    let wrong = "x".repeat(43);
    let (status, body) = token(exchange(&code, &wrong, REDIRECT), Some(flow.secret.clone())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = token(
        exchange(&code, &verifier, REDIRECT),
        Some(flow.secret.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a spent code stays spent");

    // Redirect URI mismatch.
    let mut v2 = None;
    let url = code_for(&mut v2);
    let code = param(&query(&consent(&flow, &url, "approve", &[]).await), "code").unwrap();
    let v2 = v2.unwrap().secret().clone();
    let (status, body) = token(
        exchange(&code, &v2, "http://127.0.0.1/other"),
        Some(flow.secret.clone()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Code reuse revokes what the first exchange issued.
    let mut v3 = None;
    let url = code_for(&mut v3);
    let code = param(&query(&consent(&flow, &url, "approve", &[]).await), "code").unwrap();
    let v3 = v3.unwrap().secret().clone();
    let (status, first) = token(exchange(&code, &v3, REDIRECT), Some(flow.secret.clone())).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let access = first["access_token"].as_str().unwrap().to_string();
    assert_eq!(whoami(&app, &access).await.0, StatusCode::OK);
    let (status, _) = token(exchange(&code, &v3, REDIRECT), Some(flow.secret.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(whoami(&app, &access).await.0, StatusCode::UNAUTHORIZED);

    // An expired code.
    let mut v4 = None;
    let url = code_for(&mut v4);
    let code = param(&query(&consent(&flow, &url, "approve", &[]).await), "code").unwrap();
    sqlx::query("UPDATE oauth_codes SET expires_at = 0 WHERE used_at IS NULL")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, body) = token(
        exchange(&code, v4.unwrap().secret(), REDIRECT),
        Some(flow.secret.clone()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Unknown grant type; missing parameters.
    let (status, body) = token(
        vec![("grant_type", "password".into())],
        Some(flow.secret.clone()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (status, body) = token(
        vec![("grant_type", "authorization_code".into())],
        Some(flow.secret.clone()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // A confidential client without its secret.
    let (status, body) = token(
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", "lkr_x".into()),
            ("client_id", flow.client_id.clone()),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}

async fn revoked_access_and_forbidding_organizations_stop_tokens(app: TestApp) {
    let flow = flow(&app).await;
    let tokens = authorized(&app, &flow, &["identity:read", "orgs:read"]).await;
    let access = tokens.access_token().secret().clone();
    let members = || {
        http()
            .get(format!("{}/api/v1/orgs/acme/members", app.base))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(members().await.unwrap().status(), StatusCode::OK);
    // The organization stops letting applications act in it: as if not a member.
    let (status, settings) = app
        .rpc(
            &flow.person,
            "update_org_settings",
            &[
                ("org", "acme"),
                ("allow_org_tokens", "on"),
                ("allow_group_tokens", "on"),
                ("allow_non_expiring_tokens", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["allow_oauth_apps"], false);
    assert_eq!(members().await.unwrap().status(), StatusCode::NOT_FOUND);
    let (_, me) = whoami(&app, &access).await;
    assert_eq!(me["organizations"], serde_json::json!([]));

    // "Revoke access": every token of the grant ends at once.
    let (_, connections) = app.rpc(&flow.person, "list_connections", &[]).await;
    let grant = connections[0]["grant_id"].to_string();
    let stranger_email = "mallory@example.com";
    app.create_person(stranger_email, "Mallory").await;
    let mallory = app.sign_in(stranger_email).await;
    let (status, _) = app
        .rpc(&mallory, "revoke_connection", &[("grant_id", &grant)])
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another person's grant is not found"
    );
    let (status, body) = app
        .rpc(&flow.person, "revoke_connection", &[("grant_id", &grant)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(whoami(&app, &access).await.0, StatusCode::UNAUTHORIZED);
    assert!(flow
        .oauth
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&flow.http)
        .await
        .is_err());
    assert!(app
        .audit_actions()
        .await
        .contains(&"app.access_revoked".to_string()));
}

async fn owners_manage_their_apps_and_nobody_else_can(app: TestApp) {
    let flow = flow(&app).await;
    // Registration refuses what it must, keeping what was typed.
    for (uris, scopes, field) in [
        ("http://app.example.com/cb", "identity:read", "plain http"),
        ("https://app.example.com/cb#x", "identity:read", "fragment"),
        ("https://app.example.com/cb", "tokens:manage", "not a scope"),
    ] {
        let (status, body) = app
            .rpc(
                &flow.person,
                "register_app",
                &[
                    ("name", "Bad"),
                    ("redirect_uris", uris),
                    ("scopes[]", scopes),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        let text = body.to_string();
        assert!(
            text.contains(uris) || text.contains("scope"),
            "{field}: {text}"
        );
    }
    let (status, _) = app
        .rpc(
            &flow.person,
            "register_app",
            &[("name", "No scopes"), ("redirect_uris", REDIRECT)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, apps) = app.rpc(&flow.person, "list_my_apps", &[]).await;
    assert_eq!(apps.as_array().unwrap().len(), 1);
    assert_eq!(apps[0]["client_id"], flow.client_id);
    assert!(
        !apps.to_string().contains(&flow.secret),
        "the secret is never listed"
    );
    let stored: (String,) = sqlx::query_as("SELECT secret_digest FROM oauth_clients")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_ne!(stored.0, flow.secret);

    // Someone else's app is not found, whatever they try.
    app.create_person("eve@example.com", "Eve").await;
    let eve = app.sign_in("eve@example.com").await;
    for (name, form) in [
        (
            "rotate_app_secret",
            vec![("client_id", flow.client_id.as_str())],
        ),
        (
            "set_app_disabled",
            vec![("client_id", flow.client_id.as_str()), ("disabled", "true")],
        ),
        ("delete_app", vec![("client_id", flow.client_id.as_str())]),
    ] {
        let (status, _) = app.rpc(&eve, name, &form).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    }
    let (_, eves) = app.rpc(&eve, "list_my_apps", &[]).await;
    assert_eq!(eves, serde_json::json!([]));

    // A new secret: the old one stops working.
    let tokens = authorized(&app, &flow, &["identity:read"]).await;
    let (status, rotated) = app
        .rpc(
            &flow.person,
            "rotate_app_secret",
            &[("client_id", &flow.client_id)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, flow.secret);
    assert!(flow
        .oauth
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&flow.http)
        .await
        .is_err());
    let renewed = flow
        .oauth
        .clone()
        .set_client_secret(ClientSecret::new(new_secret))
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&flow.http)
        .await
        .expect("the new secret works");
    let access = renewed.access_token().secret().clone();
    assert_eq!(whoami(&app, &access).await.0, StatusCode::OK);

    // Disabled: its tokens are refused and it cannot start an authorization.
    let (status, _) = app
        .rpc(
            &flow.person,
            "set_app_disabled",
            &[("client_id", &flow.client_id), ("disabled", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami(&app, &access).await.0, StatusCode::UNAUTHORIZED);
    let (url, _, _) = authorization_url(&flow, &["identity:read"]);
    assert_eq!(
        flow.person.get(&url).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let (status, _) = app
        .rpc(
            &flow.person,
            "set_app_disabled",
            &[("client_id", &flow.client_id), ("disabled", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami(&app, &access).await.0, StatusCode::OK);

    // Deleted: everything it held is gone.
    let (status, _) = app
        .rpc(
            &flow.person,
            "delete_app",
            &[("client_id", &flow.client_id)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami(&app, &access).await.0, StatusCode::UNAUTHORIZED);
    let (_, connections) = app.rpc(&flow.person, "list_connections", &[]).await;
    assert_eq!(connections, serde_json::json!([]));
    let actions = app.audit_actions().await;
    for action in [
        "app.registered",
        "app.secret_rotated",
        "app.disabled",
        "app.enabled",
        "app.deleted",
    ] {
        assert!(actions.contains(&action.to_string()), "{action}");
    }
}

async fn a_code_exchanged_twice_at_once_issues_tokens_once(app: TestApp) {
    let flow = flow(&app).await;
    let (url, _, verifier) = authorization_url(&flow, &["identity:read"]);
    let back = consent(&flow, &url, "approve", &[]).await;
    let code = param(&query(&back), "code").unwrap();
    let verifier = verifier.secret().clone();
    let exchange = || {
        http()
            .post(format!("{}/oauth/token", app.base))
            .basic_auth(&flow.client_id, Some(&flow.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", verifier.as_str()),
                ("redirect_uri", REDIRECT),
            ])
            .send()
    };
    let answers = futures_join(exchange(), exchange()).await;
    let ok = answers
        .iter()
        .filter(|status| **status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{answers:?}");
    let families: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oauth_sessions")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(families.0, 1);
}

async fn futures_join(
    a: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
    b: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
) -> Vec<StatusCode> {
    let (a, b) = tokio::join!(a, b);
    vec![a.unwrap().status(), b.unwrap().status()]
}

async fn resource_servers_introspect_with_client_credentials(app: TestApp) {
    let flow = flow(&app).await;
    let tokens = authorized(&app, &flow, &["identity:read"]).await;
    let access = tokens.access_token().secret().clone();
    let introspect = |secret: &str| {
        http()
            .post(format!("{}/oauth/introspect", app.base))
            .basic_auth(&flow.client_id, Some(secret))
            .form(&[("token", access.as_str())])
            .send()
    };
    // Not allowed yet: 401 invalid_client, as for a wrong secret.
    let refused = introspect(&flow.secret).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    // Only an instance admin allows it.
    app.create_person("ed@example.com", "Ed").await;
    let ed = app.sign_in("ed@example.com").await;
    let (status, _) = app
        .rpc(
            &ed,
            "set_app_introspection",
            &[("client_id", &flow.client_id), ("allowed", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .rpc(
            &flow.person,
            "set_app_introspection",
            &[("client_id", &flow.client_id), ("allowed", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, all) = app.rpc(&flow.person, "list_all_apps", &[]).await;
    assert_eq!(all[0]["may_introspect"], true);
    let answer: Value = introspect(&flow.secret)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["scope"], "identity:read");
    // A personal token is visible too; a wrong secret is not let in.
    assert_eq!(
        introspect("lks_wrong").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // It can do nothing else with its credentials.
    let whoami = http()
        .get(format!("{}/api/v1/whoami", app.base))
        .basic_auth(&flow.client_id, Some(&flow.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), StatusCode::UNAUTHORIZED);
}

async fn dynamic_registration_is_off_by_default(app: TestApp) {
    let res = http()
        .post(format!("{}/oauth/register", app.base))
        .json(&serde_json::json!({ "redirect_uris": [REDIRECT] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let meta: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(meta.get("registration_endpoint").is_none());
}

async fn dynamic_registration(app: TestApp) {
    let admin = app.setup_admin().await;
    let meta: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint = meta["registration_endpoint"].as_str().unwrap().to_string();
    let register = |body: Value| {
        http()
            .post(&endpoint)
            // A browser-based client registers from its own origin.
            .header(header::ORIGIN, "https://mcp-client.example")
            .json(&body)
            .send()
    };
    let refused = register(serde_json::json!({ "redirect_uris": ["http://example.com/cb"] }))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_redirect_uri"
    );
    let confidential = register(serde_json::json!({
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"
    }))
    .await
    .unwrap();
    assert_eq!(confidential.status(), StatusCode::BAD_REQUEST);
    let created = register(serde_json::json!({
        "redirect_uris": [REDIRECT], "client_name": "Agent", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "scope": "identity:read"
    }))
    .await
    .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_string();
    assert!(created.get("client_secret").is_none());

    // A public client: PKCE, no secret, and an unverified warning on consent.
    let oauth = BasicClient::new(ClientId::new(client_id.clone()))
        .set_auth_uri(
            AuthUrl::new(meta["authorization_endpoint"].as_str().unwrap().into()).unwrap(),
        )
        .set_token_uri(TokenUrl::new(meta["token_endpoint"].as_str().unwrap().into()).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
        .set_auth_type(oauth2::AuthType::RequestBody);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("identity:read".into()))
        .set_pkce_challenge(challenge)
        .url();
    let page = admin
        .get(url.as_str())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("registered itself"), "{page}");
    let mut form = query(url.as_str());
    form.push(("decision".into(), "approve".into()));
    let back = admin
        .post(format!("{}/oauth/authorize", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    let code = param(
        &query(back.headers()[header::LOCATION].to_str().unwrap()),
        "code",
    )
    .unwrap();
    let tokens = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .expect("a public client exchanges with PKCE alone");
    assert_eq!(
        whoami(&app, tokens.access_token().secret()).await.0,
        StatusCode::OK
    );
}

async fn organizations_own_apps_and_stop_others(app: TestApp) {
    let world = crate::org_tokens::world(&app).await;
    let register = |client: &Client, org: &'static str| {
        let client = client.clone();
        let app = &app;
        async move {
            app.rpc(
                &client,
                "register_app",
                &[
                    ("org", org),
                    ("name", "Acme Portal"),
                    ("redirect_uris", REDIRECT),
                    ("scopes[]", "identity:read"),
                    ("scopes[]", "orgs:read"),
                ],
            )
            .await
        }
    };
    // A plain member cannot register for the organization; an admin can.
    let (status, _) = register(&world.ou, "acme").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, issued) = register(&world.oa, "acme").await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["manage_at"], "/orgs/acme/apps");
    let client_id = issued["client_id"].as_str().unwrap().to_string();
    let secret = issued["client_secret"].as_str().unwrap().to_string();
    // Listed for the organization, not as the admin's own; another admin
    // (root is one) manages it, a plain member does not even see it.
    let (_, listed) = app.rpc(&world.oa, "list_my_apps", &[("org", "acme")]).await;
    assert_eq!(listed[0]["client_id"], client_id);
    let (_, own) = app.rpc(&world.oa, "list_my_apps", &[]).await;
    assert_eq!(own, serde_json::json!([]));
    let (status, _) = app.rpc(&world.ou, "list_my_apps", &[("org", "acme")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .rpc(&world.ou, "rotate_app_secret", &[("client_id", &client_id)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, rotated) = app
        .rpc(
            &world.root,
            "rotate_app_secret",
            &[("client_id", &client_id)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let secret = rotated["client_secret"]
        .as_str()
        .map(str::to_string)
        .unwrap_or(secret);

    // A member authorizes it; the consent page names the organization as owner.
    let meta: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flow = Flow {
        person: world.ou.clone(),
        client_id: client_id.clone(),
        secret: secret.clone(),
        oauth: BasicClient::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(secret))
            .set_auth_uri(
                AuthUrl::new(meta["authorization_endpoint"].as_str().unwrap().into()).unwrap(),
            )
            .set_token_uri(TokenUrl::new(meta["token_endpoint"].as_str().unwrap().into()).unwrap())
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap()),
        http: http(),
    };
    let (url, _, verifier) = authorization_url(&flow, &["identity:read", "orgs:read"]);
    let page = flow
        .person
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("registered by Acme"), "{page}");
    let mut form = query(&url);
    form.push(("decision".into(), "approve".into()));
    let back = flow
        .person
        .post(format!("{}/oauth/authorize", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    let code = param(
        &query(back.headers()[header::LOCATION].to_str().unwrap()),
        "code",
    )
    .unwrap();
    let tokens = flow
        .oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&flow.http)
        .await
        .unwrap();
    let access = tokens.access_token().secret().clone();
    let members = || {
        http()
            .get(format!("{}/api/v1/orgs/acme/members", app.base))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(members().await.unwrap().status(), StatusCode::OK);

    // The organization's admins see it act there and stop it, for everyone.
    let (_, used) = app
        .rpc(&world.oa, "list_org_app_use", &[("org", "acme")])
        .await;
    assert_eq!(used[0]["client_id"], client_id);
    assert_eq!(used[0]["people"], 1);
    let (status, _) = app
        .rpc(
            &world.ou,
            "set_app_blocked_in_org",
            &[
                ("org", "acme"),
                ("client_id", &client_id),
                ("blocked", "true"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .rpc(
            &world.oa,
            "set_app_blocked_in_org",
            &[
                ("org", "acme"),
                ("client_id", &client_id),
                ("blocked", "true"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(members().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(
        whoami(&app, &access).await.0,
        StatusCode::OK,
        "it still acts as the person elsewhere"
    );
    let (_, used) = app
        .rpc(&world.oa, "list_org_app_use", &[("org", "acme")])
        .await;
    assert_eq!(used[0]["blocked"], true);
    let (status, _) = app
        .rpc(
            &world.oa,
            "set_app_blocked_in_org",
            &[
                ("org", "acme"),
                ("client_id", &client_id),
                ("blocked", "false"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(members().await.unwrap().status(), StatusCode::OK);
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"app.blocked_in_org".to_string()));
}

async fn editing_an_app_narrows_what_its_tokens_may_do(app: TestApp) {
    let flow = flow(&app).await;
    let tokens = authorized(&app, &flow, &["identity:read", "orgs:read"]).await;
    let access = tokens.access_token().secret().clone();
    let members = || {
        http()
            .get(format!("{}/api/v1/orgs/acme/members", app.base))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(members().await.unwrap().status(), StatusCode::OK);
    let edit = |client: Client, uris: &'static str| {
        let app = &app;
        let client_id = flow.client_id.clone();
        async move {
            app.rpc(
                &client,
                "update_app",
                &[
                    ("client_id", client_id.as_str()),
                    ("name", "Deploy Board"),
                    ("redirect_uris", uris),
                    ("scopes[]", "identity:read"),
                ],
            )
            .await
        }
    };
    // Nobody else edits it; a bad redirect URI changes nothing.
    app.create_person("eve@example.com", "Eve").await;
    let eve = app.sign_in("eve@example.com").await;
    assert_eq!(edit(eve, REDIRECT).await.0, StatusCode::NOT_FOUND);
    let (status, body) = edit(flow.person.clone(), "http://evil.example/cb").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["Invalid"]["input"]["client_id"], flow.client_id);
    assert_eq!(members().await.unwrap().status(), StatusCode::OK);
    // Taking orgs:read away takes it from the tokens already issued.
    let (status, body) = edit(flow.person.clone(), REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = members().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("orgs:read"));
    let (status, me) = whoami(&app, &access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["token"]["name"], "Deploy Board");
    let (_, apps) = app.rpc(&flow.person, "list_my_apps", &[]).await;
    assert_eq!(apps[0]["scopes"], serde_json::json!(["identity:read"]));
}

/// An OAuth access token that `person` granted an app they registered, made
/// with plain HTTP (for other test files).
pub async fn access_token_of(app: &TestApp, person: &Client, scopes: &[&str]) -> String {
    let mut form = vec![("name", "Matrix App"), ("redirect_uris", REDIRECT)];
    form.extend(scopes.iter().map(|s| ("scopes[]", *s)));
    let (status, issued) = app.rpc(person, "register_app", &form).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let client_id = issued["client_id"].as_str().unwrap();
    let secret = issued["client_secret"].as_str().unwrap();
    let verifier = "v".repeat(43);
    let challenge = latchkey::apps::server::s256(&verifier);
    let scope = scopes.join(" ");
    let form = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", scope.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("decision", "approve"),
    ];
    let back = person
        .post(format!("{}/oauth/authorize", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    let code = param(
        &query(back.headers()[header::LOCATION].to_str().unwrap()),
        "code",
    )
    .unwrap();
    let tokens: Value = http()
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_string()
}

async fn a_second_instance_follows_revocations_and_racing_refreshes(app: TestApp) {
    let flow = flow(&app).await;
    let b = app.another_instance(|c| c.auth_sync_millis = 50).await;
    let tokens = authorized(&app, &flow, &["identity:read"]).await;
    let access = tokens.access_token().secret().clone();
    let whoami_on_b = || {
        http()
            .get(format!("{b}/api/v1/whoami"))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(whoami_on_b().await.unwrap().status(), StatusCode::OK);

    // The same refresh token sent to both instances at once: one rotation
    // wins; the loser either gets a pair within the grace period (which
    // withdraws the winner's) or is refused, so exactly one refresh token lives.
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let send = |base: String| {
        let refresh = refresh.clone();
        let (id, secret) = (flow.client_id.clone(), flow.secret.clone());
        async move {
            http()
                .post(format!("{base}/oauth/token"))
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let (on_a, on_b) = tokio::join!(send(app.base.clone()), send(b.clone()));
    assert!(
        on_a == StatusCode::OK || on_b == StatusCode::OK,
        "{on_a} {on_b}"
    );
    let live: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM oauth_tokens t JOIN oauth_sessions s ON s.id = t.session_id \
         WHERE t.kind = 'refresh' AND t.used_at IS NULL AND t.revoked_at IS NULL AND s.revoked_at IS NULL",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(live.0, 1, "{on_a} {on_b}");

    // "Revoke access" on A: B refuses the token once it sees the change.
    let (_, connections) = app.rpc(&flow.person, "list_connections", &[]).await;
    let grant = connections[0]["grant_id"].to_string();
    let (status, _) = app
        .rpc(&flow.person, "revoke_connection", &[("grant_id", &grant)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if whoami_on_b().await.unwrap().status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B still accepts a revoked app token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
