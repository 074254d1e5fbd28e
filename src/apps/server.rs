//! The rules and queries of the authorization server: registered clients,
//! grants (remembered consent), single-use codes and rotating token families.
//! Every state change that must hold under concurrency (a code used once, a
//! refresh token spent once) is one guarded `UPDATE … WHERE … IS NULL`.

use super::{AppSummary, Connection, IssuedCredentials};
use crate::access::{self, Action, Caller, Scopes, Standing};
use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{now, Db};
use crate::tokens::secret::{
    digest_of, generate_secret, PlainToken, TokenKind, AUTHORIZATION_CODE_PREFIX,
    CLIENT_SECRET_PREFIX,
};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{Any, Transaction};
use std::collections::BTreeSet;

/// How long an authorization code can be exchanged (RFC 9700 §4.2.1 asks for
/// short-lived codes; OAuth 2.1 suggests at most 10 minutes).
pub const CODE_LIFETIME_SECS: i64 = 600;
/// How long a spent refresh token may be used again, for a client that lost
/// the answer to its first use (RFC 9700 §4.14.2).
pub const REFRESH_REUSE_GRACE_SECS: i64 = 30;
const MAX_REDIRECT_URIS: usize = 10;
const MAX_NAME_LEN: usize = 80;

/// Lifetimes of what the token endpoint issues (configurable).
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access_secs: i64,
    /// A token family ends this long after its code was exchanged.
    pub session_secs: i64,
    /// ... or this long after it was last refreshed.
    pub idle_secs: i64,
}

/// The database row of a client, by name.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ClientRow {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub homepage_url: String,
    pub redirect_uris: String,
    pub confidential: i64,
    pub secret_digest: Option<String>,
    pub secret_hint: Option<String>,
    pub scopes: String,
    pub owner_user_id: Option<i64>,
    pub owner_org_id: Option<i64>,
    pub may_introspect: i64,
    pub unverified: i64,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub owner_label: String,
}

const CLIENT_COLUMNS: &str = "c.id, c.client_id, c.name, c.description, c.homepage_url, \
     c.redirect_uris, c.confidential, c.secret_digest, c.secret_hint, c.scopes, c.owner_user_id, \
     c.owner_org_id, c.may_introspect, c.unverified, c.disabled_at, c.created_at, \
     COALESCE(u.display_name, o.name, 'nobody here (it registered itself)') AS owner_label";
const CLIENT_FROM: &str = "oauth_clients c LEFT JOIN users u ON u.id = c.owner_user_id \
     LEFT JOIN organizations o ON o.id = c.owner_org_id";

impl ClientRow {
    pub fn redirect_uris(&self) -> Vec<String> {
        self.redirect_uris.lines().map(str::to_string).collect()
    }

    pub fn scopes(&self) -> Scopes {
        Scopes::from_stored(&self.scopes)
    }

    pub fn is_confidential(&self) -> bool {
        self.confidential != 0
    }

    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }

    fn summary(&self) -> AppSummary {
        AppSummary {
            client_id: self.client_id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            homepage_url: self.homepage_url.clone(),
            redirect_uris: self.redirect_uris(),
            confidential: self.is_confidential(),
            scopes: self.scopes().iter().map(str::to_string).collect(),
            secret_hint: self.secret_hint.clone(),
            disabled: self.disabled_at.is_some(),
            created_at: self.created_at,
        }
    }

    /// Whether `secret` is this confidential client's secret (constant time).
    pub fn secret_matches(&self, secret: &str) -> bool {
        match &self.secret_digest {
            Some(stored) => {
                use subtle::ConstantTimeEq;
                digest_of(secret)
                    .to_hex()
                    .as_bytes()
                    .ct_eq(stored.as_bytes())
                    .into()
            }
            None => false,
        }
    }

    /// Exact match, except that a loopback redirect URI matches with any
    /// port (RFC 8252 §7.3: native apps choose the port at run time).
    pub fn allows_redirect(&self, requested: &str) -> bool {
        self.redirect_uris
            .lines()
            .any(|registered| redirect_matches(registered, requested))
    }
}

fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(mut registered), Ok(mut requested)) =
        (url::Url::parse(registered), url::Url::parse(requested))
    else {
        return false;
    };
    if !is_loopback_http(&registered) || !is_loopback_http(&requested) {
        return false;
    }
    let _ = registered.set_port(None);
    let _ = requested.set_port(None);
    registered.as_str() == requested.as_str()
}

fn is_loopback_http(uri: &url::Url) -> bool {
    uri.scheme() == "http"
        && matches!(
            uri.host(),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback()
        ) | matches!(uri.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
}

/// A redirect URI as registered: absolute, no fragment, `https`, or `http` on
/// a loopback address (RFC 8252 §7.3). `localhost` is refused: its name can
/// resolve elsewhere (RFC 8252 §8.3).
pub fn check_redirect_uri(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let uri = url::Url::parse(raw).map_err(|_| format!("{raw} is not an absolute URL."))?;
    if uri.fragment().is_some() {
        return Err(format!(
            "{raw} has a fragment (#…), which redirect URIs may not have."
        ));
    }
    if !uri.username().is_empty() || uri.password().is_some() {
        return Err(format!("{raw} carries credentials."));
    }
    match uri.scheme() {
        "https" if uri.host().is_some() => Ok(raw.to_string()),
        "http" if is_loopback_http(&uri) => Ok(raw.to_string()),
        "http" => Err(format!(
            "{raw}: plain http is allowed only for 127.0.0.1 and [::1] (native apps); use https."
        )),
        _ => Err(format!("{raw}: use an https URL.")),
    }
}

/// What a person fills in to register an application.
pub struct Registration<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub homepage_url: &'a str,
    pub redirect_uris: &'a str,
    pub confidential: bool,
    pub scopes: &'a [String],
}

