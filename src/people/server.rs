//! Accounts as an instance admin manages them, and invitations (server only).
//!
//! Rules that must hold under concurrency are part of the changing statement:
//! the instance keeps one enabled instance admin, an organization keeps one
//! admin, and an invitation is spent once.

use super::{InvitationView, IssuedInvitation, PendingInvitation, PersonSummary, INVITATION_DAYS};
use crate::auth::server::{hash_password_in_turn, new_account, start_session, within_request_rate};
use crate::auth::CurrentUser;
use crate::domain::{Email, Role};
use crate::error::{AppError, FieldErrors};
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{is_unique_violation, now, Backend, Db};
use crate::server::request::RequestCtx;
use crate::tokens::secret::{digest_of, generate_secret, INVITATION_PREFIX};
use serde_json::json;
use sqlx::{Any, Transaction};

/// Where an invitation leads.
#[derive(Debug, Clone, Copy)]
pub enum Invitee {
    /// An account on the instance, an instance admin or not.
    Instance { admin: bool },
    /// An account that joins this organization with this role.
    Organization { org_id: i64, role: Role },
}

/// The statement guard that keeps an enabled instance admin other than the
/// person `$1` when they are one.
const KEEPS_AN_INSTANCE_ADMIN: &str = "(is_instance_admin = 0 OR (SELECT COUNT(*) FROM users o \
     WHERE o.kind = 'human' AND o.is_instance_admin = 1 AND o.is_disabled = 0 AND o.id <> $1) > 0)";

/// The statement guard that keeps every organization where `$1` is an admin
/// with another human admin.
const KEEPS_EVERY_ORG_ADMIN: &str = "NOT EXISTS (SELECT 1 FROM org_memberships m \
     WHERE m.user_id = $1 AND m.role = 'admin' AND NOT EXISTS (SELECT 1 FROM org_memberships a \
     JOIN users u ON u.id = a.user_id WHERE a.org_id = m.org_id AND a.role = 'admin' \
     AND u.kind = 'human' AND a.user_id <> $1))";

const LAST_INSTANCE_ADMIN: &str =
    "Latchkey needs at least one enabled instance admin. Make someone else an instance admin first.";

