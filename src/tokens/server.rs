//! Token rules (server only): creating, listing and changing personal tokens,
//! and checking a presented token on the API's hot path.

use super::secret::{PlainToken, TokenKind};
use super::{CreatedToken, TokenActivity, TokenStatus, TokenSummary};
use crate::domain::{ExpiryChoice, ExpiryPolicy, TokenName};
use crate::error::AppError;
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{now, Db};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most personal tokens one person may hold.
pub const MAX_TOKENS_PER_USER: i64 = 500;

type TokenRow = (
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn summary_from_row(row: TokenRow, now: i64) -> TokenSummary {
    let (id, name, hint, created_at, expires_at, disabled_at, last_used_at, last_used_ip) = row;
    TokenSummary {
        id,
        name,
        hint,
        created_at,
        expires_at,
        last_used_at,
        last_used_ip,
        status: TokenStatus::of(disabled_at, expires_at, now),
    }
}

const SUMMARY_COLUMNS: &str =
    "id, name, hint, created_at, expires_at, disabled_at, last_used_at, last_used_ip";

/// Recent token events the user caused, newest first.
pub async fn recent_activity(
    db: &Db,
    user_id: i64,
    limit: i64,
) -> Result<Vec<TokenActivity>, AppError> {
    let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT occurred_at, action, target_label, ip FROM audit_events \
         WHERE actor_user_id = $1 AND action LIKE 'token.%' ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, action, token_name, ip)| TokenActivity {
            at,
            action,
            token_name,
            ip,
        })
        .collect())
}

/// A user's personal tokens, newest first.
pub async fn list_personal(db: &Db, user_id: i64) -> Result<Vec<TokenSummary>, AppError> {
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM access_tokens WHERE user_id = $1 AND kind = 'personal' \
         ORDER BY created_at DESC, id DESC"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let now = now();
    Ok(rows.into_iter().map(|r| summary_from_row(r, now)).collect())
}

pub async fn create_personal(
    db: &Db,
    actor: &Actor<'_>,
    user_id: i64,
    name: &str,
    expiry: &str,
    custom_expiry: &str,
    policy: &ExpiryPolicy,
) -> Result<CreatedToken, AppError> {
    let name = TokenName::parse(name)?;
    let now = now();
    let expires_at = policy.resolve(ExpiryChoice::parse(expiry, custom_expiry)?, now)?;
    let (count, same_name): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN name = $2 THEN 1 ELSE 0 END), 0) \
         FROM access_tokens WHERE user_id = $1 AND kind = 'personal'",
    )
    .bind(user_id)
    .bind(name.as_str())
    .fetch_one(&db.pool)
    .await?;
    if count >= MAX_TOKENS_PER_USER {
        return Err(AppError::Conflict(format!(
            "You have {MAX_TOKENS_PER_USER} tokens, the most allowed. Delete ones you no longer use first."
        )));
    }
    let token = PlainToken::generate(TokenKind::Personal);
    let mut tx = db.pool.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at, created_by, expires_at) \
         VALUES ('personal', $1, $2, $3, $4, $5, $1, $6) RETURNING id",
    )
    .bind(user_id)
    .bind(name.as_str())
    .bind(token.digest().to_hex())
    .bind(token.hint())
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "token.created",
        Target {
            label: name.as_str(),
            detail: Some(json!({ "token_id": id, "kind": "personal", "expires_at": expires_at })),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedToken {
        token: TokenSummary {
            id,
            name: name.as_str().to_string(),
            hint: token.hint(),
            created_at: now,
            expires_at,
            last_used_at: None,
            last_used_ip: None,
            status: TokenStatus::Active,
        },
        secret: token.expose_secret().to_string(),
        duplicate_name: same_name > 0,
    })
}

/// One personal token of `user_id`; anyone else's id is simply not found.
async fn own_token(db: &Db, user_id: i64, token_id: i64) -> Result<TokenSummary, AppError> {
    let row: Option<TokenRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM access_tokens WHERE id = $1 AND user_id = $2 AND kind = 'personal'"
    ))
    .bind(token_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| summary_from_row(r, now()))
        .ok_or_else(|| AppError::not_found("Token"))
}