fn checked_registration(
    form: &Registration<'_>,
    custom: &BTreeSet<String>,
) -> Result<(String, Vec<String>, Scopes), AppError> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(AppError::invalid(
            "name",
            format!("Give the application a name of 1 to {MAX_NAME_LEN} characters."),
        ));
    }
    if form.description.chars().count() > 500 {
        return Err(AppError::invalid(
            "description",
            "The description has at most 500 characters.",
        ));
    }
    let homepage = form.homepage_url.trim();
    if !homepage.is_empty()
        && !url::Url::parse(homepage).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
    {
        return Err(AppError::invalid(
            "homepage_url",
            "The homepage is an http or https URL.",
        ));
    }
    let uris: Vec<String> = form
        .redirect_uris
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(check_redirect_uri)
        .collect::<Result<_, _>>()
        .map_err(|message| AppError::invalid("redirect_uris", message))?;
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return Err(AppError::invalid(
            "redirect_uris",
            format!("Give 1 to {MAX_REDIRECT_URIS} redirect URIs, one per line."),
        ));
    }
    let scopes = Scopes::from_stored(&form.scopes.join(" "));
    if scopes.is_empty() {
        return Err(AppError::invalid(
            "scopes",
            "Choose at least one scope the application may ask for.",
        ));
    }
    let offered = Scopes::all_built_in(TokenKind::OAuth);
    if let Some(unknown) = scopes
        .iter()
        .find(|s| !offered.contains(s) && !custom.contains(*s))
    {
        return Err(AppError::invalid(
            "scopes",
            format!("{unknown} is not a scope an application may ask for."),
        ));
    }
    Ok((name.to_string(), uris, scopes))
}

fn new_client_secret() -> (String, String, String) {
    let secret = generate_secret(CLIENT_SECRET_PREFIX);
    let hint = format!("{CLIENT_SECRET_PREFIX}…{}", &secret[secret.len() - 4..]);
    (digest_of(&secret).to_hex(), hint, secret)
}

fn new_client_id() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..20)
        .map(|_| {
            let chars = b"abcdefghijklmnopqrstuvwxyz0123456789";
            chars[rng.gen_range(0..chars.len())] as char
        })
        .collect();
    format!("app_{body}")
}

/// Who an application belongs to: the person who registered it, or an
/// organization (managed by its admins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppOwner {
    Person(i64),
    Organization(i64),
}

impl AppOwner {
    fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            AppOwner::Person(id) => (Some(id), None),
            AppOwner::Organization(id) => (None, Some(id)),
        }
    }
}

/// Registers an application for `owner`. A confidential client's secret is
/// in the answer, and nowhere else ever again.
pub async fn register(
    db: &Db,
    actor: &Actor<'_>,
    owner: AppOwner,
    form: Registration<'_>,
) -> Result<IssuedCredentials, AppError> {
    let (owner_user_id, owner_org_id) = owner.columns();
    let custom = crate::tokens::server::custom_scope_names(db).await?;
    let (name, uris, scopes) = checked_registration(&form, &custom)?;
    let client_id = new_client_id();
    let secret = form.confidential.then(new_client_secret);
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, name, description, homepage_url, redirect_uris, \
         confidential, secret_digest, secret_hint, scopes, owner_user_id, owner_org_id, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&client_id)
    .bind(&name)
    .bind(form.description.trim())
    .bind(form.homepage_url.trim())
    .bind(uris.join("\n"))
    .bind(i64::from(form.confidential))
    .bind(secret.as_ref().map(|s| s.0.clone()))
    .bind(secret.as_ref().map(|s| s.1.clone()))
    .bind(scopes.to_stored())
    .bind(owner_user_id)
    .bind(owner_org_id)
    .bind(now())
    .bind(actor.user_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "app.registered",
        Target {
            label: &name,
            detail: Some(json!({ "client_id": client_id, "confidential": form.confidential })),
            org_id: owner_org_id,
            group_id: None,
            subject_user_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedCredentials {
        manage_at: manage_page(db, owner_org_id).await?,
        name,
        client_id,
        client_secret: secret.map(|s| s.2),
    })
}

/// RFC 7591: a public client registered by itself, with no owner here;
/// people see it as unverified when it asks for consent.
pub async fn register_dynamically(
    db: &Db,
    form: Registration<'_>,
) -> Result<(String, Vec<String>, Scopes), AppError> {
    let custom = crate::tokens::server::custom_scope_names(db).await?;
    let (name, uris, scopes) = checked_registration(&form, &custom)?;
    let client_id = new_client_id();
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, name, homepage_url, redirect_uris, confidential, \
         scopes, unverified, created_at) VALUES ($1, $2, $3, $4, 0, $5, 1, $6)",
    )
    .bind(&client_id)
    .bind(&name)
    .bind(form.homepage_url.trim())
    .bind(uris.join("\n"))
    .bind(scopes.to_stored())
    .bind(now())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &Actor::system("dynamic client registration"),
        "app.registered",
        Target {
            label: &name,
            detail: Some(json!({ "client_id": client_id, "dynamic": true })),
            org_id: None,
            group_id: None,
            subject_user_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((client_id, uris, scopes))
}

