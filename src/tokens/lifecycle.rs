//! What happens to a token through its own secret rather than a signed-in
//! manager: a token describing, revoking or rotating itself, introspection
//! (RFC 7662), revocation by whoever holds the secret (RFC 7009) and leak
//! reports from secret scanners. Server only.

use super::secret::PlainToken;
use super::server::{
    disable_with_successors, hold_custom_scopes, insert_token, load_identity, restricted_orgs,
    Owner, TokenIdentity, TokenInsert,
};
use super::TokenSummary;
use crate::access::Scopes;
use crate::domain::{AllowedAddresses, ExpiryPolicy, Role};
use crate::error::AppError;
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{now, Db};
use crate::tokens::TokenKind;
use serde_json::json;

/// Longest overlap a rotation may keep the old secret working for.
pub const MAX_GRACE_SECONDS: i64 = 24 * 3600;

/// Most token strings one leak report may carry.
pub const MAX_LEAK_REPORT_ITEMS: usize = 100;

/// The stored facts about a token found by its secret, whatever its state.
#[derive(sqlx::FromRow)]
struct StoredToken {
    id: i64,
    name: String,
    user_id: i64,
    org_id: Option<i64>,
    group_id: Option<i64>,
    created_by: Option<i64>,
    created_by_token_id: Option<i64>,
    created_by_token_name: Option<String>,
    expires_at: Option<i64>,
    disabled_at: Option<i64>,
    scopes: String,
    restricted_to_orgs: i64,
    allowed_ips: String,
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
            subject_user_id: match self.owner() {
                Owner::Personal { user_id } => Some(user_id),
                _ => None,
            },
        }
    }
}

const STORED_SELECT: &str = "SELECT id, name, user_id, org_id, group_id, created_by, \
     created_by_token_id, created_by_token_name, expires_at, disabled_at, scopes, \
     restricted_to_orgs, allowed_ips FROM access_tokens";