/// PostgreSQL statements read a snapshot, so two admins changing each other
/// at once could each still see the other: changes to instance admins take
/// this lock first. (SQLite has one writer at a time.)
async fn serialise_admin_changes(db: &Db, tx: &mut Transaction<'_, Any>) -> Result<(), AppError> {
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(74601)")
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub async fn list_people(
    db: &Db,
    me: &CurrentUser,
    query: &str,
) -> Result<Vec<PersonSummary>, AppError> {
    let pattern = format!(
        "%{}%",
        query.trim().to_lowercase().replace(['%', '_', '\\'], "")
    );
    let rows: Vec<PersonRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.display_name, u.is_instance_admin, u.is_disabled, u.created_at, \
         (SELECT COUNT(*) FROM org_memberships m WHERE m.user_id = u.id) AS organizations, \
         (SELECT COUNT(*) FROM access_tokens t WHERE t.user_id = u.id AND t.kind = 'personal') \
           AS personal_tokens, \
         (SELECT MAX(s.last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_active_at \
         FROM users u WHERE u.kind = 'human' \
         AND (LOWER(u.email) LIKE $1 OR LOWER(u.display_name) LIKE $1) \
         ORDER BY LOWER(u.display_name), u.id LIMIT 500",
    )
    .bind(pattern)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| PersonSummary {
            is_you: row.id == me.id,
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            is_instance_admin: row.is_instance_admin != 0,
            is_disabled: row.is_disabled != 0,
            created_at: row.created_at,
            organizations: row.organizations,
            personal_tokens: row.personal_tokens,
            last_active_at: row.last_active_at,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct PersonRow {
    id: i64,
    email: String,
    display_name: String,
    is_instance_admin: i64,
    is_disabled: i64,
    created_at: i64,
    organizations: i64,
    personal_tokens: i64,
    last_active_at: Option<i64>,
}

/// A person's email, for messages and the audit trail; 404 for anyone else
/// (technical users included).
async fn person_email(db: &Db, user_id: i64) -> Result<String, AppError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT email FROM users WHERE id = $1 AND kind = 'human'")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    row.map(|(email,)| email)
        .ok_or_else(|| AppError::not_found("Person"))
}

fn not_yourself(admin: &CurrentUser, user_id: i64, what: &str) -> Result<(), AppError> {
    if admin.id == user_id {
        return Err(AppError::Conflict(format!(
            "You cannot {what} your own account. Ask another instance admin."
        )));
    }
    Ok(())
}

async fn record(
    executor: impl sqlx::Executor<'_, Database = Any>,
    actor: &Actor<'_>,
    action: &str,
    label: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    audit::record(
        executor,
        actor,
        action,
        Target {
            label,
            detail: Some(detail),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

/// A yes/no setting of an account that an instance admin changes.
#[derive(Clone, Copy)]
enum Flag {
    Disabled,
    InstanceAdmin,
}

impl Flag {
    /// The column; a fixed string, never input.
    fn column(self) -> &'static str {
        match self {
            Flag::Disabled => "is_disabled",
            Flag::InstanceAdmin => "is_instance_admin",
        }
    }

    /// Whether setting it to `on` could leave no enabled instance admin.
    fn may_lose_last_admin(self, on: bool) -> bool {
        match self {
            Flag::Disabled => on,
            Flag::InstanceAdmin => !on,
        }
    }

    fn audit_action(self, on: bool) -> &'static str {
        match (self, on) {
            (Flag::Disabled, true) => "user.disabled",
            (Flag::Disabled, false) => "user.enabled",
            (Flag::InstanceAdmin, true) => "user.instance_admin_granted",
            (Flag::InstanceAdmin, false) => "user.instance_admin_removed",
        }
    }
}

async fn set_flag(
    ctx: &RequestCtx,
    admin: &CurrentUser,
    user_id: i64,
    flag: Flag,
    on: bool,
) -> Result<(), AppError> {
    let email = person_email(ctx.db(), user_id).await?;
    if flag.may_lose_last_admin(on) {
        not_yourself(admin, user_id, "do that to")?;
    }
    let guard = if flag.may_lose_last_admin(on) {
        format!(" AND {KEEPS_AN_INSTANCE_ADMIN}")
    } else {
        String::new()
    };
    let mut tx = ctx.db().pool.begin().await?;
    serialise_admin_changes(ctx.db(), &mut tx).await?;
    let changed = sqlx::query(&format!(
        "UPDATE users SET {} = $2 WHERE id = $1 AND kind = 'human'{guard}",
        flag.column()
    ))
    .bind(user_id)
    .bind(i64::from(on))
    .execute(&mut *tx)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(AppError::Conflict(LAST_INSTANCE_ADMIN.into()));
    }
    if let (Flag::Disabled, true) = (flag, on) {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    }
    record(
        &mut *tx,
        &ctx.actor(admin),
        flag.audit_action(on),
        &email,
        json!({ "user_id": user_id }),
    )
    .await?;
    ctx.db().commit_auth_change(tx).await?;
    Ok(())
}

/// Disables or enables an account. A disabled person cannot sign in, their
/// sessions end at once and their tokens are refused; enabling them brings
/// it all back.
pub async fn set_disabled(
    ctx: &RequestCtx,
    admin: &CurrentUser,
    user_id: i64,
    disabled: bool,
) -> Result<(), AppError> {
    set_flag(ctx, admin, user_id, Flag::Disabled, disabled).await
}

pub async fn set_instance_admin(
    ctx: &RequestCtx,
    admin: &CurrentUser,
    user_id: i64,
    instance_admin: bool,
) -> Result<(), AppError> {
    set_flag(ctx, admin, user_id, Flag::InstanceAdmin, instance_admin).await
}

/// Deletes an account: their personal tokens, memberships, sessions, app
/// connections and personally registered apps go with it; organization and
/// group tokens they created stay with their organization. Refused while
/// they are the only admin of an organization or the last instance admin.
pub async fn delete_person(
    ctx: &RequestCtx,
    admin: &CurrentUser,
    user_id: i64,
) -> Result<(), AppError> {
    let email = person_email(ctx.db(), user_id).await?;
    not_yourself(admin, user_id, "delete")?;
    let db = ctx.db();
    let mut tx = db.pool.begin().await?;
    serialise_admin_changes(db, &mut tx).await?;
    if db.backend == Backend::Postgres {
        // The same row locks a membership change takes (see orgs::server).
        sqlx::query(
            "SELECT id FROM organizations WHERE id IN (SELECT org_id FROM org_memberships \
             WHERE user_id = $1 AND role = 'admin') ORDER BY id FOR UPDATE",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    }
    let (tokens, organizations): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM access_tokens WHERE user_id = $1 AND kind = 'personal'), \
         (SELECT COUNT(*) FROM org_memberships WHERE user_id = $1)",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    let deleted = sqlx::query(&format!(
        "DELETE FROM users WHERE id = $1 AND kind = 'human' AND {KEEPS_AN_INSTANCE_ADMIN} \
         AND {KEEPS_EVERY_ORG_ADMIN}"
    ))
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    if deleted.rows_affected() == 0 {
        let sole: Vec<(String,)> = sqlx::query_as(
            "SELECT o.name FROM organizations o JOIN org_memberships m ON m.org_id = o.id \
             WHERE m.user_id = $1 AND m.role = 'admin' AND NOT EXISTS (SELECT 1 FROM org_memberships a \
             JOIN users u ON u.id = a.user_id WHERE a.org_id = o.id AND a.role = 'admin' \
             AND u.kind = 'human' AND a.user_id <> $1) ORDER BY o.name",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        if sole.is_empty() {
            return Err(AppError::Conflict(LAST_INSTANCE_ADMIN.into()));
        }
        let names: Vec<String> = sole.into_iter().map(|(name,)| name).collect();
        return Err(AppError::Conflict(format!(
            "{email} is the only admin of {}. Make someone else an admin there first, or delete the organization.",
            names.join(", ")
        )));
    }
    record(
        &mut *tx,
        &ctx.actor(admin),
        "user.deleted",
        &email,
        json!({ "user_id": user_id, "personal_tokens": tokens, "organizations": organizations }),
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

/// Makes an invitation for `email`; its link is shown once and kept only as
/// a digest. An earlier invitation of the same person to the same place is
/// replaced.
pub async fn invite(
    ctx: &RequestCtx,
    inviter: &CurrentUser,
    email: &str,
    invitee: Invitee,
) -> Result<IssuedInvitation, AppError> {
    let email = Email::parse(email)?;
    let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(&ctx.db().pool)
        .await?;
    if exists.is_some() {
        let message = match invitee {
            Invitee::Instance { .. } => "An account with this email already exists.",
            Invitee::Organization { .. } => {
                "An account with this email already exists: add them as a member instead."
            }
        };
        return Err(AppError::invalid("email", message));
    }
    let (instance_admin, org_id, role) = match invitee {
        Invitee::Instance { admin } => (admin, None, None),
        Invitee::Organization { org_id, role } => (false, Some(org_id), Some(role)),
    };
    let secret = generate_secret(INVITATION_PREFIX);
    let created_at = now();
    let expires_at = created_at + INVITATION_DAYS * 86_400;
    let mut tx = ctx.db().pool.begin().await?;
    sqlx::query(
        "DELETE FROM invitations WHERE email = $1 AND accepted_at IS NULL AND COALESCE(org_id, 0) = $2",
    )
    .bind(email.as_str())
    .bind(org_id.unwrap_or(0))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO invitations (secret_digest, email, instance_admin, org_id, org_role, invited_by, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(digest_of(&secret).to_hex())
    .bind(email.as_str())
    .bind(i64::from(instance_admin))
    .bind(org_id)
    .bind(role.map(|r| r.as_str()))
    .bind(inviter.id)
    .bind(created_at)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &ctx.actor(inviter),
        "invitation.created",
        Target {
            org_id,
            label: email.as_str(),
            detail: Some(json!({ "instance_admin": instance_admin, "role": role })),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedInvitation {
        email: email.as_str().to_string(),
        link: format!("{}/invite/{secret}", ctx.public_origin),
        expires_at,
        manage_at: String::new(),
    })
}

/// Invitations not yet accepted: every one, or one organization's.
pub async fn pending(db: &Db, org_id: Option<i64>) -> Result<Vec<PendingInvitation>, AppError> {
    let sql = format!(
        "SELECT i.id, i.email, i.instance_admin, o.name AS organization, i.org_role, \
         COALESCE(u.display_name, 'someone who left') AS invited_by, i.created_at, i.expires_at \
         FROM invitations i LEFT JOIN organizations o ON o.id = i.org_id \
         LEFT JOIN users u ON u.id = i.invited_by \
         WHERE i.accepted_at IS NULL{} ORDER BY i.created_at DESC, i.id DESC",
        if org_id.is_some() {
            " AND i.org_id = $1"
        } else {
            ""
        }
    );
    let mut query = sqlx::query_as::<_, InvitationRow>(&sql);
    if let Some(org_id) = org_id {
        query = query.bind(org_id);
    }
    let now = now();
    Ok(query
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .map(|row| PendingInvitation {
            id: row.id,
            email: row.email,
            instance_admin: row.instance_admin != 0,
            organization: row.organization,
            role: row.org_role.as_deref().map(Role::from_db),
            invited_by: row.invited_by,
            created_at: row.created_at,
            expired: row.expires_at <= now,
            expires_at: row.expires_at,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: i64,
    email: String,
    instance_admin: i64,
    organization: Option<String>,
    org_role: Option<String>,
    invited_by: String,
    created_at: i64,
    expires_at: i64,
}

/// Withdraws an invitation that was not accepted yet: every one for an
/// instance admin, only one organization's for its admins (others: 404).
pub async fn withdraw(
    ctx: &RequestCtx,
    user: &CurrentUser,
    id: i64,
    org_id: Option<i64>,
) -> Result<(), AppError> {
    let mut tx = ctx.db().pool.begin().await?;
    let row: Option<(String, Option<i64>)> = match org_id {
        Some(org_id) => sqlx::query_as(
            "DELETE FROM invitations WHERE id = $1 AND org_id = $2 AND accepted_at IS NULL \
             RETURNING email, org_id",
        )
        .bind(id)
        .bind(org_id),
        None => sqlx::query_as(
            "DELETE FROM invitations WHERE id = $1 AND accepted_at IS NULL RETURNING email, org_id",
        )
        .bind(id),
    }
    .fetch_optional(&mut *tx)
    .await?;
    let (email, org_id) = row.ok_or_else(|| AppError::not_found("Invitation"))?;
    audit::record(
        &mut *tx,
        &ctx.actor(user),
        "invitation.withdrawn",
        Target {
            org_id,
            label: &email,
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn spent_or_unknown() -> AppError {
    AppError::NotFound(
        "This invitation link does not work: it was used already, withdrawn, or it expired. Ask for a new one."
            .into(),
    )
}

/// What an invitation link offers, while it can still be accepted.
pub async fn invitation(db: &Db, secret: &str) -> Result<InvitationView, AppError> {
    let row: Option<OfferRow> = sqlx::query_as(
        "SELECT i.email, o.name AS organization, i.org_role, \
         COALESCE(u.display_name, 'A former member') AS invited_by, i.expires_at \
         FROM invitations i LEFT JOIN organizations o ON o.id = i.org_id \
         LEFT JOIN users u ON u.id = i.invited_by \
         WHERE i.secret_digest = $1 AND i.accepted_at IS NULL AND i.expires_at > $2",
    )
    .bind(digest_of(secret).to_hex())
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    let row = row.ok_or_else(spent_or_unknown)?;
    Ok(InvitationView {
        email: row.email,
        organization: row.organization,
        role: row.org_role.as_deref().map(Role::from_db),
        invited_by: row.invited_by,
        expires_at: row.expires_at,
    })
}

#[derive(sqlx::FromRow)]
struct OfferRow {
    email: String,
    organization: Option<String>,
    org_role: Option<String>,
    invited_by: String,
    expires_at: i64,
}

/// An invitation as it is spent.
#[derive(sqlx::FromRow)]
struct SpentRow {
    id: i64,
    email: String,
    instance_admin: i64,
    org_id: Option<i64>,
    org_role: Option<String>,
}

/// Makes the invitee's account (and membership), spends the invitation and
/// signs them in. The invitation is spent by one guarded statement, so two
/// racing requests make one account; a refused form leaves it unspent.
pub async fn accept(
    ctx: &RequestCtx,
    secret: &str,
    display_name: &str,
    password: &str,
    password_confirm: &str,
) -> Result<(), AppError> {
    within_request_rate(ctx)?;
    let mut errors = FieldErrors::new();
    let chosen = new_account(&mut errors, display_name, password, password_confirm)?;
    errors.finish()?;
    let Some((name, password)) = chosen else {
        return Err(AppError::Internal);
    };
    // Known to be live before the expensive hash; checked again when spent.
    invitation(ctx.db(), secret).await?;
    let hash = hash_password_in_turn(ctx, password).await?;
    let now = now();
    let mut tx = ctx.db().pool.begin().await?;
    let spent: Option<SpentRow> = sqlx::query_as(
        "UPDATE invitations SET accepted_at = $2 WHERE secret_digest = $1 AND accepted_at IS NULL \
         AND expires_at > $2 RETURNING id, email, instance_admin, org_id, org_role",
    )
    .bind(digest_of(secret).to_hex())
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let SpentRow {
        id: invitation_id,
        email,
        instance_admin,
        org_id,
        org_role: role,
    } = spent.ok_or_else(spent_or_unknown)?;
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO users (kind, email, display_name, password_hash, is_instance_admin, created_at) \
         VALUES ('human', $1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&email)
    .bind(name.as_str())
    .bind(hash)
    .bind(instance_admin)
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    let user_id = match inserted {
        Ok((id,)) => id,
        Err(err) if is_unique_violation(&err) => {
            return Err(AppError::Conflict(
                "An account with this email exists already. Sign in with it instead.".into(),
            ))
        }
        Err(err) => return Err(err.into()),
    };
    sqlx::query("UPDATE invitations SET accepted_user_id = $1 WHERE id = $2")
        .bind(user_id)
        .bind(invitation_id)
        .execute(&mut *tx)
        .await?;
    if let (Some(org_id), Some(role)) = (org_id, &role) {
        sqlx::query(
            "INSERT INTO org_memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(role)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let actor = Actor {
        user_id: Some(user_id),
        label: &email,
        ip: ctx.ip_string(),
    };
    audit::record(
        &mut *tx,
        &actor,
        "invitation.accepted",
        Target {
            org_id,
            label: &email,
            detail: Some(
                json!({ "user_id": user_id, "role": role, "instance_admin": instance_admin != 0 }),
            ),
            ..Default::default()
        },
    )
    .await?;
    ctx.db().commit_auth_change(tx).await?;
    start_session(ctx, user_id).await
}

/// Forgets invitations a month after they were accepted or expired.
pub async fn prune(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM invitations WHERE COALESCE(accepted_at, expires_at) < $1")
        .bind(now() - 30 * 86_400)
        .execute(&db.pool)
        .await?;
    Ok(())
}
