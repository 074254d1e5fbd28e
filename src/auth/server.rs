//! Password hashing, sign-in throttling and account creation (server only).

use super::SessionInfo;
use crate::domain::{DisplayName, Email, Password};
use crate::error::AppError;
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{is_unique_violation, now, Db};
use crate::server::request::{RequestCtx, SESSION_USER_KEY};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// Failed attempts older than this no longer count.
const THROTTLE_WINDOW_SECS: i64 = 15 * 60;

/// Argon2id with OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub async fn hash_password(password: Password) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| AppError::Internal)?
    .map_err(|err| {
        tracing::error!(error = %err, "password hashing failed");
        AppError::Internal
    })
}

/// A hash of nothing in particular, verified when the email is unknown so that
/// the answer takes as long as for a real account.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"latchkey-timing-equaliser", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

pub async fn verify_password(password: Password, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| dummy_hash().to_string());
        let ok = PasswordHash::new(&hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && ok
    })
    .await
    .map_err(|_| AppError::Internal)
}

pub async fn needs_setup(db: &Db) -> Result<bool, AppError> {
    let (humans,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE kind = 'human'")
        .fetch_one(&db.pool)
        .await?;
    Ok(humans == 0)
}

pub async fn session_info(ctx: &RequestCtx) -> Result<SessionInfo, AppError> {
    let user = ctx.user().await?;
    let needs_setup = user.is_none() && needs_setup(ctx.db()).await?;
    Ok(SessionInfo { user, needs_setup })
}

/// Inserts a person's account; used by the setup page and the command line.
pub async fn create_user(
    db: &Db,
    actor: &Actor<'_>,
    email: &Email,
    name: &DisplayName,
    password: Password,
    instance_admin: bool,
) -> Result<i64, AppError> {
    let hash = hash_password(password).await?;
    let mut tx = db.pool.begin().await?;
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO users (kind, email, display_name, password_hash, is_instance_admin, created_at) \
         VALUES ('human', $1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(email.as_str())
    .bind(name.as_str())
    .bind(hash)
    .bind(i64::from(instance_admin))
    .bind(now())
    .fetch_one(&mut *tx)
    .await;
    let (id,) = match inserted {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            return Err(AppError::invalid(
                "email",
                "An account with this email already exists.",
            ))
        }
        Err(err) => return Err(err.into()),
    };
    audit::record(
        &mut *tx,
        actor,
        "user.created",
        Target {
            label: email.as_str(),
            detail: Some(serde_json::json!({ "user_id": id, "instance_admin": instance_admin })),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Suspends or restores a person's account. A suspended account cannot sign in,
/// its sessions end on their next request, and its tokens are refused.
pub async fn set_user_disabled(
    db: &Db,
    actor: &Actor<'_>,
    email: &Email,
    disabled: bool,
) -> Result<(), AppError> {
    let mut tx = db.pool.begin().await?;
    let changed =
        sqlx::query("UPDATE users SET is_disabled = $1 WHERE email = $2 AND kind = 'human'")
            .bind(i64::from(disabled))
            .bind(email.as_str())
            .execute(&mut *tx)
            .await?;
    if changed.rows_affected() == 0 {
        return Err(AppError::invalid("email", "No account has this email."));
    }
    audit::record(
        &mut *tx,
        actor,
        if disabled {
            "user.disabled"
        } else {
            "user.enabled"
        },
        Target {
            label: email.as_str(),
            ..Default::default()
        },
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

pub async fn setup_first_admin(
    ctx: &RequestCtx,
    email: &str,
    display_name: &str,
    password: &str,
    password_confirm: &str,
) -> Result<(), AppError> {
    if !needs_setup(ctx.db()).await? {
        return Err(AppError::Conflict(
            "Latchkey is already set up. Sign in with your account.".into(),
        ));
    }
    let email = Email::parse(email)?;
    let name = DisplayName::parse(display_name)?;
    let password = Password::parse_new(password)?;
    if password.expose() != password_confirm {
        return Err(AppError::invalid(
            "password_confirm",
            "The two passwords do not match.",
        ));
    }
    let hash = hash_password(password).await?;
    // The singleton row makes a second, concurrent setup fail instead of
    // creating two instance admins.
    let mut tx = ctx.db().pool.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO instance_setup (id, completed_at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
    )
    .bind(now())
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(AppError::Conflict(
            "Latchkey is already set up. Sign in with your account.".into(),
        ));
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO users (kind, email, display_name, password_hash, is_instance_admin, created_at) \
         VALUES ('human', $1, $2, $3, 1, $4) RETURNING id",
    )
    .bind(email.as_str())
    .bind(name.as_str())
    .bind(hash)
    .bind(now())
    .fetch_one(&mut *tx)
    .await?;
    let actor = Actor {
        user_id: Some(id),
        label: email.as_str(),
        ip: ctx.ip_string(),
    };
    audit::record(
        &mut *tx,
        &actor,
        "instance.first_admin_created",
        Target {
            label: email.as_str(),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    start_session(ctx, id).await
}

async fn start_session(ctx: &RequestCtx, user_id: i64) -> Result<(), AppError> {
    // A new id at sign-in defeats session fixation.
    ctx.session.cycle_id().await.map_err(session_error)?;
    ctx.session
        .insert(SESSION_USER_KEY, user_id)
        .await
        .map_err(session_error)?;
    Ok(())
}

fn session_error(err: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %err, "session store failed");
    AppError::Internal
}

pub async fn sign_in(ctx: &RequestCtx, email: &str, password: &str) -> Result<(), AppError> {
    let email = Email::parse(email)?;
    let password = Password::parse_attempt(password)?;
    let config = &ctx.state.config;
    let account_key = format!("account:{}", email.as_str());
    let ip_key = ctx.ip_string().map(|ip| format!("ip:{ip}"));

    let since = now() - THROTTLE_WINDOW_SECS;
    let account_failures = recent_failures(ctx.db(), &account_key, since).await?;
    let ip_failures = match &ip_key {
        Some(key) => recent_failures(ctx.db(), key, since).await?,
        None => (0, None),
    };
    let locked_until = [
        (account_failures, config.max_failed_sign_ins_per_account),
        (ip_failures, config.max_failed_sign_ins_per_ip),
    ]
    .into_iter()
    .filter(|((count, _), max)| *count >= *max)
    .filter_map(|((_, oldest), _)| oldest.map(|t| t + THROTTLE_WINDOW_SECS))
    .max();
    if let Some(until) = locked_until {
        let minutes = ((until - now()).max(60) + 59) / 60;
        return Err(AppError::TooManyRequests(format!(
            "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        )));
    }

    let row: Option<(i64, String, i64)> = sqlx::query_as(
        "SELECT id, password_hash, is_disabled FROM users WHERE email = $1 AND kind = 'human'",
    )
    .bind(email.as_str())
    .fetch_optional(&ctx.db().pool)
    .await?;
    let (user_id, stored, disabled) = match row {
        Some((id, hash, disabled)) => (Some(id), Some(hash), disabled != 0),
        None => (None, None, false),
    };
    let verified = verify_password(password, stored).await?;

    match user_id {
        Some(id) if verified && !disabled => {
            sqlx::query("DELETE FROM sign_in_failures WHERE throttle_key = $1")
                .bind(&account_key)
                .execute(&ctx.db().pool)
                .await?;
            let actor = Actor {
                user_id: Some(id),
                label: email.as_str(),
                ip: ctx.ip_string(),
            };
            audit::record(
                &ctx.db().pool,
                &actor,
                "user.signed_in",
                Target {
                    label: email.as_str(),
                    ..Default::default()
                },
            )
            .await?;
            start_session(ctx, id).await
        }
        _ => {
            let mut tx = ctx.db().pool.begin().await?;
            for key in std::iter::once(&account_key).chain(ip_key.as_ref()) {
                sqlx::query(
                    "INSERT INTO sign_in_failures (throttle_key, failed_at) VALUES ($1, $2)",
                )
                .bind(key)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            }
            let actor = Actor {
                user_id,
                label: email.as_str(),
                ip: ctx.ip_string(),
            };
            audit::record(
                &mut *tx,
                &actor,
                "user.sign_in_failed",
                Target {
                    label: email.as_str(),
                    ..Default::default()
                },
            )
            .await?;
            tx.commit().await?;
            // One message for every cause, so it does not reveal which accounts exist.
            Err(AppError::invalid(
                "password",
                "The email or password is not right.",
            ))
        }
    }
}

/// Number of failures for `key` since `since`, and when the oldest of them was.
async fn recent_failures(db: &Db, key: &str, since: i64) -> Result<(i64, Option<i64>), AppError> {
    let row: (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(failed_at) FROM sign_in_failures WHERE throttle_key = $1 AND failed_at > $2",
    )
    .bind(key)
    .bind(since)
    .fetch_one(&db.pool)
    .await?;
    Ok(row)
}

pub async fn prune_sign_in_failures(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_failures WHERE failed_at < $1")
        .bind(now() - THROTTLE_WINDOW_SECS)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn sign_out(ctx: &RequestCtx) -> Result<(), AppError> {
    if let Some(user) = ctx.user().await? {
        let actor = Actor {
            user_id: Some(user.id),
            label: &user.email,
            ip: ctx.ip_string(),
        };
        audit::record(
            &ctx.db().pool,
            &actor,
            "user.signed_out",
            Target {
                label: &user.email,
                ..Default::default()
            },
        )
        .await?;
    }
    ctx.session.flush().await.map_err(session_error)?;
    Ok(())
}