async fn stored_by_id(db: &Db, id: i64) -> Result<Option<StoredToken>, AppError> {
    Ok(sqlx::query_as(&format!("{STORED_SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?)
}

/// The token whose secret is `raw`; none for a malformed or unknown string,
/// decided before any database read when the checksum is wrong.
async fn stored_by_secret(db: &Db, raw: &str) -> Result<Option<StoredToken>, AppError> {
    let Ok(token) = PlainToken::parse(raw.trim()) else {
        return Ok(None);
    };
    Ok(
        sqlx::query_as(&format!("{STORED_SELECT} WHERE digest = $1"))
            .bind(token.digest().to_hex())
            .fetch_optional(&db.pool)
            .await?,
    )
}

/// The identity behind `raw` when it would be accepted right now; none when it
/// is malformed, unknown, disabled, expired, its user suspended or its kind
/// switched off. Reads the database, not the cache, and notes no use: asking
/// about a token is not using it.
pub async fn active_identity(db: &Db, raw: &str) -> Result<Option<TokenIdentity>, AppError> {
    let Ok(token) = PlainToken::parse(raw.trim()) else {
        return Ok(None);
    };
    let identity = match token.kind() {
        kind @ (TokenKind::OAuth | TokenKind::OAuthRefresh) => {
            super::server::load_oauth_identity(db, kind, &token.digest().to_hex()).await?
        }
        _ => load_identity(db, &token.digest().to_hex()).await?,
    };
    Ok(identity.filter(|identity| identity.is_accepted(now())))
}

/// What an OAuth access token is answered at the routes about a token's own
/// record: it has none of its own (whoami says what it is), and it renews
/// through its refresh token.
fn not_for_oauth(identity: &TokenIdentity) -> Result<(), AppError> {
    match identity.oauth {
        Some(_) => Err(AppError::Conflict(
            "An OAuth access token belongs to its application: whoami describes it, the token endpoint renews it and /oauth/revoke ends it.".into(),
        )),
        None => Ok(()),
    }
}

/// A token's own view of itself.
pub async fn describe_self(db: &Db, identity: &TokenIdentity) -> Result<TokenSummary, AppError> {
    not_for_oauth(identity)?;
    super::server::summary_by_id(db, identity.token_id).await
}

/// Disables one token (the token revoking itself, or RFC 7009 revocation)
/// and any successor it was rotated into; an already disabled one is left as
/// it was.
async fn disable(
    db: &Db,
    actor: &Actor<'_>,
    token: &StoredToken,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let mut tx = db.pool.begin().await?;
    disable_with_successors(&mut tx, token.id, now(), None).await?;
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
    not_for_oauth(identity)?;
    let token = stored_by_id(db, identity.token_id)
        .await?
        .ok_or_else(|| AppError::not_found("Token"))?;
    disable(
        db,
        actor,
        &token,
        "token.revoked",
        json!({ "token_id": token.id, "by": "itself" }),
    )
    .await
}

/// RFC 7009: whoever holds a secret may revoke it. Unknown and malformed
/// strings are answered like known ones, so the endpoint tells nothing.
pub async fn revoke_by_secret(db: &Db, actor: &Actor<'_>, raw: &str) -> Result<(), AppError> {
    if let Ok(token) = PlainToken::parse(raw.trim()) {
        if token.kind().is_oauth() {
            return revoke_oauth_secret(db, actor, &token).await;
        }
    }
    match stored_by_secret(db, raw).await? {
        Some(token) if token.disabled_at.is_none() => {
            disable(
                db,
                actor,
                &token,
                "token.revoked",
                json!({ "token_id": token.id, "by": "revocation request" }),
            )
            .await
        }
        _ => Ok(()),
    }
}

/// RFC 7009 for OAuth tokens: an access token ends alone; a refresh token
/// ends its whole family, access tokens included (§2.1).
async fn revoke_oauth_secret(
    db: &Db,
    actor: &Actor<'_>,
    token: &PlainToken,
) -> Result<(), AppError> {
    let now = now();
    let mut tx = db.pool.begin().await?;
    let res = if token.kind() == TokenKind::OAuthRefresh {
        sqlx::query(
            "UPDATE oauth_sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND id = \
             (SELECT session_id FROM oauth_tokens WHERE digest = $2 AND kind = 'refresh')",
        )
    } else {
        sqlx::query(
            "UPDATE oauth_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND digest = $2 AND kind = 'access'",
        )
    }
    .bind(now)
    .bind(token.digest().to_hex())
    .execute(&mut *tx)
    .await?;
    if res.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(());
    }
    audit::record(
        &mut *tx,
        actor,
        "app.token_revoked",
        audit::Target {
            org_id: None,
            group_id: None,
            label: token.kind().name(),
            detail: Some(json!({ "by": "revocation request" })),
            subject_user_id: None,
        },
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(())
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
///
/// The successor is inserted and the old row claimed in one transaction, and
/// the claim is a guarded statement: only a token that still exists and is
/// not disabled, reported leaked, already replaced or expired can be claimed.
/// Unless exactly that one row changed, the transaction is rolled back and
/// the answer is `None` (the caller answers 401): whatever another instance's
/// cache still believes, a revoked token never hands out a successor.
pub async fn rotate(
    db: &Db,
    actor: &Actor<'_>,
    identity: &TokenIdentity,
    grace_seconds: i64,
    policy: &ExpiryPolicy,
) -> Result<Option<Rotated>, AppError> {
    if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
        return Err(AppError::invalid(
            "grace_seconds",
            format!("The grace period is from 0 to {MAX_GRACE_SECONDS} seconds (24 hours)."),
        ));
    }
    not_for_oauth(identity)?;
    let Some(old) = stored_by_id(db, identity.token_id).await? else {
        return Ok(None);
    };
    let now = now();
    let expires_at = rotated_expiry(&old, policy, now);
    let secret = PlainToken::generate(old.owner().kind());
    let grace_end = now + grace_seconds;
    // The successor may do exactly what its predecessor could.
    let scopes = Scopes::from_stored(&old.scopes);
    let allowed = AllowedAddresses::from_stored(&old.allowed_ips);
    let acts_in = if old.restricted_to_orgs != 0 {
        Some(restricted_orgs(db, old.id).await?)
    } else {
        None
    };
    // A custom scope deleted meanwhile is not passed on.
    let scopes: Scopes = {
        let custom = super::server::custom_scope_names(db).await?;
        scopes
            .iter()
            .filter(|name| crate::access::is_built_in(name) || custom.contains(*name))
            .map(str::to_string)
            .collect()
    };
    // Nothing below takes a second connection while this one is held.
    let mut tx = db.pool.begin().await?;
    let id = insert_token(
        &mut tx,
        TokenInsert {
            kind: old.owner().kind(),
            user_id: old.user_id,
            name: &old.name,
            secret: &secret,
            created_at: now,
            created_by: old.created_by,
            created_by_token: old
                .created_by_token_id
                .zip(old.created_by_token_name.as_deref()),
            expires_at,
            owner: old.owner(),
            scopes: &scopes,
            acts_in: acts_in.as_ref(),
            allowed: &allowed,
        },
    )
    .await?;
    hold_custom_scopes(db, &mut tx, &scopes).await?;
    let claimed = sqlx::query(
        "UPDATE access_tokens SET replaced_by = $1, \
           expires_at = CASE WHEN expires_at IS NULL OR expires_at > $2 THEN $2 ELSE expires_at END \
         WHERE id = $3 AND disabled_at IS NULL AND leaked_at IS NULL AND replaced_by IS NULL \
           AND (expires_at IS NULL OR expires_at > $4) \
           AND EXISTS (SELECT 1 FROM users u WHERE u.id = access_tokens.user_id AND u.is_disabled = 0)",
    )
    .bind(id)
    .bind(grace_end)
    .bind(old.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(None);
    }
    // Organizations that approved the old token have approved its successor.
    sqlx::query(
        "INSERT INTO token_org_approvals (token_id, org_id, approved, decided_by, decided_at) \
         SELECT $1, org_id, approved, decided_by, decided_at FROM token_org_approvals \
         WHERE token_id = $2",
    )
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
    Ok(Some(Rotated {
        token: super::server::summary_by_id(db, id).await?,
        secret: secret.expose_secret().to_string(),
        previous_token_id: old.id,
        previous_expires_at: old.expires_at.map_or(grace_end, |at| at.min(grace_end)),
    }))
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
        let mut tx = db.pool.begin().await?;
        disable_with_successors(&mut tx, token.id, now(), Some(location.as_deref())).await?;
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
    /// The granted scopes, space-separated (RFC 7662 §2.2): built-in ones
    /// such as `identity:read`, and custom ones such as `billing:read`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "identity:read billing:read")]
    pub scope: Option<String>,
    /// `Bearer`, or `refresh_token` for an OAuth refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The token's id; for a token an application holds, the application's
    /// client ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// `personal`, `organization`, `group`, or `oauth` and `oauth_refresh` for tokens
    /// an application holds (then `client_id` is the application's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// For a personal token restricted to some organizations: their slugs.
    /// Absent: it acts in every organization its user is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["acme"]))]
    pub acts_in: Option<Vec<String>>,
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
    let acts_in = target.grant.acts_in.as_ref().map(|_| {
        // The organizations it reaches are exactly those of the restriction
        // that its user is (still) in.
        target
            .organizations
            .iter()
            .map(|org| org.slug.clone())
            .collect()
    });
    Introspection {
        active: true,
        sub: Some(target.user_id.to_string()),
        username: Some(
            target
                .email
                .clone()
                .unwrap_or_else(|| target.display_name.clone()),
        ),
        scope: Some(target.grant.scopes.to_stored()),
        token_type: Some(
            match target.kind {
                TokenKind::OAuthRefresh => "refresh_token",
                _ => "Bearer",
            }
            .into(),
        ),
        client_id: Some(match &target.oauth {
            Some(origin) => origin.client_id.clone(),
            None => target.token_id.to_string(),
        }),
        iat: Some(target.created_at),
        exp: target.expires_at,
        kind: Some(target.kind.name().to_string()),
        organization,
        group,
        role,
        acts_in,
    }
}

#[cfg(test)]
mod tests {
    use super::{rotated_expiry, StoredToken};
    use crate::domain::ExpiryPolicy;

    fn token(expires_at: Option<i64>) -> StoredToken {
        StoredToken {
            id: 1,
            name: "ci".into(),
            user_id: 1,
            org_id: None,
            group_id: None,
            created_by: None,
            created_by_token_id: None,
            created_by_token_name: None,
            expires_at,
            disabled_at: None,
            scopes: String::new(),
            restricted_to_orgs: 0,
            allowed_ips: String::new(),
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
