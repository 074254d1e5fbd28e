//! Password hashing, sign-in throttling and account creation (server only).

use super::{CurrentUser, SessionInfo};
use crate::domain::{DisplayName, Email, Password};
use crate::error::{AppError, FieldErrors};
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{is_unique_violation, now, Db};
use crate::server::request::{
    RequestCtx, SESSION_IP_KEY, SESSION_PENDING_AT_KEY, SESSION_PENDING_USER_KEY,
    SESSION_SIGNED_IN_AT_KEY, SESSION_USER_AGENT_KEY, SESSION_USER_KEY,
};
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
    Ok(SessionInfo {
        user,
        needs_setup,
        setup_code_required: needs_setup && ctx.state.setup_code.is_some(),
    })
}

/// For an instance that listens beyond loopback and has no account yet: a
/// one-time code, printed in the log, that the first-admin page asks for, so
/// only whoever can read the server's log can claim it (as Grafana and
/// Jenkins do). `None` once set up.
pub async fn setup_code_if_needed(db: &Db) -> Option<String> {
    match needs_setup(db).await {
        Ok(false) => return None,
        Ok(true) => {}
        Err(err) => tracing::warn!(error = %err, "could not tell whether setup is needed"),
    }
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    let code: String = (0..12)
        .map(|i| {
            let c = ALPHABET[rng.gen_range(0..ALPHABET.len())] as char;
            if i > 0 && i % 4 == 0 {
                format!("-{c}")
            } else {
                c.to_string()
            }
        })
        .collect();
    tracing::warn!(
        "Latchkey has no accounts yet and listens beyond this machine. Open /setup and enter this one-time setup code: {code}"
    );
    Some(code)
}

/// Whether `typed` is the setup code (case, spaces and dashes aside), compared
/// in constant time.
fn is_setup_code(expected: &str, typed: &str) -> bool {
    use subtle::ConstantTimeEq;
    let normal = |s: &str| -> Vec<u8> {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase() as u8)
            .collect()
    };
    let (expected, typed) = (normal(expected), normal(typed));
    expected.len() == typed.len() && bool::from(expected.ct_eq(&typed))
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

/// What the first-admin form sends.
pub struct FirstAdmin<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub password_confirm: &'a str,
    pub setup_code: &'a str,
}

/// The name and password someone chooses for a new account, each complaint
/// kept in `errors` (so the form shows all of them at once).
pub fn new_account(
    errors: &mut FieldErrors,
    display_name: &str,
    password: &str,
    password_confirm: &str,
) -> Result<Option<(DisplayName, Password)>, AppError> {
    let name = errors.check(DisplayName::parse(display_name))?;
    let password = errors.check(Password::parse_new(password))?;
    if password
        .as_ref()
        .is_some_and(|password| password.expose() != password_confirm)
    {
        errors.add("password_confirm", "The two passwords do not match.");
    }
    Ok(name.zip(password))
}

