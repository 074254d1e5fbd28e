//! Custom scopes (server only).

use super::ScopeInfo;
use crate::access::{self, check_scope_name};
use crate::error::AppError;
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{is_unique_violation, now, Db};
use serde_json::json;

/// Longest description of a custom scope.
pub const MAX_DESCRIPTION_LEN: usize = 200;

pub async fn list_custom(db: &Db) -> Result<Vec<ScopeInfo>, AppError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT name, description FROM custom_scopes ORDER BY name")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(name, description)| ScopeInfo { name, description })
        .collect())
}

/// Defines a custom scope. Its name must be well formed and not a built-in
/// scope's; the description says what it allows, for people choosing scopes.
pub async fn create_custom(
    db: &Db,
    actor: &Actor<'_>,
    name: &str,
    description: &str,
) -> Result<(), AppError> {
    let name = name.trim();
    check_scope_name(name).map_err(|message| AppError::invalid("name", message))?;
    if access::is_built_in(name) {
        return Err(AppError::invalid(
            "name",
            format!("{name} is one of Latchkey's own scopes."),
        ));
    }
    let description = description.trim();
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(AppError::invalid(
            "description",
            format!("Say in 1 to {MAX_DESCRIPTION_LEN} characters what the scope allows."),
        ));
    }
    let mut tx = db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO custom_scopes (name, description, created_at) VALUES ($1, $2, $3)",
    )
    .bind(name)
    .bind(description)
    .bind(now())
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => {
            return Err(AppError::invalid(
                "name",
                format!("There is already a scope called {name}."),
            ))
        }
        other => other?,
    };
    audit::record(
        &mut *tx,
        actor,
        "scope.created",
        Target {
            org_id: None,
            group_id: None,
            label: name,
            detail: Some(json!({ "description": description })),
            subject_user_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a custom scope and takes it from every token holding it, in one
/// transaction; services stop seeing it in introspection at once.
pub async fn delete_custom(db: &Db, actor: &Actor<'_>, name: &str) -> Result<u64, AppError> {
    let mut tx = db.pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM custom_scopes WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(AppError::not_found("Scope"));
    }
    // Stored space-separated: pad, cut the name out, trim.
    let stripped = sqlx::query(
        "UPDATE access_tokens SET scopes = TRIM(REPLACE(' ' || scopes || ' ', $1, ' ')) \
         WHERE ' ' || scopes || ' ' LIKE $2",
    )
    .bind(format!(" {name} "))
    .bind(format!("% {name} %"))
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "scope.deleted",
        Target {
            org_id: None,
            group_id: None,
            label: name,
            detail: Some(json!({ "tokens": stripped.rows_affected() })),
            subject_user_id: None,
        },
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(stripped.rows_affected())
}
