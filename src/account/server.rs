//! Changes a person makes to their own account (server only).

use super::{describe_user_agent, SessionView};
use crate::auth::server::{confirm_password, hash_password, renew_session_id};
use crate::auth::CurrentUser;
use crate::domain::{DisplayName, Email, Password};
use crate::error::AppError;
use crate::server::audit::{self, Target};
use crate::server::db::{is_unique_violation, now};
use crate::server::request::RequestCtx;
use serde_json::json;

async fn record(
    ctx: &RequestCtx,
    user: &CurrentUser,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    audit::record(
        &ctx.db().pool,
        &ctx.actor(user),
        action,
        Target {
            label: &user.email,
            detail: Some(detail),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

pub async fn change_display_name(
    ctx: &RequestCtx,
    user: &CurrentUser,
    display_name: &str,
) -> Result<(), AppError> {
    let name = DisplayName::parse(display_name)?;
    if name.as_str() == user.display_name {
        return Ok(());
    }
    sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
        .bind(name.as_str())
        .bind(user.id)
        .execute(&ctx.db().pool)
        .await?;
    // Token checks show the name: this instance's answers follow at once.
    ctx.db().follow_auth_changes().await;
    record(
        ctx,
        user,
        "user.name_changed",
        json!({ "from": user.display_name, "to": name.as_str() }),
    )
    .await
}

pub async fn change_email(
    ctx: &RequestCtx,
    user: &CurrentUser,
    email: &str,
    current_password: &str,
) -> Result<(), AppError> {
    let email = Email::parse(email)?;
    confirm_password(ctx, user, current_password).await?;
    if email.as_str() == user.email {
        return Ok(());
    }
    let changed = sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
        .bind(email.as_str())
        .bind(user.id)
        .execute(&ctx.db().pool)
        .await;
    match changed {
        Ok(_) => {
            ctx.db().follow_auth_changes().await;
        }
        Err(err) if is_unique_violation(&err) => {
            return Err(AppError::invalid(
                "email",
                "Another account has this email.",
            ))
        }
        Err(err) => return Err(err.into()),
    }
    record(
        ctx,
        user,
        "user.email_changed",
        json!({ "from": user.email, "to": email.as_str() }),
    )
    .await
}

/// Sets a new password and ends every other session of the person: whoever
/// may have known the old one is signed out everywhere. This browser gets a
/// new session id and stays signed in.
pub async fn change_password(
    ctx: &RequestCtx,
    user: &CurrentUser,
    current_password: &str,
    new_password: &str,
    new_password_confirm: &str,
) -> Result<(), AppError> {
    let password = Password::parse_new(new_password).map_err(|e| e.on_field("new_password"))?;
    if password.expose() != new_password_confirm {
        return Err(AppError::invalid(
            "new_password_confirm",
            "The two passwords do not match.",
        ));
    }
    confirm_password(ctx, user, current_password).await?;
    let hash = hash_password(password).await?;
    renew_session_id(ctx).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user.id)
        .execute(&ctx.db().pool)
        .await?;
    let ended = end_sessions_except_this(ctx, user).await?;
    record(
        ctx,
        user,
        "user.password_changed",
        json!({ "other_sessions_ended": ended }),
    )
    .await
}

/// The person's live sessions, this one first, then the most recently used.
pub async fn list_sessions(
    ctx: &RequestCtx,
    user: &CurrentUser,
) -> Result<Vec<SessionView>, AppError> {
    let current = ctx.session_key().unwrap_or_default();
    let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, handle, user_agent, ip, created_at, last_seen_at FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC, created_at DESC",
    )
    .bind(user.id)
    .bind(now())
    .fetch_all(&ctx.db().pool)
    .await?;
    let mut sessions: Vec<SessionView> = rows
        .into_iter()
        .map(
            |(key, handle, agent, ip, signed_in_at, last_seen_at)| SessionView {
                handle,
                current: key == current,
                browser: describe_user_agent(&agent),
                ip,
                signed_in_at,
                last_seen_at,
            },
        )
        .collect();
    sessions.sort_by_key(|s| !s.current);
    Ok(sessions)
}

/// Signs out one of the person's sessions. Another person's session (or one
/// that ended) answers 404.
pub async fn end_session(
    ctx: &RequestCtx,
    user: &CurrentUser,
    handle: &str,
) -> Result<(), AppError> {
    let ended = sqlx::query("DELETE FROM sessions WHERE handle = $1 AND user_id = $2")
        .bind(handle)
        .bind(user.id)
        .execute(&ctx.db().pool)
        .await?;
    if ended.rows_affected() == 0 {
        return Err(AppError::not_found("Session"));
    }
    record(ctx, user, "user.session_ended", json!({})).await
}

pub async fn end_other_sessions(ctx: &RequestCtx, user: &CurrentUser) -> Result<(), AppError> {
    let ended = end_sessions_except_this(ctx, user).await?;
    record(
        ctx,
        user,
        "user.other_sessions_ended",
        json!({ "sessions": ended }),
    )
    .await
}

async fn end_sessions_except_this(ctx: &RequestCtx, user: &CurrentUser) -> Result<u64, AppError> {
    // A new session has no row yet; the empty key matches none.
    let current = ctx.session_key().unwrap_or_default();
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user.id)
        .bind(current)
        .execute(&ctx.db().pool)
        .await?;
    Ok(ended.rows_affected())
}