pub async fn set_personal_enabled(
    db: &Db,
    actor: &Actor<'_>,
    user_id: i64,
    token_id: i64,
    enabled: bool,
) -> Result<(), AppError> {
    let token = own_token(db, user_id, token_id).await?;
    if enabled && token.status == TokenStatus::Expired {
        return Err(AppError::Conflict(
            "An expired token cannot be enabled. Create a new one.".into(),
        ));
    }
    let disabled_at = (!enabled).then(now);
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE access_tokens SET disabled_at = $1 WHERE id = $2 AND user_id = $3")
        .bind(disabled_at)
        .bind(token_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let action = if enabled {
        "token.enabled"
    } else {
        "token.disabled"
    };
    audit::record(
        &mut *tx,
        actor,
        action,
        Target {
            label: &token.name,
            detail: Some(json!({ "token_id": token_id })),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete_personal(
    db: &Db,
    actor: &Actor<'_>,
    user_id: i64,
    token_id: i64,
) -> Result<(), AppError> {
    let token = own_token(db, user_id, token_id).await?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM access_tokens WHERE id = $1 AND user_id = $2")
        .bind(token_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "token.deleted",
        Target {
            label: &token.name,
            detail: Some(json!({ "token_id": token_id })),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Disables every active personal token of the user; returns how many.
pub async fn revoke_all_personal(
    db: &Db,
    actor: &Actor<'_>,
    user_id: i64,
) -> Result<u64, AppError> {
    let now = now();
    let mut tx = db.pool.begin().await?;
    let res = sqlx::query(
        "UPDATE access_tokens SET disabled_at = $1 WHERE user_id = $2 AND kind = 'personal' \
         AND disabled_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "token.revoked_all",
        Target {
            label: "all personal tokens",
            detail: Some(json!({ "count": res.rows_affected() })),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(res.rows_affected())
}

/// Who a valid token acts as.
#[derive(Debug, Clone)]
pub struct TokenIdentity {
    pub token_id: i64,
    pub token_name: String,
    pub kind: String,
    pub expires_at: Option<i64>,
    pub user_id: i64,
    pub display_name: String,
    pub email: Option<String>,
    pub user_kind: String,
}

/// Why a presented token was refused. The API answers all of them alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Missing,
    Malformed,
    Unknown,
    Disabled,
    Expired,
    UserDisabled,
}

/// Checks a presented token: parse and checksum first (no database), then one
/// indexed read. Never writes; last use is recorded in memory for the batch.
pub async fn authenticate(
    db: &Db,
    usage: &UsageRecorder,
    presented: Option<&str>,
    ip: Option<String>,
) -> Result<Result<TokenIdentity, TokenRejection>, AppError> {
    let Some(raw) = presented else {
        return Ok(Err(TokenRejection::Missing));
    };
    let Ok(token) = PlainToken::parse(raw.trim()) else {
        return Ok(Err(TokenRejection::Malformed));
    };
    type Row = (
        i64,
        String,
        String,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        i64,
        String,
        Option<String>,
        String,
        i64,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.id, t.name, t.kind, t.expires_at, t.disabled_at, t.last_used_at, \
         u.id, u.display_name, u.email, u.kind, u.is_disabled \
         FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.digest = $1",
    )
    .bind(token.digest().to_hex())
    .fetch_optional(&db.pool)
    .await?;
    let Some((
        token_id,
        token_name,
        kind,
        expires_at,
        disabled_at,
        last_used_at,
        user_id,
        display_name,
        email,
        user_kind,
        user_disabled,
    )) = row
    else {
        return Ok(Err(TokenRejection::Unknown));
    };
    let now = now();
    match TokenStatus::of(disabled_at, expires_at, now) {
        TokenStatus::Expired => return Ok(Err(TokenRejection::Expired)),
        TokenStatus::Disabled => return Ok(Err(TokenRejection::Disabled)),
        TokenStatus::Active => {}
    }
    if user_disabled != 0 {
        return Ok(Err(TokenRejection::UserDisabled));
    }
    usage.record(token_id, last_used_at, now, ip);
    Ok(Ok(TokenIdentity {
        token_id,
        token_name,
        kind,
        expires_at,
        user_id,
        display_name,
        email,
        user_kind,
    }))
}

/// Last-use times waiting to be written. A token's use is noted at most once a
/// minute and written by `flush`, in a background task, never by the request.
#[derive(Debug, Default, Clone)]
pub struct UsageRecorder {
    pending: Arc<Mutex<HashMap<i64, LastUse>>>,
}

/// When a token was used, and from which address.
type LastUse = (i64, Option<String>);

impl UsageRecorder {
    pub fn record(
        &self,
        token_id: i64,
        stored_last_used: Option<i64>,
        now: i64,
        ip: Option<String>,
    ) {
        if stored_last_used.is_some_and(|t| now - t < 60) {
            return;
        }
        if let Ok(mut pending) = self.pending.lock() {
            pending.entry(token_id).or_insert((now, ip));
        }
    }

    pub async fn flush(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let batch: Vec<_> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(0),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let mut tx = db.pool.begin().await?;
        for (token_id, (at, ip)) in &batch {
            sqlx::query(
                "UPDATE access_tokens SET last_used_at = $1, last_used_ip = $2 WHERE id = $3",
            )
            .bind(at)
            .bind(ip.as_deref())
            .bind(token_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(batch.len())
    }
}
