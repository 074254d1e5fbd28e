//! The authorization matrix: every token-related server function and API route
//! against every kind of caller, with the status each must get. A refused call
//! must also change nothing: the tokens and the organization's settings are
//! compared before and after every refused cell.

use crate::helpers::TestApp;
use crate::on_both_databases;
use crate::org_tokens::{create_token, world};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

on_both_databases!(every_caller_gets_exactly_its_rights);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Anonymous,
    Outsider,
    OrgUser,
    OrgAdmin,
    GroupAdmin,
    OtherOrgAdmin,
    PersonalToken,
    OrgUserToken,
    OrgAdminToken,
    GroupUserToken,
    GroupAdminToken,
    OtherOrgAdminToken,
    DisabledToken,
    ExpiredToken,
    /// An admin-role organization token holding only `identity:read`.
    NarrowOrgAdminToken,
    /// The organization admin's personal token, restricted to another of
    /// their organizations.
    RestrictedPersonalToken,
    /// An OAuth access token the organization admin granted an app, with
    /// `identity:read` and `orgs:read`.
    OAuthAppToken,
}

use Who::*;

const EVERYONE: [Who; 17] = [
    Anonymous,
    Outsider,
    OrgUser,
    OrgAdmin,
    GroupAdmin,
    OtherOrgAdmin,
    PersonalToken,
    OrgUserToken,
    OrgAdminToken,
    GroupUserToken,
    GroupAdminToken,
    OtherOrgAdminToken,
    DisabledToken,
    ExpiredToken,
    NarrowOrgAdminToken,
    RestrictedPersonalToken,
    OAuthAppToken,
];

/// A caller: a signed-in browser session, a token, or neither.
struct Caller {
    session: Option<Client>,
    token: Option<String>,
}

#[derive(Clone, Copy)]
enum Target {
    /// A server function, posted as a form; `victim` adds `token_id`.
    Rpc {
        name: &'static str,
        group: bool,
        victim: bool,
        extra: &'static [(&'static str, &'static str)],
    },
    /// An API route; `{victim}` in the path is a fresh token's id.
    Api {
        method: &'static str,
        path: &'static str,
        body: bool,
        group_victim: bool,
    },
}

const READ_ORG: &[(&str, &str)] = &[];

fn rpc(name: &'static str, group: bool, victim: bool) -> Target {
    Target::Rpc {
        name,
        group,
        victim,
        extra: READ_ORG,
    }
}

fn api(method: &'static str, path: &'static str) -> Target {
    Target::Api {
        method,
        path,
        body: method == "POST" && path.ends_with("/tokens"),
        group_victim: path.contains("/groups/platform/tokens/"),
    }
}

/// What a session caller gets from a server function that needs `need`.
fn session_status(who: Who, need: Need) -> u16 {
    match who {
        Anonymous => 401,
        Outsider | OtherOrgAdmin => 404,
        OrgAdmin => 200,
        OrgUser => 403,
        GroupAdmin if need == Need::GroupManager => 200,
        GroupAdmin => 403,
        _ => 401, // tokens do not open browser sessions
    }
}

/// The status each caller must get from one target.
type Expectation = Box<dyn Fn(Who) -> u16>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    OrgAdmin,
    GroupManager,
}

/// What a token caller gets from an API route that needs `need`.
fn token_status(who: Who, need: ApiNeed, success: u16) -> u16 {
    // An app acting for the organization admin reads like them, and manages
    // no tokens: it is not an organization or group token.
    let reads_org = matches!(
        who,
        PersonalToken | OrgUserToken | OrgAdminToken | OAuthAppToken
    );
    match (who, need) {
        (Anonymous | Outsider | OrgUser | OrgAdmin | GroupAdmin | OtherOrgAdmin, _) => 401,
        (DisabledToken | ExpiredToken, _) => 401,
        (_, ApiNeed::AnyToken) => success,
        // Outside its restriction a token is not a member anywhere.
        (RestrictedPersonalToken, _) => 404,
        // The admin role, but not the scope: insufficient_scope.
        (NarrowOrgAdminToken, _) => 403,
        (OtherOrgAdminToken, _) => 404,
        (_, ApiNeed::OrgMember) if reads_org => success,
        (_, ApiNeed::OrgMember) => 403,
        (_, ApiNeed::GroupReader)
            if reads_org || matches!(who, GroupUserToken | GroupAdminToken) =>
        {
            success
        }
        (OrgAdminToken, ApiNeed::OrgTokenAdmin | ApiNeed::GroupTokenAdmin) => success,
        (GroupAdminToken, ApiNeed::GroupTokenAdmin) => success,
        _ => 403,
    }
}

