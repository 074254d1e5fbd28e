//! What happens to a token through its own secret rather than a signed-in
//! manager: a token describing, revoking or rotating itself, introspection
//! (RFC 7662), revocation by whoever holds the secret (RFC 7009) and leak
//! reports from secret scanners. Server only.

use super::secret::PlainToken;
use super::server::{load_identity, Owner, TokenIdentity};
use super::TokenSummary;
use crate::domain::{ExpiryPolicy, Role};
use crate::error::AppError;
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{now, Db};
use serde_json::json;

/// Longest overlap a rotation may keep the old secret working for.
pub const MAX_GRACE_SECONDS: i64 = 24 * 3600;

/// Most token strings one leak report may carry.
pub const MAX_LEAK_REPORT_ITEMS: usize = 100;

/// The stored facts about a token found by its secret, whatever its state.
struct StoredToken {
    id: i64,
    kind: String,
    name: String,
    user_id: i64,
    org_id: Option<i64>,
    group_id: Option<i64>,
    created_by: Option<i64>,
    expires_at: Option<i64>,
    disabled_at: Option<i64>,
}

impl StoredToken {
    fn owner(&self) -> Owner {
        Owner::of_token(self.user_id, self.org_id, self.group_id)
    }

    fn target(&self, detail: serde_json::Value) -> Target<'_> {
        Target {
            org_id: self.org_id,
            group_id: self.group_id,
            label: &self.name,
            detail: Some(detail),
        }
    }
}