/// The applications that belong to `owner`.
pub async fn owned_by(db: &Db, owner: AppOwner) -> Result<Vec<AppSummary>, AppError> {
    let (column, id) = match owner {
        AppOwner::Person(id) => ("owner_user_id", id),
        AppOwner::Organization(id) => ("owner_org_id", id),
    };
    let rows: Vec<ClientRow> = sqlx::query_as(&format!(
        "SELECT {CLIENT_COLUMNS} FROM {CLIENT_FROM} WHERE c.{column} = $1 ORDER BY c.name, c.id"
    ))
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(ClientRow::summary).collect())
}

pub async fn find_client(db: &Db, client_id: &str) -> Result<Option<ClientRow>, AppError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {CLIENT_COLUMNS} FROM {CLIENT_FROM} WHERE c.client_id = $1"
    ))
    .bind(client_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// The client `client_id` when `user` manages it: they registered it, or
/// administer the organization it belongs to. Anyone else's is not found.
async fn owned_client(db: &Db, user: &CurrentUser, client_id: &str) -> Result<ClientRow, AppError> {
    let not_found = || AppError::not_found("Application");
    let client = find_client(db, client_id).await?.ok_or_else(not_found)?;
    if client.owner_user_id == Some(user.id) {
        return Ok(client);
    }
    let Some(org_id) = client.owner_org_id else {
        return Err(not_found());
    };
    let role: Option<(String,)> =
        sqlx::query_as("SELECT role FROM org_memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user.id)
            .fetch_optional(&db.pool)
            .await?;
    let standing = role.map(|(role,)| Standing {
        org_id,
        org_role: Some(Role::from_db(&role)),
        group: None,
    });
    let person = Caller::Person {
        instance_admin: user.is_instance_admin,
    };
    match access::decide(person, Action::AdministerOrg(standing)) {
        Ok(()) => Ok(client),
        Err(_) => Err(not_found()),
    }
}

/// Changes what the owner registered (the client type stays). Scopes taken
/// away are taken from every grant and token family at once.
pub async fn update(
    db: &Db,
    actor: &Actor<'_>,
    user: &CurrentUser,
    client_id: &str,
    form: Registration<'_>,
) -> Result<(), AppError> {
    let client = owned_client(db, user, client_id).await?;
    let custom = crate::tokens::server::custom_scope_names(db).await?;
    let (name, uris, scopes) = checked_registration(&form, &custom)?;
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "UPDATE oauth_clients SET name = $1, description = $2, homepage_url = $3, \
         redirect_uris = $4, scopes = $5 WHERE id = $6",
    )
    .bind(&name)
    .bind(form.description.trim())
    .bind(form.homepage_url.trim())
    .bind(uris.join("\n"))
    .bind(scopes.to_stored())
    .bind(client.id)
    .execute(&mut *tx)
    .await?;
    let narrowed = client.scopes().beyond(&scopes).next().is_some();
    if narrowed {
        let grants: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, scopes FROM oauth_grants WHERE client_id = $1 AND revoked_at IS NULL",
        )
        .bind(client.id)
        .fetch_all(&mut *tx)
        .await?;
        for (grant_id, stored) in grants {
            let kept = Scopes::from_stored(&stored).intersection(&scopes);
            sqlx::query("UPDATE oauth_grants SET scopes = $1 WHERE id = $2")
                .bind(kept.to_stored())
                .bind(grant_id)
                .execute(&mut *tx)
                .await?;
            let sessions: Vec<(i64, String)> = sqlx::query_as(
                "SELECT id, scopes FROM oauth_sessions WHERE grant_id = $1 AND revoked_at IS NULL",
            )
            .bind(grant_id)
            .fetch_all(&mut *tx)
            .await?;
            for (session_id, stored) in sessions {
                sqlx::query("UPDATE oauth_sessions SET scopes = $1 WHERE id = $2")
                    .bind(
                        Scopes::from_stored(&stored)
                            .intersection(&scopes)
                            .to_stored(),
                    )
                    .bind(session_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    audit::record(&mut *tx, actor, "app.updated", app_target(&client)).await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

/// Replaces a confidential client's secret; the old one stops working at once.
pub async fn rotate_secret(
    db: &Db,
    actor: &Actor<'_>,
    user: &CurrentUser,
    client_id: &str,
) -> Result<IssuedCredentials, AppError> {
    let client = owned_client(db, user, client_id).await?;
    if !client.is_confidential() {
        return Err(AppError::Conflict(
            "A public client has no secret to replace.".into(),
        ));
    }
    let (digest, hint, secret) = new_client_secret();
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE oauth_clients SET secret_digest = $1, secret_hint = $2 WHERE id = $3")
        .bind(digest)
        .bind(hint)
        .bind(client.id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, actor, "app.secret_rotated", app_target(&client)).await?;
    tx.commit().await?;
    Ok(IssuedCredentials {
        manage_at: manage_page(db, client.owner_org_id).await?,
        name: client.name,
        client_id: client.client_id,
        client_secret: Some(secret),
    })
}

/// Where an app is managed: its organization's Applications tab, or the
/// owner's Developer applications.
async fn manage_page(db: &Db, owner_org_id: Option<i64>) -> Result<String, AppError> {
    let Some(org_id) = owner_org_id else {
        return Ok("/profile/apps".into());
    };
    let (slug,): (String,) = sqlx::query_as("SELECT slug FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(format!("/orgs/{slug}/apps"))
}

fn app_target(client: &ClientRow) -> Target<'_> {
    Target {
        label: &client.name,
        detail: Some(json!({ "client_id": client.client_id })),
        org_id: client.owner_org_id,
        group_id: None,
        subject_user_id: None,
    }
}

/// Disables or re-enables an application: while disabled, its tokens are
/// refused and it cannot start new authorizations.
pub async fn set_disabled(
    db: &Db,
    actor: &Actor<'_>,
    user: &CurrentUser,
    client_id: &str,
    disabled: bool,
) -> Result<(), AppError> {
    let client = owned_client(db, user, client_id).await?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE oauth_clients SET disabled_at = $1 WHERE id = $2")
        .bind(disabled.then(now))
        .bind(client.id)
        .execute(&mut *tx)
        .await?;
    let action = if disabled {
        "app.disabled"
    } else {
        "app.enabled"
    };
    audit::record(&mut *tx, actor, action, app_target(&client)).await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

/// Deletes an application and, with it, every grant, code and token it held.
pub async fn delete(
    db: &Db,
    actor: &Actor<'_>,
    user: &CurrentUser,
    client_id: &str,
) -> Result<(), AppError> {
    let client = owned_client(db, user, client_id).await?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
        .bind(client.id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, actor, "app.deleted", app_target(&client)).await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

/// What `user_id` allowed `client`, if they did and have not revoked it.
#[derive(sqlx::FromRow, Debug)]
pub struct GrantRow {
    pub id: i64,
    pub scopes: String,
    pub restricted_to_orgs: i64,
}

pub async fn live_grant(
    db: &Db,
    client: &ClientRow,
    user_id: i64,
) -> Result<Option<GrantRow>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, scopes, restricted_to_orgs FROM oauth_grants \
         WHERE client_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(client.id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// Whether an earlier consent already covers `scopes` (and a restriction is
/// not being widened: a new request never silently reaches more
/// organizations).
pub fn covers(grant: &GrantRow, scopes: &Scopes) -> bool {
    scopes.is_subset(&Scopes::from_stored(&grant.scopes))
}

/// Records consent: a new grant, or the live one widened to `scopes` with
/// the organizations chosen now. Returns the grant's id.
pub async fn approve(
    db: &Db,
    actor: &Actor<'_>,
    client: &ClientRow,
    user_id: i64,
    scopes: &Scopes,
    acts_in: Option<&BTreeSet<i64>>,
) -> Result<i64, AppError> {
    let now = now();
    let mut tx = db.pool.begin().await?;
    // One live grant per app and person (a unique index): two consents at once
    // meet in the same row.
    let existing: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, scopes FROM oauth_grants WHERE client_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(client.id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let grant_id = match existing {
        Some((id, stored)) => {
            let widened = Scopes::from_stored(&stored).union(scopes);
            sqlx::query(
                "UPDATE oauth_grants SET scopes = $1, restricted_to_orgs = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(widened.to_stored())
            .bind(i64::from(acts_in.is_some()))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM oauth_grant_orgs WHERE grant_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO oauth_grants (client_id, user_id, scopes, restricted_to_orgs, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            )
            .bind(client.id)
            .bind(user_id)
            .bind(scopes.to_stored())
            .bind(i64::from(acts_in.is_some()))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|err| {
                if crate::server::db::is_unique_violation(&err) {
                    AppError::Conflict("This application was just authorized in another window; try again.".into())
                } else {
                    err.into()
                }
            })?;
            id
        }
    };
    for org_id in acts_in.into_iter().flatten() {
        sqlx::query("INSERT INTO oauth_grant_orgs (grant_id, org_id) VALUES ($1, $2)")
            .bind(grant_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut *tx,
        actor,
        "app.authorized",
        Target {
            label: &client.name,
            detail: Some(json!({ "client_id": client.client_id, "scope": scopes.to_stored() })),
            org_id: None,
            group_id: None,
            subject_user_id: None,
        },
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(grant_id)
}

/// A single-use code for `grant_id`, bound to the redirect URI and the PKCE
/// challenge.
pub async fn issue_code(
    db: &Db,
    grant_id: i64,
    redirect_uri: &str,
    code_challenge: &str,
    scopes: &Scopes,
) -> Result<String, AppError> {
    let code = generate_secret(AUTHORIZATION_CODE_PREFIX);
    let now = now();
    sqlx::query(
        "INSERT INTO oauth_codes (digest, grant_id, redirect_uri, code_challenge, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(digest_of(&code).to_hex())
    .bind(grant_id)
    .bind(redirect_uri)
    .bind(code_challenge)
    .bind(scopes.to_stored())
    .bind(now)
    .bind(now + CODE_LIFETIME_SECS)
    .execute(&db.pool)
    .await?;
    Ok(code)
}

/// RFC 6749 §5.2 error codes, as the token endpoint answers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    InvalidRequest(String),
    InvalidClient,
    InvalidGrant(String),
    UnauthorizedClient(String),
    UnsupportedGrantType,
    InvalidScope(String),
}

impl From<AppError> for GrantError {
    fn from(_: AppError) -> Self {
        // Only database failures reach here; the endpoint logs them.
        GrantError::InvalidRequest("The request could not be completed.".into())
    }
}

impl From<sqlx::Error> for GrantError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "token endpoint database error");
        GrantError::InvalidRequest("The request could not be completed.".into())
    }
}

/// What the token endpoint hands out.
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub scope: String,
}

/// The base64url (unpadded) SHA-256 of a PKCE verifier (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[derive(sqlx::FromRow)]
struct SpentCode {
    grant_id: i64,
    redirect_uri: String,
    code_challenge: String,
    scopes: String,
    expires_at: i64,
}

/// `grant_type=authorization_code`. The code is spent by the first request
/// that names it, whatever follows; a second use ends the token family the
/// first one started (RFC 9700 §4.2.4 … and OAuth 2.1 §4.1.3).
pub async fn exchange_code(
    db: &Db,
    client: &ClientRow,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    lifetimes: Lifetimes,
) -> Result<IssuedTokens, GrantError> {
    let digest = digest_of(code).to_hex();
    let now = now();
    let mut tx = db.pool.begin().await?;
    let spent: Option<SpentCode> = sqlx::query_as(
        "UPDATE oauth_codes SET used_at = $1 WHERE digest = $2 AND used_at IS NULL \
         RETURNING grant_id, redirect_uri, code_challenge, scopes, expires_at",
    )
    .bind(now)
    .bind(&digest)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(spent) = spent else {
        tx.rollback().await?;
        revoke_what_code_started(db, &digest, now).await?;
        return Err(GrantError::InvalidGrant(
            "The authorization code is invalid, expired or already used.".into(),
        ));
    };
    let grant: Option<(i64, i64)> = sqlx::query_as(
        "SELECT client_id, user_id FROM oauth_grants WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(spent.grant_id)
    .fetch_optional(&mut *tx)
    .await?;
    let refusal = if spent.expires_at <= now {
        Some("The authorization code has expired.")
    } else if grant.is_none_or(|(client_id, _)| client_id != client.id) {
        Some("The authorization code was not issued to this client.")
    } else if spent.redirect_uri != redirect_uri {
        Some("redirect_uri differs from the one in the authorization request.")
    } else if !valid_verifier(verifier) || s256(verifier) != spent.code_challenge {
        Some("The code_verifier does not match the code_challenge.")
    } else {
        None
    };
    if let Some(message) = refusal {
        // The code stays spent: a failed try does not give it back.
        tx.commit().await?;
        return Err(GrantError::InvalidGrant(message.into()));
    }
    let (session_id,): (i64,) = sqlx::query_as(
        "INSERT INTO oauth_sessions (grant_id, scopes, created_at, expires_at, last_refreshed_at) \
         VALUES ($1, $2, $3, $4, $3) RETURNING id",
    )
    .bind(spent.grant_id)
    .bind(&spent.scopes)
    .bind(now)
    .bind(now + lifetimes.session_secs)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE oauth_codes SET session_id = $1 WHERE digest = $2")
        .bind(session_id)
        .bind(&digest)
        .execute(&mut *tx)
        .await?;
    let issued = issue_pair(&mut tx, session_id, &spent.scopes, now, lifetimes).await?;
    tx.commit().await?;
    Ok(issued.tokens)
}

/// A code presented again: whatever it started is revoked.
async fn revoke_what_code_started(db: &Db, digest: &str, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let res = sqlx::query(
        "UPDATE oauth_sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND id = \
         (SELECT session_id FROM oauth_codes WHERE digest = $2 AND used_at IS NOT NULL)",
    )
    .bind(now)
    .bind(digest)
    .execute(&mut *tx)
    .await?;
    if res.rows_affected() > 0 {
        tracing::warn!("an authorization code was used twice; its tokens are revoked");
        db.commit_auth_change(tx).await?;
    } else {
        tx.commit().await?;
    }
    Ok(())
}

struct Pair {
    tokens: IssuedTokens,
    refresh_id: i64,
}

async fn issue_pair(
    tx: &mut Transaction<'_, Any>,
    session_id: i64,
    scopes: &str,
    now: i64,
    lifetimes: Lifetimes,
) -> Result<Pair, sqlx::Error> {
    let access = PlainToken::generate(TokenKind::OAuth);
    let refresh = PlainToken::generate(TokenKind::OAuthRefresh);
    sqlx::query(
        "INSERT INTO oauth_tokens (session_id, kind, digest, created_at, expires_at) \
         VALUES ($1, 'access', $2, $3, $4)",
    )
    .bind(session_id)
    .bind(access.digest().to_hex())
    .bind(now)
    .bind(now + lifetimes.access_secs)
    .execute(&mut **tx)
    .await?;
    let (refresh_id,): (i64,) = sqlx::query_as(
        "INSERT INTO oauth_tokens (session_id, kind, digest, created_at, expires_at) \
         VALUES ($1, 'refresh', $2, $3, (SELECT expires_at FROM oauth_sessions WHERE id = $1)) RETURNING id",
    )
    .bind(session_id)
    .bind(refresh.digest().to_hex())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Pair {
        tokens: IssuedTokens {
            access_token: access.expose_secret().to_string(),
            refresh_token: refresh.expose_secret().to_string(),
            expires_in: lifetimes.access_secs,
            scope: scopes.to_string(),
        },
        refresh_id,
    })
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: i64,
    session_id: i64,
    used_at: Option<i64>,
    successor_id: Option<i64>,
    revoked_at: Option<i64>,
    session_scopes: String,
    session_expires_at: i64,
    last_refreshed_at: i64,
    session_revoked_at: Option<i64>,
    client_id: i64,
    grant_revoked_at: Option<i64>,
}

/// `grant_type=refresh_token`: spends the refresh token and issues a new
/// pair. A spent token used again ends the whole family, unless it comes
/// within the grace period and its successor was never used (the client lost
/// the first answer): then the successor is withdrawn and a new pair issued.
pub async fn refresh(
    db: &Db,
    client: &ClientRow,
    presented: &str,
    requested_scope: Option<&str>,
    lifetimes: Lifetimes,
) -> Result<IssuedTokens, GrantError> {
    let invalid =
        || GrantError::InvalidGrant("The refresh token is invalid, expired or revoked.".into());
    let Ok(token) = PlainToken::parse(presented.trim()) else {
        return Err(invalid());
    };
    if token.kind() != TokenKind::OAuthRefresh {
        return Err(invalid());
    }
    let now = now();
    let mut tx = db.pool.begin().await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT t.id, t.session_id, t.used_at, t.successor_id, t.revoked_at, \
         s.scopes AS session_scopes, s.expires_at AS session_expires_at, s.last_refreshed_at, \
         s.revoked_at AS session_revoked_at, g.client_id, g.revoked_at AS grant_revoked_at \
         FROM oauth_tokens t JOIN oauth_sessions s ON s.id = t.session_id \
         JOIN oauth_grants g ON g.id = s.grant_id WHERE t.digest = $1 AND t.kind = 'refresh'",
    )
    .bind(token.digest().to_hex())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(mut row) = row else {
        return Err(invalid());
    };
    if row.client_id != client.id {
        return Err(GrantError::InvalidGrant(
            "The refresh token was not issued to this client.".into(),
        ));
    }
    if row.revoked_at.is_some()
        || row.session_revoked_at.is_some()
        || row.grant_revoked_at.is_some()
        || row.session_expires_at <= now
        || now - row.last_refreshed_at > lifetimes.idle_secs
    {
        return Err(invalid());
    }
    let scopes = Scopes::from_stored(&row.session_scopes);
    if let Some(requested) = requested_scope {
        // RFC 6749 §6: a refresh may narrow nothing beyond the original grant;
        // Latchkey keeps the family's scopes and refuses anything wider.
        let requested = Scopes::from_stored(requested);
        if !requested.is_subset(&scopes) {
            return Err(GrantError::InvalidScope(
                "The requested scope is wider than the one granted.".into(),
            ));
        }
    }
    // Spend it: only one request can.
    let first_use = sqlx::query(
        "UPDATE oauth_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(row.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !first_use {
        // Read again: a racing request may have spent it after the read above
        // (PostgreSQL re-checks the UPDATE against the committed row, so the
        // first read can be older than the refusal).
        let (used_at, successor_id): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT used_at, successor_id FROM oauth_tokens WHERE id = $1")
                .bind(row.id)
                .fetch_one(&mut *tx)
                .await?;
        row.used_at = used_at;
        row.successor_id = successor_id;
        let in_grace = row
            .used_at
            .is_some_and(|used| now - used <= REFRESH_REUSE_GRACE_SECS);
        // Within the grace period, withdraw the successor if it was never used.
        let withdrawn = in_grace
            && match row.successor_id {
                Some(successor) => {
                    sqlx::query(
                        "UPDATE oauth_tokens SET revoked_at = $1 \
                         WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(successor)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1
                }
                None => false,
            };
        if withdrawn {
            // And the access token issued with it, which the client never got.
            sqlx::query(
                "UPDATE oauth_tokens SET revoked_at = $1 WHERE session_id = $2 AND kind = 'access' \
                 AND revoked_at IS NULL AND created_at = \
                 (SELECT created_at FROM oauth_tokens WHERE id = $3)",
            )
            .bind(now)
            .bind(row.session_id)
            .bind(row.successor_id)
            .execute(&mut *tx)
            .await?;
        }
        if !withdrawn {
            sqlx::query(
                "UPDATE oauth_sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(row.session_id)
            .execute(&mut *tx)
            .await?;
            db.commit_auth_change(tx).await?;
            tracing::warn!(
                session = row.session_id,
                "a spent refresh token was used again; its token family is revoked"
            );
            return Err(invalid());
        }
    }
    sqlx::query("UPDATE oauth_sessions SET last_refreshed_at = $1 WHERE id = $2")
        .bind(now)
        .bind(row.session_id)
        .execute(&mut *tx)
        .await?;
    let pair = issue_pair(&mut tx, row.session_id, &row.session_scopes, now, lifetimes).await?;
    sqlx::query("UPDATE oauth_tokens SET successor_id = $1 WHERE id = $2")
        .bind(pair.refresh_id)
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
    db.commit_auth_change(tx).await?;
    Ok(pair.tokens)
}

/// Forgets what can no longer be used, a day after it ended: expired codes,
/// expired access tokens, and token families that expired or were revoked
/// (their spent refresh tokens are kept while the family lives, for reuse
/// detection).
pub async fn prune(db: &Db) -> Result<(), sqlx::Error> {
    let cutoff = now() - 86_400;
    sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
        .bind(cutoff)
        .execute(&db.pool)
        .await?;
    sqlx::query("DELETE FROM oauth_tokens WHERE kind = 'access' AND expires_at < $1")
        .bind(cutoff)
        .execute(&db.pool)
        .await?;
    sqlx::query("DELETE FROM oauth_sessions WHERE expires_at < $1 OR revoked_at < $1")
        .bind(cutoff)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The apps `user_id` granted access, newest first.
pub async fn connections(db: &Db, user_id: i64) -> Result<Vec<Connection>, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        app_name: String,
        app_owner: String,
        scopes: String,
        restricted_to_orgs: i64,
        created_at: i64,
        last_used_at: Option<i64>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT g.id, c.name AS app_name, COALESCE(u.display_name, o.name, 'unknown') AS app_owner, \
         g.scopes, g.restricted_to_orgs, g.created_at, g.last_used_at \
         FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id \
         LEFT JOIN users u ON u.id = c.owner_user_id LEFT JOIN organizations o ON o.id = c.owner_org_id \
         WHERE g.user_id = $1 AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.id DESC",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let organizations = if row.restricted_to_orgs != 0 {
            let orgs: Vec<(String,)> = sqlx::query_as(
                "SELECT o.slug FROM oauth_grant_orgs go JOIN organizations o ON o.id = go.org_id \
                 WHERE go.grant_id = $1 ORDER BY o.slug",
            )
            .bind(row.id)
            .fetch_all(&db.pool)
            .await?;
            Some(orgs.into_iter().map(|(slug,)| slug).collect())
        } else {
            None
        };
        out.push(Connection {
            grant_id: row.id,
            app_name: row.app_name,
            app_owner: row.app_owner,
            scopes: Scopes::from_stored(&row.scopes)
                .iter()
                .map(str::to_string)
                .collect(),
            organizations,
            granted_at: row.created_at,
            last_used_at: row.last_used_at,
        });
    }
    Ok(out)
}

/// "Revoke access": ends the grant and every token issued under it, at once.
/// Another person's grant is not found.
pub async fn revoke_connection(
    db: &Db,
    actor: &Actor<'_>,
    user_id: i64,
    grant_id: i64,
) -> Result<(), AppError> {
    let now = now();
    let mut tx = db.pool.begin().await?;
    let revoked: Option<(i64,)> = sqlx::query_as(
        "UPDATE oauth_grants SET revoked_at = $1 \
         WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL RETURNING client_id",
    )
    .bind(now)
    .bind(grant_id)
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((client,)) = revoked else {
        return Err(AppError::not_found("Connection"));
    };
    let (name, client_id): (String, String) =
        sqlx::query_as("SELECT name, client_id FROM oauth_clients WHERE id = $1")
            .bind(client)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "UPDATE oauth_sessions SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(grant_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "app.access_revoked",
        Target {
            label: &name,
            detail: Some(json!({ "client_id": client_id, "grant_id": grant_id })),
            org_id: None,
            group_id: None,
            subject_user_id: None,
        },
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

/// The confidential client behind HTTP Basic credentials, when an instance
/// admin allowed it to introspect tokens; none for anything else, including
/// a wrong secret (the caller answers 401 either way).
pub async fn resource_server(
    db: &Db,
    client_id: &str,
    secret: &str,
) -> Result<Option<ClientRow>, AppError> {
    let client = find_client(db, client_id).await?;
    Ok(client.filter(|client| {
        client.is_active()
            && client.is_confidential()
            && client.may_introspect != 0
            && client.secret_matches(secret)
    }))
}

/// Every registered application, for instance admins.
pub async fn every_app(db: &Db) -> Result<Vec<super::AdminAppView>, AppError> {
    let rows: Vec<ClientRow> = sqlx::query_as(&format!(
        "SELECT {CLIENT_COLUMNS} FROM {CLIENT_FROM} ORDER BY c.name, c.id"
    ))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| super::AdminAppView {
            app: row.summary(),
            owner: row.owner_label.clone(),
            may_introspect: row.may_introspect != 0,
            unverified: row.unverified != 0,
        })
        .collect())
}

/// Lets a confidential client call introspection with its own credentials,
/// or stops it.
pub async fn set_may_introspect(
    db: &Db,
    actor: &Actor<'_>,
    client_id: &str,
    allowed: bool,
) -> Result<(), AppError> {
    let client = find_client(db, client_id)
        .await?
        .ok_or_else(|| AppError::not_found("Application"))?;
    if allowed && !client.is_confidential() {
        return Err(AppError::Conflict(
            "Only a confidential client, which can keep a secret, may introspect tokens.".into(),
        ));
    }
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE oauth_clients SET may_introspect = $1 WHERE id = $2")
        .bind(i64::from(allowed))
        .bind(client.id)
        .execute(&mut *tx)
        .await?;
    let action = if allowed {
        "app.introspection_allowed"
    } else {
        "app.introspection_stopped"
    };
    audit::record(&mut *tx, actor, action, app_target(&client)).await?;
    tx.commit().await?;
    Ok(())
}

/// The applications acting in organization `org_id` for its members: how
/// many people granted each, when one was last used, and whether the
/// organization's admins stopped it here.
pub async fn acting_in_org(db: &Db, org_id: i64) -> Result<Vec<super::AppInOrg>, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        client_id: String,
        name: String,
        owner_label: String,
        people: i64,
        last_used_at: Option<i64>,
        blocked: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT c.client_id, c.name, COALESCE(u.display_name, o.name, 'nobody here (it registered itself)') AS owner_label, \
         (SELECT COUNT(*) FROM oauth_grants g JOIN org_memberships m ON m.user_id = g.user_id AND m.org_id = $1 \
            WHERE g.client_id = c.id AND g.revoked_at IS NULL AND (g.restricted_to_orgs = 0 OR EXISTS \
              (SELECT 1 FROM oauth_grant_orgs go WHERE go.grant_id = g.id AND go.org_id = $1))) AS people, \
         (SELECT MAX(g.last_used_at) FROM oauth_grants g JOIN org_memberships m ON m.user_id = g.user_id AND m.org_id = $1 \
            WHERE g.client_id = c.id AND g.revoked_at IS NULL) AS last_used_at, \
         (SELECT COUNT(*) FROM oauth_org_blocks b WHERE b.org_id = $1 AND b.client_id = c.id) AS blocked \
         FROM {CLIENT_FROM} ORDER BY c.name, c.id"
    ))
    .bind(org_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|row| row.people > 0 || row.blocked > 0)
        .map(|row| super::AppInOrg {
            client_id: row.client_id,
            name: row.name,
            owner: row.owner_label,
            people: row.people,
            last_used_at: row.last_used_at,
            blocked: row.blocked > 0,
        })
        .collect())
}

/// Stops an application from acting in organization `org_id` (for every
/// member, at once), or lets it again.
pub async fn set_blocked_in_org(
    db: &Db,
    actor: &Actor<'_>,
    org_id: i64,
    client_id: &str,
    blocked: bool,
) -> Result<(), AppError> {
    let client = find_client(db, client_id)
        .await?
        .ok_or_else(|| AppError::not_found("Application"))?;
    let mut tx = db.pool.begin().await?;
    if blocked {
        sqlx::query(
            "INSERT INTO oauth_org_blocks (org_id, client_id, blocked_at) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id, client_id) DO NOTHING",
        )
        .bind(org_id)
        .bind(client.id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query("DELETE FROM oauth_org_blocks WHERE org_id = $1 AND client_id = $2")
            .bind(org_id)
            .bind(client.id)
            .execute(&mut *tx)
            .await?;
    }
    let action = if blocked {
        "app.blocked_in_org"
    } else {
        "app.allowed_in_org"
    };
    audit::record(
        &mut *tx,
        actor,
        action,
        Target {
            label: &client.name,
            detail: Some(json!({ "client_id": client.client_id })),
            org_id: Some(org_id),
            group_id: None,
            subject_user_id: None,
        },
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

/// Slugs of the person's organizations that do not let applications act in
/// them (Settings), or stopped this one.
pub async fn orgs_forbidding_apps(
    db: &Db,
    user_id: i64,
    client: &ClientRow,
) -> Result<BTreeSet<String>, AppError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT o.slug FROM organizations o JOIN org_memberships m ON m.org_id = o.id \
         WHERE m.user_id = $1 AND (o.allow_oauth_apps = 0 OR EXISTS \
           (SELECT 1 FROM oauth_org_blocks b WHERE b.org_id = o.id AND b.client_id = $2))",
    )
    .bind(user_id)
    .bind(client.id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(slug,)| slug).collect())
}

/// The ids of the organizations among `slugs` that `user_id` is a member of;
/// anything else chosen is ignored.
pub async fn org_ids_of_member(
    db: &Db,
    user_id: i64,
    slugs: &BTreeSet<String>,
) -> Result<BTreeSet<i64>, AppError> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT o.id, o.slug FROM organizations o JOIN org_memberships m ON m.org_id = o.id \
         WHERE m.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, slug)| slugs.contains(slug))
        .map(|(id, _)| id)
        .collect())
}