#[derive(Clone, Copy)]
enum ApiNeed {
    AnyToken,
    OrgMember,
    GroupReader,
    OrgTokenAdmin,
    GroupTokenAdmin,
}

async fn every_caller_gets_exactly_its_rights(app: TestApp) {
    let w = world(&app).await;
    // Another organization with its own admin, and its admin token.
    ok(app
        .rpc(
            &w.root,
            "create_org",
            &[("name", "Globex"), ("slug", "globex")],
        )
        .await);
    app.create_person("globex@example.com", "Globex Admin")
        .await;
    ok(app
        .rpc(
            &w.root,
            "add_org_member",
            &[
                ("org", "globex"),
                ("email", "globex@example.com"),
                ("role", "admin"),
            ],
        )
        .await);
    let other_admin = app.sign_in("globex@example.com").await;
    let other_token = ok(app
        .rpc(
            &other_admin,
            "create_token",
            &[
                ("org", "globex"),
                ("name", "g"),
                ("expiry", "7d"),
                ("admin", "on"),
            ],
        )
        .await)["secret"]
        .as_str()
        .unwrap()
        .to_string();

    let personal = ok(app
        .rpc(&w.ou, "create_token", &[("name", "mine"), ("expiry", "7d")])
        .await)["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, org_user) = create_token(&app, &w.oa, "", "org user", false).await;
    let (_, org_admin) = create_token(&app, &w.oa, "", "org admin", true).await;
    let (_, group_user) = create_token(&app, &w.ga, "platform", "group user", false).await;
    let (_, group_admin) = create_token(&app, &w.ga, "platform", "group admin", true).await;
    let (disabled_id, disabled) = create_token(&app, &w.oa, "", "disabled", true).await;
    ok(app
        .rpc(
            &w.oa,
            "set_token_enabled",
            &[
                ("org", "acme"),
                ("token_id", &disabled_id),
                ("enabled", "false"),
            ],
        )
        .await);
    let narrow = ok(app
        .rpc(
            &w.oa,
            "create_token",
            &[
                ("org", "acme"),
                ("name", "narrow"),
                ("expiry", "7d"),
                ("admin", "on"),
                ("scopes[]", "identity:read"),
            ],
        )
        .await)["secret"]
        .as_str()
        .unwrap()
        .to_string();
    // Root admins both organizations; this token acts in Globex only.
    let restricted = ok(app
        .rpc(
            &w.root,
            "create_token",
            &[
                ("name", "globex only"),
                ("expiry", "7d"),
                ("scopes[]", "identity:read"),
                ("scopes[]", "orgs:read"),
                ("acts", "some"),
                ("acts_in[]", "globex"),
            ],
        )
        .await)["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let app_token =
        crate::oauth::access_token_of(&app, &w.oa, &["identity:read", "orgs:read"]).await;
    let (expired_id, expired) = create_token(&app, &w.oa, "", "expired", true).await;
    sqlx::query("UPDATE access_tokens SET expires_at = 1000 WHERE id = $1")
        .bind(expired_id.parse::<i64>().unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    app.db.follow_auth_changes().await;

    let caller = |who: Who| -> Caller {
        let session = |c: &Client| Caller {
            session: Some(c.clone()),
            token: None,
        };
        let token = |t: &str| Caller {
            session: None,
            token: Some(t.to_string()),
        };
        match who {
            Anonymous => Caller {
                session: None,
                token: None,
            },
            Outsider => session(&w.outsider),
            OrgUser => session(&w.ou),
            OrgAdmin => session(&w.oa),
            GroupAdmin => session(&w.ga),
            OtherOrgAdmin => session(&other_admin),
            PersonalToken => token(&personal),
            OrgUserToken => token(&org_user),
            OrgAdminToken => token(&org_admin),
            GroupUserToken => token(&group_user),
            GroupAdminToken => token(&group_admin),
            OtherOrgAdminToken => token(&other_token),
            DisabledToken => token(&disabled),
            ExpiredToken => token(&expired),
            NarrowOrgAdminToken => token(&narrow),
            RestrictedPersonalToken => token(&restricted),
            OAuthAppToken => token(&app_token),
        }
    };

    // (target, expected status for each caller)
    let rows: Vec<(Target, Expectation)> = vec![
        (
            rpc("list_tokens", false, false),
            Box::new(|w| session_status(w, Need::OrgAdmin)),
        ),
        (
            rpc("create_token", false, false),
            Box::new(|w| session_status(w, Need::OrgAdmin)),
        ),
        (
            rpc("set_token_enabled", false, true),
            Box::new(|w| session_status(w, Need::OrgAdmin)),
        ),
        (
            rpc("delete_token", false, true),
            Box::new(|w| session_status(w, Need::OrgAdmin)),
        ),
        (
            rpc("revoke_all_tokens", false, false),
            Box::new(|w| session_status(w, Need::OrgAdmin)),
        ),
        (
            rpc("list_token_activity", false, false),
            Box::new(|w| session_status(w, Need::OrgAdmin)),
        ),
        (
            rpc("list_tokens", true, false),
            Box::new(|w| session_status(w, Need::GroupManager)),
        ),
        (
            rpc("create_token", true, false),
            Box::new(|w| session_status(w, Need::GroupManager)),
        ),
        (
            rpc("set_token_enabled", true, true),
            Box::new(|w| session_status(w, Need::GroupManager)),
        ),
        (
            rpc("delete_token", true, true),
            Box::new(|w| session_status(w, Need::GroupManager)),
        ),
        (
            rpc("revoke_all_tokens", true, false),
            Box::new(|w| session_status(w, Need::GroupManager)),
        ),
        (
            rpc("get_org_settings", false, false),
            Box::new(|w| session_status(w, Need::OrgAdmin)),
        ),
        (
            Target::Rpc {
                name: "update_org_settings",
                group: false,
                victim: false,
                extra: &[
                    ("allow_org_tokens", "on"),
                    ("allow_group_tokens", "on"),
                    ("allow_oauth_apps", "on"),
                ],
            },
            Box::new(|w| session_status(w, Need::OrgAdmin)),
        ),
        (
            rpc("list_org_audit", false, false),
            Box::new(|w| session_status(w, Need::OrgAdmin)),
        ),
        (
            api("GET", "/api/v1/whoami"),
            Box::new(|w| token_status(w, ApiNeed::AnyToken, 200)),
        ),
        (
            api("GET", "/api/v1/orgs/acme/members"),
            Box::new(|w| token_status(w, ApiNeed::OrgMember, 200)),
        ),
        (
            api("GET", "/api/v1/orgs/acme/groups"),
            Box::new(|w| token_status(w, ApiNeed::OrgMember, 200)),
        ),
        (
            api("GET", "/api/v1/orgs/acme/groups/platform/members"),
            Box::new(|w| token_status(w, ApiNeed::GroupReader, 200)),
        ),
        (
            api("GET", "/api/v1/orgs/acme/tokens"),
            Box::new(|w| token_status(w, ApiNeed::OrgTokenAdmin, 200)),
        ),
        (
            api("POST", "/api/v1/orgs/acme/tokens"),
            Box::new(|w| token_status(w, ApiNeed::OrgTokenAdmin, 201)),
        ),
        (
            api("POST", "/api/v1/orgs/acme/tokens/{victim}/revoke"),
            Box::new(|w| token_status(w, ApiNeed::OrgTokenAdmin, 200)),
        ),
        (
            api("POST", "/api/v1/orgs/acme/tokens/{victim}/reactivate"),
            Box::new(|w| token_status(w, ApiNeed::OrgTokenAdmin, 200)),
        ),
        (
            api("DELETE", "/api/v1/orgs/acme/tokens/{victim}"),
            Box::new(|w| token_status(w, ApiNeed::OrgTokenAdmin, 204)),
        ),
        (
            api("GET", "/api/v1/orgs/acme/groups/platform/tokens"),
            Box::new(|w| token_status(w, ApiNeed::GroupTokenAdmin, 200)),
        ),
        (
            api("POST", "/api/v1/orgs/acme/groups/platform/tokens"),
            Box::new(|w| token_status(w, ApiNeed::GroupTokenAdmin, 201)),
        ),
        (
            api(
                "POST",
                "/api/v1/orgs/acme/groups/platform/tokens/{victim}/revoke",
            ),
            Box::new(|w| token_status(w, ApiNeed::GroupTokenAdmin, 200)),
        ),
        (
            api(
                "POST",
                "/api/v1/orgs/acme/groups/platform/tokens/{victim}/reactivate",
            ),
            Box::new(|w| token_status(w, ApiNeed::GroupTokenAdmin, 200)),
        ),
        (
            api(
                "DELETE",
                "/api/v1/orgs/acme/groups/platform/tokens/{victim}",
            ),
            Box::new(|w| token_status(w, ApiNeed::GroupTokenAdmin, 204)),
        ),
    ];

    let mut wrong = Vec::new();
    let mut cells = 0;
    for (target, expected) in &rows {
        for who in EVERYONE {
            let expected = expected(who);
            let victim = fresh_victim(&app, &w, target).await;
            let before = snapshot(&app).await;
            let got = call(&app, &caller(who), target, victim.as_deref()).await;
            cells += 1;
            if got.0 != expected {
                wrong.push(format!(
                    "{target:?} as {who:?}: expected {expected}, got {} {}",
                    got.0, got.1
                ));
            }
            if got.0 >= 400 && snapshot(&app).await != before {
                wrong.push(format!(
                    "{target:?} as {who:?}: refused with {} yet changed something",
                    got.0
                ));
            }
            restore(&app).await;
        }
    }
    assert!(cells >= 476, "the matrix shrank to {cells} cells");
    assert!(
        wrong.is_empty(),
        "{} wrong cells:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Rpc { name, group, .. } => {
                write!(
                    f,
                    "rpc {name}{}",
                    if *group { " (group)" } else { " (org)" }
                )
            }
            Target::Api { method, path, .. } => write!(f, "{method} {path}"),
        }
    }
}

fn ok((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A token for a cell to act on, made by an admin, when the target needs one.
async fn fresh_victim(
    app: &TestApp,
    w: &crate::org_tokens::World,
    target: &Target,
) -> Option<String> {
    let group = match target {
        Target::Rpc {
            victim: true,
            group,
            ..
        } => *group,
        Target::Api {
            path, group_victim, ..
        } if path.contains("{victim}") => *group_victim,
        _ => return None,
    };
    let (id, _) = create_token(
        app,
        &w.oa,
        if group { "platform" } else { "" },
        "victim",
        false,
    )
    .await;
    Some(id)
}

async fn call(
    app: &TestApp,
    caller: &Caller,
    target: &Target,
    victim: Option<&str>,
) -> (u16, String) {
    let client = caller.session.clone().unwrap_or_default();
    let request = match target {
        Target::Rpc {
            name, group, extra, ..
        } => {
            let mut form: Vec<(&str, &str)> = vec![("org", "acme")];
            if *group {
                form.push(("group", "platform"));
            }
            if *name == "create_token" {
                form.extend([
                    ("name", "cell"),
                    ("expiry", "7d"),
                    ("scopes[]", "identity:read"),
                ]);
            }
            if *name == "set_token_enabled" {
                form.push(("enabled", "false"));
            }
            if let Some(id) = victim {
                form.push(("token_id", id));
            }
            form.extend(extra.iter().copied());
            client.post(format!("{}/rpc/{name}", app.base)).form(&form)
        }
        Target::Api {
            method, path, body, ..
        } => {
            let path = path.replace("{victim}", victim.unwrap_or("0"));
            let mut request = client.request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", app.base),
            );
            if *body {
                request = request.json(&json!({ "name": "cell", "expiry": "7d" }));
            }
            request
        }
    };
    let request = match &caller.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    if let Target::Api { method, path, .. } = target {
        let path = path.replace("{victim}", victim.unwrap_or("0"));
        crate::spec::conforms(method, &path, status, &crate::spec::parse_body(&text));
    }
    (status, text.chars().take(160).collect())
}

/// Every token's state, and the organizations' settings.
async fn snapshot(app: &TestApp) -> Vec<String> {
    let tokens: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT id, disabled_at FROM access_tokens ORDER BY id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let orgs: Vec<(i64, i64, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT allow_org_tokens, allow_group_tokens, allow_non_expiring_tokens, token_max_lifetime_days, \
         allow_oauth_apps FROM organizations ORDER BY id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let members: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT org_id, user_id, role FROM org_memberships ORDER BY org_id, user_id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    tokens
        .iter()
        .map(|t| format!("{t:?}"))
        .chain(orgs.iter().map(|o| format!("{o:?}")))
        .chain(members.iter().map(|m| format!("{m:?}")))
        .collect()
}

/// Undoes what an allowed cell did to the callers' own tokens (revoke all), so
/// every cell starts from the same standing.
async fn restore(app: &TestApp) {
    sqlx::query(
        "UPDATE access_tokens SET disabled_at = NULL WHERE disabled_at IS NOT NULL \
         AND name IN ('org user', 'org admin', 'group user', 'group admin', 'mine', 'g', 'narrow', 'globex only')",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    app.db.follow_auth_changes().await;
}