pub async fn setup_first_admin(ctx: &RequestCtx, form: FirstAdmin<'_>) -> Result<(), AppError> {
    within_request_rate(ctx)?;
    if !needs_setup(ctx.db()).await? {
        return Err(AppError::Conflict(
            "Latchkey is already set up. Sign in with your account.".into(),
        ));
    }
    if let Some(expected) = &ctx.state.setup_code {
        if !is_setup_code(expected, form.setup_code) {
            return Err(AppError::invalid(
                "setup_code",
                "Enter the setup code printed in Latchkey's log when it started.",
            ));
        }
    }
    let FirstAdmin {
        email,
        display_name,
        password,
        password_confirm,
        ..
    } = form;
    let mut errors = FieldErrors::new();
    let email = errors.check(Email::parse(email))?;
    let chosen = new_account(&mut errors, display_name, password, password_confirm)?;
    errors.finish()?;
    let (Some(email), Some((name, password))) = (email, chosen) else {
        return Err(AppError::Internal);
    };
    let hash = hash_password_in_turn(ctx, password).await?;
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

/// Hashes a new password once a slot is free (see `verify_in_turn`).
pub async fn hash_password_in_turn(
    ctx: &RequestCtx,
    password: Password,
) -> Result<String, AppError> {
    let _slot = ctx
        .state
        .password_checks
        .acquire()
        .await
        .map_err(|_| AppError::Internal)?;
    hash_password(password).await
}

pub async fn start_session(ctx: &RequestCtx, user_id: i64) -> Result<(), AppError> {
    // A new id at sign-in defeats session fixation.
    ctx.session.cycle_id().await.map_err(session_error)?;
    ctx.session
        .insert(SESSION_USER_KEY, user_id)
        .await
        .map_err(session_error)?;
    ctx.session
        .insert(SESSION_SIGNED_IN_AT_KEY, now())
        .await
        .map_err(session_error)?;
    ctx.session
        .insert(SESSION_USER_AGENT_KEY, &ctx.user_agent)
        .await
        .map_err(session_error)?;
    ctx.session
        .insert(SESSION_IP_KEY, ctx.ip_string().unwrap_or_default())
        .await
        .map_err(session_error)?;
    Ok(())
}

/// Checks that `password` is the signed-in person's own, before a change
/// that needs it (email, password). Attempts count against the same limit as
/// sign-ins, so a borrowed session cannot guess the password either.
pub async fn confirm_password(
    ctx: &RequestCtx,
    user: &CurrentUser,
    password: &str,
) -> Result<(), AppError> {
    let wrong = || AppError::invalid("current_password", "This is not your current password.");
    let password = Password::parse_attempt(password).map_err(|_| wrong())?;
    within_request_rate(ctx)?;
    let account_key = format!("account:{}", user.email);
    let now = now();
    let claim = claim_attempt(ctx.db(), &account_key, now).await?;
    if claim.attempts > ctx.state.config.max_failed_sign_ins_per_account {
        let minutes = ((claim.window_started_at + THROTTLE_WINDOW_SECS - now).max(60) + 59) / 60;
        return Err(AppError::TooManyRequests(format!(
            "Too many wrong passwords. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        )));
    }
    let stored: Option<(String,)> =
        sqlx::query_as("SELECT password_hash FROM users WHERE id = $1 AND kind = 'human'")
            .bind(user.id)
            .fetch_optional(&ctx.db().pool)
            .await?;
    if !verify_in_turn(ctx, password, stored.map(|(hash,)| hash)).await? {
        return Err(wrong());
    }
    sqlx::query("DELETE FROM sign_in_attempts WHERE throttle_key = $1")
        .bind(&account_key)
        .execute(&ctx.db().pool)
        .await?;
    Ok(())
}

/// Gives this browser a new session id (after a password change, say), keeping
/// the person signed in.
pub async fn renew_session_id(ctx: &RequestCtx) -> Result<(), AppError> {
    ctx.session.cycle_id().await.map_err(session_error)
}

fn session_error(err: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %err, "session store failed");
    AppError::Internal
}

/// Refuses a client address that sent too many sign-in or setup requests
/// lately, whatever their outcome (`LATCHKEY_SIGN_IN_RATE_*`).
pub fn within_request_rate(ctx: &RequestCtx) -> Result<(), AppError> {
    let Some(limits) = &ctx.state.sign_in_limits else {
        return Ok(());
    };
    limits.check(ctx.ip).map_err(|wait| {
        let seconds = wait.as_secs().max(1);
        AppError::TooManyRequests(format!(
            "Too many attempts from this address. Try again in {seconds} second{}.",
            if seconds == 1 { "" } else { "s" }
        ))
    })
}

/// Runs an argon2 verification once a slot is free: at most
/// `LATCHKEY_MAX_CONCURRENT_PASSWORD_CHECKS` at a time, so a flood of
/// sign-ins queues instead of taking 19 MiB each at once.
async fn verify_in_turn(
    ctx: &RequestCtx,
    password: Password,
    stored: Option<String>,
) -> Result<bool, AppError> {
    let busy = || {
        AppError::TooManyRequests(
            "Latchkey is busy checking other sign-ins. Try again in a moment.".into(),
        )
    };
    let _slot = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        ctx.state.password_checks.acquire(),
    )
    .await
    .map_err(|_| busy())?
    .map_err(|_| busy())?;
    verify_password(password, stored).await
}

/// One attempt's claim on a throttle counter: how many attempts the window
/// holds with this one, and when the window started.
struct Claim {
    attempts: i64,
    window_started_at: i64,
}

/// Claims one attempt for `key` with a single upsert, before any password is
/// checked: parallel requests each get their own count, so no more than the
/// limit are ever evaluated. A window older than the throttle window starts
/// over at one.
async fn claim_attempt(db: &Db, key: &str, now: i64) -> Result<Claim, AppError> {
    let (attempts, window_started_at): (i64, i64) = sqlx::query_as(
        "INSERT INTO sign_in_attempts (throttle_key, window_started_at, attempts) VALUES ($1, $2, 1) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
           attempts = CASE WHEN sign_in_attempts.window_started_at <= $3 THEN 1 \
                           ELSE sign_in_attempts.attempts + 1 END, \
           window_started_at = CASE WHEN sign_in_attempts.window_started_at <= $3 THEN $2 \
                           ELSE sign_in_attempts.window_started_at END \
         RETURNING attempts, window_started_at",
    )
    .bind(key)
    .bind(now)
    .bind(now - THROTTLE_WINDOW_SECS)
    .fetch_one(&db.pool)
    .await?;
    Ok(Claim {
        attempts,
        window_started_at,
    })
}

/// Where a right password leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInStep {
    /// Signed in.
    Done,
    /// The account has two-factor sign-in: a code comes next.
    SecondFactor,
}

/// How long the second step may wait after the password.
const SECOND_FACTOR_WINDOW_SECS: i64 = 5 * 60;

pub async fn sign_in(
    ctx: &RequestCtx,
    email: &str,
    password: &str,
) -> Result<SignInStep, AppError> {
    within_request_rate(ctx)?;
    let email = Email::parse(email)?;
    let password = Password::parse_attempt(password)?;
    let config = &ctx.state.config;
    let db = ctx.db();
    let account_key = format!("account:{}", email.as_str());
    let ip_key = ctx
        .ip
        .map(|ip| format!("ip:{}", crate::server::client::throttle_key(ip)));

    // Claim the attempt first, then verify: the claim is what counts.
    let now = now();
    let mut locked_until = None;
    for (key, max) in std::iter::once((&account_key, config.max_failed_sign_ins_per_account)).chain(
        ip_key
            .iter()
            .map(|k| (k, config.max_failed_sign_ins_per_ip)),
    ) {
        let claim = claim_attempt(db, key, now).await?;
        if claim.attempts > max {
            let until = claim.window_started_at + THROTTLE_WINDOW_SECS;
            locked_until = locked_until.max(Some(until));
        }
    }
    if let Some(until) = locked_until {
        let minutes = ((until - now).max(60) + 59) / 60;
        return Err(AppError::TooManyRequests(format!(
            "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        )));
    }

    let row: Option<(i64, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, password_hash, is_disabled, totp_enabled_at FROM users \
         WHERE email = $1 AND kind = 'human'",
    )
    .bind(email.as_str())
    .fetch_optional(&db.pool)
    .await?;
    let (user_id, stored, disabled, two_factor) = match row {
        Some((id, hash, disabled, totp)) => (Some(id), Some(hash), disabled != 0, totp.is_some()),
        None => (None, None, false, false),
    };
    let verified = verify_in_turn(ctx, password, stored).await?;

    match user_id {
        Some(id) if verified && !disabled => {
            // A success clears the account's count and gives the address its
            // attempt back.
            sqlx::query("DELETE FROM sign_in_attempts WHERE throttle_key = $1")
                .bind(&account_key)
                .execute(&db.pool)
                .await?;
            if let Some(key) = &ip_key {
                sqlx::query(
                    "UPDATE sign_in_attempts SET attempts = attempts - 1 \
                     WHERE throttle_key = $1 AND attempts > 0",
                )
                .bind(key)
                .execute(&db.pool)
                .await?;
            }
            if two_factor {
                ctx.session
                    .insert(SESSION_PENDING_USER_KEY, id)
                    .await
                    .map_err(session_error)?;
                ctx.session
                    .insert(SESSION_PENDING_AT_KEY, now)
                    .await
                    .map_err(session_error)?;
                return Ok(SignInStep::SecondFactor);
            }
            signed_in(ctx, id, email.as_str(), false).await?;
            Ok(SignInStep::Done)
        }
        _ => {
            let actor = Actor {
                user_id,
                label: email.as_str(),
                ip: ctx.ip_string(),
            };
            audit::record(
                &db.pool,
                &actor,
                "user.sign_in_failed",
                Target {
                    label: email.as_str(),
                    ..Default::default()
                },
            )
            .await?;
            // One message for every cause, so it does not reveal which accounts exist.
            Err(AppError::invalid(
                "password",
                "The email or password is not right.",
            ))
        }
    }
}

async fn signed_in(
    ctx: &RequestCtx,
    id: i64,
    email: &str,
    two_factor: bool,
) -> Result<(), AppError> {
    let actor = Actor {
        user_id: Some(id),
        label: email,
        ip: ctx.ip_string(),
    };
    audit::record(
        &ctx.db().pool,
        &actor,
        "user.signed_in",
        Target {
            label: email,
            detail: Some(serde_json::json!({ "two_factor": two_factor })),
            ..Default::default()
        },
    )
    .await?;
    start_session(ctx, id).await
}

/// The second step of signing in: a code for the account whose password was
/// right a moment ago in this browser. Wrong codes count against the same
/// limit as wrong passwords.
pub async fn sign_in_second_factor(ctx: &RequestCtx, code: &str) -> Result<(), AppError> {
    within_request_rate(ctx)?;
    let pending: Option<i64> = ctx
        .session
        .get(SESSION_PENDING_USER_KEY)
        .await
        .map_err(session_error)?;
    let started: Option<i64> = ctx
        .session
        .get(SESSION_PENDING_AT_KEY)
        .await
        .map_err(session_error)?;
    let expired =
        || AppError::Conflict("Too much time passed since your password. Sign in again.".into());
    let (Some(user_id), Some(started)) = (pending, started) else {
        return Err(expired());
    };
    if now() - started > SECOND_FACTOR_WINDOW_SECS {
        ctx.session.flush().await.map_err(session_error)?;
        return Err(expired());
    }
    let key = format!("code:{user_id}");
    claim_code_attempt(ctx, &key).await?;
    crate::account::two_factor::verify(ctx, user_id, code).await?;
    forgive_attempts(ctx, &key).await?;
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT email FROM users WHERE id = $1 AND kind = 'human' AND is_disabled = 0",
    )
    .bind(user_id)
    .fetch_optional(&ctx.db().pool)
    .await?;
    let (email,) = row.ok_or_else(expired)?;
    let _ = ctx.session.remove_value(SESSION_PENDING_USER_KEY).await;
    let _ = ctx.session.remove_value(SESSION_PENDING_AT_KEY).await;
    signed_in(ctx, user_id, &email, true).await
}

/// Counts one attempt at a code for `key`; refuses once there were too many.
pub async fn claim_code_attempt(ctx: &RequestCtx, key: &str) -> Result<(), AppError> {
    let now = now();
    let claim = claim_attempt(ctx.db(), key, now).await?;
    if claim.attempts > ctx.state.config.max_failed_sign_ins_per_account {
        let minutes = ((claim.window_started_at + THROTTLE_WINDOW_SECS - now).max(60) + 59) / 60;
        return Err(AppError::TooManyRequests(format!(
            "Too many wrong codes. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

/// Clears `key`'s count after a success.
pub async fn forgive_attempts(ctx: &RequestCtx, key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sign_in_attempts WHERE throttle_key = $1")
        .bind(key)
        .execute(&ctx.db().pool)
        .await?;
    Ok(())
}

pub async fn prune_sign_in_attempts(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sign_in_attempts WHERE window_started_at < $1")
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