type StoredRow = (
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

const STORED_SELECT: &str = "SELECT id, kind, name, user_id, org_id, group_id, created_by, \
     expires_at, disabled_at FROM access_tokens";

fn stored(row: StoredRow) -> StoredToken {
    let (id, kind, name, user_id, org_id, group_id, created_by, expires_at, disabled_at) = row;
    StoredToken {
        id,
        kind,
        name,
        user_id,
        org_id,
        group_id,
        created_by,
        expires_at,
        disabled_at,
    }
}

async fn stored_by_id(db: &Db, id: i64) -> Result<StoredToken, AppError> {
    let row: Option<StoredRow> = sqlx::query_as(&format!("{STORED_SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.map(stored).ok_or_else(|| AppError::not_found("Token"))
}

/// The token whose secret is `raw`; none for a malformed or unknown string,
/// decided before any database read when the checksum is wrong.
async fn stored_by_secret(db: &Db, raw: &str) -> Result<Option<StoredToken>, AppError> {
    let Ok(token) = PlainToken::parse(raw.trim()) else {
        return Ok(None);
    };
    let row: Option<StoredRow> = sqlx::query_as(&format!("{STORED_SELECT} WHERE digest = $1"))
        .bind(token.digest().to_hex())
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(stored))
}

/// The identity behind `raw` when it would be accepted right now; none when it
/// is malformed, unknown, disabled, expired, its user suspended or its kind
/// switched off. Reads the database, not the cache, and notes no use: asking
/// about a token is not using it.
pub async fn active_identity(db: &Db, raw: &str) -> Result<Option<TokenIdentity>, AppError> {
    let Ok(token) = PlainToken::parse(raw.trim()) else {
        return Ok(None);
    };
    let identity = load_identity(db, &token.digest().to_hex()).await?;
    Ok(identity.filter(|identity| identity.is_accepted(now())))
}

/// A token's own view of itself.
pub async fn describe_self(db: &Db, identity: &TokenIdentity) -> Result<TokenSummary, AppError> {
    super::server::summary_by_id(db, identity.token_id).await
}

/// Disables one token (the token revoking itself, RFC 7009 revocation, or a
/// leak report); an already disabled one is left as it was.
async fn disable(
    db: &Db,
    actor: &Actor<'_>,
    token: &StoredToken,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE access_tokens SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
        .bind(now())
        .bind(token.id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, actor, action, token.target(detail)).await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

/// `DELETE /api/v1/tokens/self`: the calling token revokes itself. Its owner
/// can reactivate it, as after any revocation.
pub async fn revoke_self(
    db: &Db,
    actor: &Actor<'_>,
    identity: &TokenIdentity,
) -> Result<(), AppError> {
    let token = stored_by_id(db, identity.token_id).await?;
    disable(
        db,
        actor,
        &token,
        "token.disabled",
        json!({ "token_id": token.id, "by": "itself" }),
    )
    .await
}

/// RFC 7009: whoever holds a secret may revoke it. Unknown and malformed
/// strings are answered like known ones, so the endpoint tells nothing.
pub async fn revoke_by_secret(db: &Db, actor: &Actor<'_>, raw: &str) -> Result<(), AppError> {
    match stored_by_secret(db, raw).await? {
        Some(token) if token.disabled_at.is_none() => {
            disable(
                db,
                actor,
                &token,
                "token.disabled",
                json!({ "token_id": token.id, "by": "revocation request" }),
            )
            .await
        }
        _ => Ok(()),
    }
}

/// What a rotation made: the new token (secret shown once) and until when the
/// old secret keeps working.
pub struct Rotated {
    pub token: TokenSummary,
    pub secret: String,
    pub previous_token_id: i64,
    pub previous_expires_at: i64,
}

/// `POST /api/v1/tokens/self/rotate`: a new secret for the same owner, name,
/// role and acting user, expiring when the old one would have (see
/// `rotated_expiry`); the old secret keeps working for `grace_seconds` and
/// then expires. A token can neither widen nor lengthen what it may do by
/// rotating.
pub async fn rotate(
    db: &Db,
    actor: &Actor<'_>,
    identity: &TokenIdentity,
    grace_seconds: i64,
    policy: &ExpiryPolicy,
) -> Result<Rotated, AppError> {
    if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
        return Err(AppError::invalid(
            "grace_seconds",
            format!("The grace period is from 0 to {MAX_GRACE_SECONDS} seconds (24 hours)."),
        ));
    }
    let old = stored_by_id(db, identity.token_id).await?;
    let now = now();
    let expires_at = rotated_expiry(&old, policy, now);
    let secret = PlainToken::generate(old.owner().kind());
    let previous_expires_at = match old.expires_at {
        Some(at) => at.min(now + grace_seconds),
        None => now + grace_seconds,
    };
    let mut tx = db.pool.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at, created_by, expires_at, org_id, group_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(&old.kind)
    .bind(old.user_id)
    .bind(&old.name)
    .bind(secret.digest().to_hex())
    .bind(secret.hint())
    .bind(now)
    .bind(old.created_by)
    .bind(expires_at)
    .bind(old.org_id)
    .bind(old.group_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE access_tokens SET expires_at = $1, replaced_by = $2 WHERE id = $3")
        .bind(previous_expires_at)
        .bind(id)
        .bind(old.id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "token.rotated",
        old.target(json!({
            "token_id": old.id,
            "new_token_id": id,
            "grace_seconds": grace_seconds,
            "expires_at": expires_at,
        })),
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(Rotated {
        token: super::server::summary_by_id(db, id).await?,
        secret: secret.expose_secret().to_string(),
        previous_token_id: old.id,
        previous_expires_at,
    })
}

/// Rotation changes the secret, not the lifetime: the new token expires when
/// the old one would have, so a leaked token cannot extend itself by
/// rotating. Only a policy tightened since then cuts it shorter; a
/// non-expiring token stays so while the policy allows it, and otherwise gets
/// the policy's maximum (or the longest preset, 90 days).
fn rotated_expiry(old: &StoredToken, policy: &ExpiryPolicy, now: i64) -> Option<i64> {
    let max = policy.max_lifetime_days.map(|days| now + days * 24 * 3600);
    match (old.expires_at, max) {
        (Some(at), Some(max)) => Some(at.min(max)),
        (Some(at), None) => Some(at),
        (None, _) if policy.allow_non_expiring => None,
        (None, max) => Some(max.unwrap_or(now + 90 * 24 * 3600)),
    }
}

/// A leak report: checksum-valid strings that match a token disable it and
/// mark it reported; the rest are ignored. The answer never differs.
pub async fn report_leaked(
    db: &Db,
    reports: &[(String, Option<String>)],
) -> Result<usize, AppError> {
    let mut disabled = 0;
    for (raw, location) in reports {
        let Some(token) = stored_by_secret(db, raw).await? else {
            continue;
        };
        let now = now();
        let mut tx = db.pool.begin().await?;
        sqlx::query(
            "UPDATE access_tokens SET disabled_at = COALESCE(disabled_at, $1), leaked_at = $1, \
             leak_location = $2 WHERE id = $3",
        )
        .bind(now)
        .bind(location.as_deref())
        .bind(token.id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut *tx,
            &Actor::system("leak report"),
            "token.leaked",
            token.target(json!({ "token_id": token.id, "location": location })),
        )
        .await?;
        db.commit_auth_change(tx).await?;
        disabled += 1;
    }
    Ok(disabled)
}

/// RFC 7662's answer. An inactive token (unknown, disabled, expired, or not
/// the caller's to ask about) gets `{"active": false}` and nothing else.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Introspection {
    pub active: bool,
    /// The acting user's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The acting user's email, or the technical user's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `user` for a personal token; `org:<slug>:<role>` or
    /// `group:<org>/<group>:<role>` for organization and group tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The token's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// `personal`, `organization` or `group`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl Introspection {
    pub fn inactive() -> Self {
        Introspection::default()
    }
}

/// What an introspection may say about `target`: who it acts as, where, and
/// with which role.
pub fn introspection(target: &TokenIdentity) -> Introspection {
    let (organization, group, role) = target.home();
    let scope = match (&organization, &group, role) {
        (Some(org), Some(group), Some(role)) => format!("group:{org}/{group}:{}", role.as_str()),
        (Some(org), None, Some(role)) => format!("org:{org}:{}", role.as_str()),
        _ => "user".to_string(),
    };
    Introspection {
        active: true,
        sub: Some(target.user_id.to_string()),
        username: Some(
            target
                .email
                .clone()
                .unwrap_or_else(|| target.display_name.clone()),
        ),
        scope: Some(scope),
        token_type: Some("Bearer".into()),
        client_id: Some(target.token_id.to_string()),
        iat: Some(target.created_at),
        exp: target.expires_at,
        kind: Some(target.kind.clone()),
        organization,
        group,
        role,
    }
}

#[cfg(test)]
mod tests {
    use super::{rotated_expiry, StoredToken};
    use crate::domain::ExpiryPolicy;

    fn token(expires_at: Option<i64>) -> StoredToken {
        StoredToken {
            id: 1,
            kind: "personal".into(),
            name: "ci".into(),
            user_id: 1,
            org_id: None,
            group_id: None,
            created_by: None,
            expires_at,
            disabled_at: None,
        }
    }

    const DAY: i64 = 24 * 3600;

    #[test]
    fn rotation_keeps_the_expiry_within_policy() {
        let open = ExpiryPolicy {
            max_lifetime_days: None,
            allow_non_expiring: true,
        };
        let strict = ExpiryPolicy {
            max_lifetime_days: Some(10),
            allow_non_expiring: false,
        };
        let lax_but_finite = ExpiryPolicy {
            max_lifetime_days: None,
            allow_non_expiring: false,
        };
        // A 30-day token rotated 20 days in still ends on day 30...
        assert_eq!(
            rotated_expiry(&token(Some(30 * DAY)), &open, 20 * DAY),
            Some(30 * DAY)
        );
        // ... or sooner when the policy was tightened since.
        assert_eq!(
            rotated_expiry(&token(Some(90 * DAY)), &strict, 20 * DAY),
            Some(30 * DAY)
        );
        assert_eq!(rotated_expiry(&token(None), &open, 5), None);
        assert_eq!(rotated_expiry(&token(None), &strict, 5), Some(5 + 10 * DAY));
        assert_eq!(
            rotated_expiry(&token(None), &lax_but_finite, 5),
            Some(5 + 90 * DAY)
        );
    }
}
