//! Two-factor sign-in with time-based one-time passwords (RFC 6238), and the
//! recovery codes that stand in for a lost device (server only).

use super::{Enrolment, RecoveryCodes, TwoFactorStatus};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::server::audit::{self, Target};
use crate::server::db::now;
use crate::server::request::RequestCtx;
use crate::tokens::secret::digest_of;
use totp_rs::{Secret, Totp};

const ISSUER: &str = "Latchkey";
const RECOVERY_CODE_COUNT: usize = 10;

fn wrong_code() -> AppError {
    AppError::invalid(
        "code",
        "That code is not right, or it was used already. Check the clock of your device, then enter the newest code.",
    )
}

/// The generator for `secret` (base32), labelled with the person's email.
fn totp(secret_base32: &str, account: &str) -> Result<Totp, AppError> {
    let secret = Secret::try_from_base32(secret_base32).map_err(|_| AppError::Internal)?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|err| {
            tracing::error!(error = %err, "could not build a TOTP generator");
            AppError::Internal
        })
}

fn unix_now() -> u64 {
    u64::try_from(now()).unwrap_or_default()
}

/// A fresh secret: 20 random bytes (160 bits, as RFC 4226 recommends).
fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::new(Box::new(bytes)).to_base32()
}

/// "ab3k9-x7q2m": ten characters from an alphabet without look-alikes.
fn new_recovery_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let mut code = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            code.push('-');
        }
        code.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    code
}

/// A recovery code as stored: lower case, without spaces or dashes.
fn recovery_digest(code: &str) -> String {
    let canonical: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    digest_of(&canonical).to_hex()
}

#[derive(sqlx::FromRow)]
struct TwoFactorRow {
    email: String,
    totp_secret: Option<String>,
    totp_pending: Option<String>,
}

async fn row(ctx: &RequestCtx, user_id: i64) -> Result<TwoFactorRow, AppError> {
    sqlx::query_as(
        "SELECT email, totp_secret, totp_pending FROM users WHERE id = $1 AND kind = 'human'",
    )
    .bind(user_id)
    .fetch_optional(&ctx.db().pool)
    .await?
    .ok_or(AppError::Unauthenticated)
}

fn open(ctx: &RequestCtx, sealed: &str) -> Result<String, AppError> {
    ctx.state.two_factor_key.open(sealed).ok_or_else(|| {
        tracing::error!("a two-factor secret could not be decrypted with this deployment's key");
        AppError::Internal
    })
}

pub async fn status(ctx: &RequestCtx, user: &CurrentUser) -> Result<TwoFactorStatus, AppError> {
    let row = row(ctx, user.id).await?;
    let (left,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user.id)
    .fetch_one(&ctx.db().pool)
    .await?;
    let enrolment = match (&row.totp_secret, &row.totp_pending) {
        (None, Some(sealed)) => Some(enrolment(&open(ctx, sealed)?, &row.email)?),
        _ => None,
    };
    let required_by: Vec<(String,)> = sqlx::query_as(
        "SELECT o.name FROM organizations o JOIN org_memberships m ON m.org_id = o.id \
         WHERE m.user_id = $1 AND o.require_two_factor = 1 ORDER BY o.name",
    )
    .bind(user.id)
    .fetch_all(&ctx.db().pool)
    .await?;
    Ok(TwoFactorStatus {
        enabled: row.totp_secret.is_some(),
        recovery_codes_left: left,
        enrolment,
        required_by: required_by.into_iter().map(|(name,)| name).collect(),
    })
}

fn enrolment(secret: &str, email: &str) -> Result<Enrolment, AppError> {
    let otpauth_url = totp(secret, email)?
        .to_url()
        .map_err(|_| AppError::Internal)?;
    let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
        .map_err(|_| AppError::Internal)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Only the <svg> element: the XML declaration has no place inside HTML.
    let qr_svg = qr_svg
        .find("<svg")
        .map(|at| qr_svg[at..].to_string())
        .unwrap_or_default();
    let grouped = secret
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Enrolment {
        otpauth_url,
        qr_svg,
        secret: grouped,
    })
}

/// Starts enrolment: a new secret waits, encrypted, until a code from the
/// device confirms it.
pub async fn begin(ctx: &RequestCtx, user: &CurrentUser) -> Result<(), AppError> {
    let sealed = ctx
        .state
        .two_factor_key
        .seal(&new_secret())
        .ok_or(AppError::Internal)?;
    let started =
        sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2 AND totp_secret IS NULL")
            .bind(sealed)
            .bind(user.id)
            .execute(&ctx.db().pool)
            .await?;
    if started.rows_affected() == 0 {
        return Err(AppError::Conflict(
            "Two-factor sign-in is on already.".into(),
        ));
    }
    Ok(())
}