/// The scopes an application may be registered for: built-in ones that mean
/// something for a token acting as a person, and the instance's custom ones.
pub async fn registrable_scopes(db: &Db) -> Result<Vec<(String, String)>, AppError> {
    let mut out: Vec<(String, String)> = access::applicable_built_in_scopes(TokenKind::OAuth)
        .filter(|scope| scope.name != access::TOKENS_INTROSPECT)
        .map(|scope| (scope.name.to_string(), scope.description.to_string()))
        .collect();
    out.extend(
        crate::scopes::server::list_custom(db)
            .await?
            .into_iter()
            .map(|scope| (scope.name, scope.description)),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback() {
        assert!(check_redirect_uri("https://app.example.com/callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1/callback").is_ok());
        assert!(check_redirect_uri("http://[::1]:8080/cb").is_ok());
        for bad in [
            "http://app.example.com/cb",
            "http://localhost/cb",
            "https://app.example.com/cb#frag",
            "ftp://example.com/",
            "/relative",
            "https://user:pw@example.com/",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_matching_is_exact_except_for_loopback_ports() {
        let m = redirect_matches;
        assert!(m("https://a.example/cb", "https://a.example/cb"));
        assert!(!m("https://a.example/cb", "https://a.example/cb/"));
        assert!(!m("https://a.example/cb", "https://a.example/cb?x=1"));
        assert!(!m("https://a.example/cb", "https://a.example:8443/cb"));
        assert!(m("http://127.0.0.1/cb", "http://127.0.0.1:49152/cb"));
        assert!(m("http://[::1]:1/cb", "http://[::1]:2/cb"));
        assert!(!m("http://127.0.0.1/cb", "http://127.0.0.1:49152/other"));
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(valid_verifier(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!valid_verifier("short"));
    }
}
