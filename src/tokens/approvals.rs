//! Organization approval of personal tokens (server only). When an
//! organization requires it, a personal token acts there only after one of
//! its admins approved it; until then it is a request on the organization's
//! Access Tokens tab.

use super::TokenRequest;
use crate::access::Scopes;
use crate::error::AppError;
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{now, Db};
use serde_json::json;

/// The personal tokens that could act in organization `$1` and await its
/// decision: active, newest of their rotation chain, of a current member,
/// acting there by their restriction, with no decision yet. (Alias `t`.)
const REQUESTS: &str = "FROM access_tokens t \
     JOIN users u ON u.id = t.user_id \
     JOIN org_memberships m ON m.user_id = t.user_id AND m.org_id = $1 \
     JOIN organizations o ON o.id = $1 AND o.personal_tokens_need_approval = 1 \
     WHERE t.kind = 'personal' AND t.disabled_at IS NULL AND t.replaced_by IS NULL \
       AND (t.expires_at IS NULL OR t.expires_at > $2) \
       AND (t.restricted_to_orgs = 0 OR EXISTS (SELECT 1 FROM token_org_restrictions r \
            WHERE r.token_id = t.id AND r.org_id = $1)) \
       AND NOT EXISTS (SELECT 1 FROM token_org_approvals a \
            WHERE a.token_id = t.id AND a.org_id = $1)";

#[derive(sqlx::FromRow)]
struct RequestRow {
    id: i64,
    name: String,
    display_name: String,
    email: Option<String>,
    scopes: String,
    created_at: i64,
    expires_at: Option<i64>,
}

/// The organization's open requests, oldest first.
pub async fn requests(db: &Db, org_id: i64) -> Result<Vec<TokenRequest>, AppError> {
    let rows: Vec<RequestRow> = sqlx::query_as(&format!(
        "SELECT t.id, t.name, u.display_name, u.email, t.scopes, t.created_at, t.expires_at \
         {REQUESTS} ORDER BY t.created_at, t.id"
    ))
    .bind(org_id)
    .bind(now())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| TokenRequest {
            token_id: row.id,
            name: row.name,
            owner: match row.email {
                Some(email) => format!("{} ({email})", row.display_name),
                None => row.display_name,
            },
            scopes: Scopes::from_stored(&row.scopes)
                .iter()
                .map(str::to_string)
                .collect(),
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
        .collect())
}

/// Approves or denies one open request. The decision is one guarded insert:
/// of two admins deciding at once, the first wins and the second is told it
/// was decided meanwhile. Any token that is not an open request here answers
/// 404, whoever's it is.
pub async fn decide(
    db: &Db,
    actor: &Actor<'_>,
    org_id: i64,
    token_id: i64,
    approve: bool,
) -> Result<(), AppError> {
    let now = now();
    let mut tx = db.pool.begin().await?;
    let inserted: Option<(i64,)> = sqlx::query_as(&format!(
        "INSERT INTO token_org_approvals (token_id, org_id, approved, decided_by, decided_at) \
         SELECT t.id, $1, $3, $4, $2 {REQUESTS} AND t.id = $5 \
         ON CONFLICT (token_id, org_id) DO NOTHING RETURNING token_id"
    ))
    .bind(org_id)
    .bind(now)
    .bind(i64::from(approve))
    .bind(actor.user_id)
    .bind(token_id)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        tx.rollback().await?;
        return Err(decided_or_missing(db, org_id, token_id).await?);
    }
    let (name, owner): (String, i64) =
        sqlx::query_as("SELECT name, user_id FROM access_tokens WHERE id = $1")
            .bind(token_id)
            .fetch_one(&mut *tx)
            .await?;
    audit::record(
        &mut *tx,
        actor,
        if approve {
            "token.approved"
        } else {
            "token.denied"
        },
        Target {
            org_id: Some(org_id),
            group_id: None,
            label: &name,
            detail: Some(json!({ "token_id": token_id })),
            subject_user_id: Some(owner),
        },
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

async fn decided_or_missing(db: &Db, org_id: i64, token_id: i64) -> Result<AppError, AppError> {
    let decided: Option<(i64,)> = sqlx::query_as(
        "SELECT approved FROM token_org_approvals WHERE token_id = $1 AND org_id = $2",
    )
    .bind(token_id)
    .bind(org_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(match decided {
        Some((approved,)) => AppError::Conflict(format!(
            "Another admin {} this token meanwhile.",
            if approved != 0 { "approved" } else { "denied" }
        )),
        None => AppError::not_found("Request"),
    })
}