/// Confirms enrolment with a code from the device; answers the recovery
/// codes, which are shown this once.
pub async fn confirm(
    ctx: &RequestCtx,
    user: &CurrentUser,
    code: &str,
) -> Result<RecoveryCodes, AppError> {
    let row = row(ctx, user.id).await?;
    let Some(sealed) = row.totp_pending.filter(|_| row.totp_secret.is_none()) else {
        return Err(AppError::Conflict(
            "Start by choosing “Turn on two-factor sign-in”.".into(),
        ));
    };
    let step = totp(&open(ctx, &sealed)?, &row.email)?
        .check(code.trim(), unix_now())
        .ok_or_else(wrong_code)?;
    let codes: Vec<String> = (0..RECOVERY_CODE_COUNT)
        .map(|_| new_recovery_code())
        .collect();
    let mut tx = ctx.db().pool.begin().await?;
    let enabled = sqlx::query(
        "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_enabled_at = $1, \
         totp_last_step = $2 WHERE id = $3 AND totp_pending = $4 AND totp_secret IS NULL",
    )
    .bind(now())
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .bind(user.id)
    .bind(&sealed)
    .execute(&mut *tx)
    .await?;
    if enabled.rows_affected() == 0 {
        return Err(AppError::Conflict(
            "Two-factor sign-in is on already.".into(),
        ));
    }
    replace_recovery_codes(&mut tx, user.id, &codes).await?;
    audit::record(
        &mut *tx,
        &ctx.actor(user),
        "user.two_factor_enabled",
        Target {
            label: &user.email,
            ..Default::default()
        },
    )
    .await?;
    ctx.db().commit_auth_change(tx).await?;
    Ok(RecoveryCodes {
        codes,
        manage_at: "/profile".into(),
    })
}

async fn replace_recovery_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    codes: &[String],
) -> Result<(), AppError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    for code in codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, digest) VALUES ($1, $2)")
            .bind(user_id)
            .bind(recovery_digest(code))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Checks a code from the device (each time step is accepted once: the
/// statement that records it refuses a step not newer than the last) or an
/// unused recovery code (spent by the same statement that finds it).
pub async fn verify(ctx: &RequestCtx, user_id: i64, code: &str) -> Result<(), AppError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        return Err(AppError::invalid("code", "Enter the code."));
    }
    let db = ctx.db();
    let accepted = if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        let row = row(ctx, user_id).await?;
        let Some(sealed) = row.totp_secret else {
            return Err(wrong_code());
        };
        let Some(step) = totp(&open(ctx, &sealed)?, &row.email)?.check(&code, unix_now()) else {
            return Err(wrong_code());
        };
        sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(i64::try_from(step).unwrap_or(i64::MAX))
            .bind(user_id)
            .execute(&db.pool)
            .await?
            .rows_affected()
    } else {
        sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND digest = $3 AND used_at IS NULL",
        )
        .bind(now())
        .bind(user_id)
        .bind(recovery_digest(&code))
        .execute(&db.pool)
        .await?
        .rows_affected()
    };
    if accepted == 1 {
        Ok(())
    } else {
        Err(wrong_code())
    }
}

/// Turns two-factor sign-in off; needs a fresh code (or a recovery code).
pub async fn disable(ctx: &RequestCtx, user: &CurrentUser, code: &str) -> Result<(), AppError> {
    let key = format!("code:{}", user.id);
    crate::auth::server::claim_code_attempt(ctx, &key).await?;
    verify(ctx, user.id, code).await?;
    crate::auth::server::forgive_attempts(ctx, &key).await?;
    let mut tx = ctx.db().pool.begin().await?;
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_enabled_at = NULL, \
         totp_last_step = 0 WHERE id = $1",
    )
    .bind(user.id)
    .execute(&mut *tx)
    .await?;
    replace_recovery_codes(&mut tx, user.id, &[]).await?;
    audit::record(
        &mut *tx,
        &ctx.actor(user),
        "user.two_factor_disabled",
        Target {
            label: &user.email,
            ..Default::default()
        },
    )
    .await?;
    ctx.db().commit_auth_change(tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{new_recovery_code, recovery_digest};

    #[test]
    fn recovery_codes_read_the_same_however_typed() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_digest(&code),
            recovery_digest(&code.to_uppercase().replace('-', " "))
        );
        assert_ne!(
            recovery_digest(&code),
            recovery_digest(&new_recovery_code())
        );
    }
}
