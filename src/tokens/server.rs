//! Token rules (server only): creating, listing and changing personal,
//! organization and group tokens, and checking a presented token on the API's
//! hot path.

use super::cache::AuthCache;
use super::changes::ScopeSet;
use super::secret::{digest_of, PlainToken, TokenKind, TOKEN_LEN};
use super::{
    Approval, ApprovalState, CreatedToken, TokenActivity, TokenScope, TokenStatus, TokenSummary,
};
use crate::access::{self, Scopes, TokenGrant};
use crate::auth::CurrentUser;
use crate::domain::{AllowedAddresses, ExpiryChoice, ExpiryPolicy, Role, TokenName};
use crate::error::{AppError, FieldErrors};
use crate::orgs::server::{group_token_access, org_token_access};
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{now, Backend, Db};
use crate::server::metrics::Metrics;
use serde_json::json;
use sqlx::{Any, Transaction};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Most tokens one owner (a person, an organization, a group) may hold.
pub const MAX_TOKENS_PER_OWNER: i64 = 500;

/// Whose tokens are meant, resolved to ids after the caller's right to manage
/// them was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Personal { user_id: i64 },
    Organization { org_id: i64 },
    Group { org_id: i64, group_id: i64 },
}

impl Owner {
    /// Whose a stored token is, from its columns: the organization and group
    /// it belongs to, or else the person it acts as.
    pub fn of_token(user_id: i64, org_id: Option<i64>, group_id: Option<i64>) -> Self {
        match (org_id, group_id) {
            (Some(org_id), Some(group_id)) => Owner::Group { org_id, group_id },
            (Some(org_id), None) => Owner::Organization { org_id },
            _ => Owner::Personal { user_id },
        }
    }

    /// The SQL condition selecting this owner's tokens (alias `t`); the owner's
    /// id is bound as `$1`.
    fn condition(self) -> (&'static str, i64) {
        match self {
            Owner::Personal { user_id } => ("t.kind = 'personal' AND t.user_id = $1", user_id),
            Owner::Organization { org_id } => ("t.kind = 'organization' AND t.org_id = $1", org_id),
            Owner::Group { group_id, .. } => ("t.kind = 'group' AND t.group_id = $1", group_id),
        }
    }

    pub(crate) fn kind(self) -> TokenKind {
        match self {
            Owner::Personal { .. } => TokenKind::Personal,
            Owner::Organization { .. } => TokenKind::Organization,
            Owner::Group { .. } => TokenKind::Group,
        }
    }

    fn org_id(self) -> Option<i64> {
        match self {
            Owner::Personal { .. } => None,
            Owner::Organization { org_id } | Owner::Group { org_id, .. } => Some(org_id),
        }
    }

    fn group_id(self) -> Option<i64> {
        match self {
            Owner::Group { group_id, .. } => Some(group_id),
            _ => None,
        }
    }

    /// Audit events about this owner's tokens carry its organization and group,
    /// so they show in that organization's audit trail.
    fn target<'a>(self, label: &'a str, detail: serde_json::Value) -> Target<'a> {
        Target {
            org_id: self.org_id(),
            group_id: self.group_id(),
            label,
            detail: Some(detail),
            subject_user_id: match self {
                Owner::Personal { user_id } => Some(user_id),
                _ => None,
            },
        }
    }
}

/// The owner a signed-in person means by `scope`, if they may manage its
/// tokens: their own always; an organization's as its admin; a group's as its
/// admin or the organization's. Others get 403, and outsiders 404.
pub async fn owner_for_person(
    db: &Db,
    user: &CurrentUser,
    scope: &TokenScope,
) -> Result<Owner, AppError> {
    Ok(match scope {
        TokenScope::Personal => Owner::Personal { user_id: user.id },
        TokenScope::Organization { org } => Owner::Organization {
            org_id: org_token_access(db, user, org).await?.id,
        },
        TokenScope::Group { org, group } => {
            let access = group_token_access(db, user, org, group).await?;
            Owner::Group {
                org_id: access.org.id,
                group_id: access.group_id,
            }
        }
    })
}

/// The expiry rules for a new token of `owner`: the instance's, narrowed by the
/// organization's settings. Refuses outright when the organization has turned
/// this kind of token off.
pub async fn creation_policy(
    db: &Db,
    owner: Owner,
    instance: ExpiryPolicy,
) -> Result<ExpiryPolicy, AppError> {
    let Some(org_id) = owner.org_id() else {
        return Ok(instance);
    };
    let (name, allow_org, allow_group, allow_non_expiring, max_days): (
        String,
        i64,
        i64,
        i64,
        Option<i64>,
    ) = sqlx::query_as(
        "SELECT name, allow_org_tokens, allow_group_tokens, allow_non_expiring_tokens, \
         token_max_lifetime_days FROM organizations WHERE id = $1",
    )
    .bind(org_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or_else(|| AppError::not_found("Organization"))?;
    let switched_off = match owner {
        Owner::Organization { .. } => (allow_org == 0).then_some("Organization"),
        Owner::Group { .. } => (allow_group == 0).then_some("Group"),
        Owner::Personal { .. } => None,
    };
    if let Some(kind) = switched_off {
        return Err(AppError::Conflict(format!(
            "{kind} access tokens are turned off for {name}. An organization admin can turn them on under Settings."
        )));
    }
    Ok(instance.narrowed(max_days, allow_non_expiring != 0))
}

/// A token row as listed, mapped by column name.
#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    hint: String,
    created_at: i64,
    expires_at: Option<i64>,
    disabled_at: Option<i64>,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
    role: Option<String>,
    created_by: Option<String>,
    created_by_token_name: Option<String>,
    leaked_at: Option<i64>,
    replaced_by: Option<i64>,
    scopes: String,
    restricted_to_orgs: i64,
    allowed_ips: String,
    last_refused_at: Option<i64>,
    last_refused_ip: Option<String>,
}

impl TokenRow {
    fn summary(self, now: i64, related: &Related) -> TokenSummary {
        let approvals = related
            .approvals
            .iter()
            .filter(|(token_id, ..)| *token_id == self.id)
            .map(|(_, org, approved)| Approval {
                org: org.clone(),
                state: match approved {
                    None => ApprovalState::Pending,
                    Some(0) => ApprovalState::Denied,
                    Some(_) => ApprovalState::Approved,
                },
            })
            .collect();
        let acts_in = (self.restricted_to_orgs != 0).then(|| {
            related
                .restrictions
                .iter()
                .filter(|(token_id, _)| *token_id == self.id)
                .map(|(_, slug)| slug.clone())
                .collect()
        });
        TokenSummary {
            id: self.id,
            name: self.name,
            hint: self.hint,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            last_used_ip: self.last_used_ip,
            status: TokenStatus::of(self.disabled_at, self.expires_at, now),
            role: self.role.as_deref().map(Role::from_db),
            created_by: self.created_by,
            created_by_token: self.created_by_token_name,
            leaked_at: self.leaked_at,
            replaced_by: self.replaced_by,
            scopes: Scopes::from_stored(&self.scopes)
                .iter()
                .map(str::to_string)
                .collect(),
            acts_in,
            allowed_ips: AllowedAddresses::from_stored(&self.allowed_ips).entries(),
            last_refused_at: self.last_refused_at,
            last_refused_ip: self.last_refused_ip,
            approvals,
        }
    }
}

/// What a listed token's row alone does not hold.
struct Related {
    /// (token id, organization slug) of restricted tokens' organizations.
    restrictions: Vec<(i64, String)>,
    /// (token id, organization slug, decision) for personal tokens in
    /// organizations that approve them; no decision yet: pending.
    approvals: Vec<(i64, String, Option<i64>)>,
}

/// `condition` selects tokens `t` with `$1` bound to `id`.
async fn related(db: &Db, condition: &str, id: i64) -> Result<Related, AppError> {
    let restrictions = sqlx::query_as(&format!(
        "SELECT r.token_id, o.slug FROM token_org_restrictions r \
         JOIN organizations o ON o.id = r.org_id \
         WHERE r.token_id IN (SELECT t.id FROM access_tokens t WHERE {condition}) ORDER BY o.slug"
    ))
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    let approvals = sqlx::query_as(&format!(
        "SELECT t.id, o.slug, a.approved FROM access_tokens t \
         JOIN org_memberships m ON m.user_id = t.user_id \
         JOIN organizations o ON o.id = m.org_id AND o.personal_tokens_need_approval = 1 \
         LEFT JOIN token_org_approvals a ON a.token_id = t.id AND a.org_id = o.id \
         WHERE {condition} AND t.kind = 'personal' AND (t.restricted_to_orgs = 0 OR EXISTS \
           (SELECT 1 FROM token_org_restrictions r WHERE r.token_id = t.id AND r.org_id = o.id)) \
         ORDER BY o.slug"
    ))
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    Ok(Related {
        restrictions,
        approvals,
    })
}

/// A token's listed fields, with the role its technical user holds and the
/// name of whoever created it.
const SUMMARY_SELECT: &str = "SELECT t.id, t.name, t.hint, t.created_at, t.expires_at, \
     t.disabled_at, t.last_used_at, t.last_used_ip, COALESCE(om.role, gm.role) AS role, \
     cu.display_name AS created_by, t.created_by_token_name, t.leaked_at, t.replaced_by, \
     t.scopes, t.restricted_to_orgs, t.allowed_ips, t.last_refused_at, t.last_refused_ip \
     FROM access_tokens t \
     LEFT JOIN org_memberships om ON t.kind = 'organization' AND om.org_id = t.org_id AND om.user_id = t.user_id \
     LEFT JOIN group_memberships gm ON t.kind = 'group' AND gm.group_id = t.group_id AND gm.user_id = t.user_id \
     LEFT JOIN users cu ON cu.id = t.created_by";

/// Recent token events of `owner`, newest first: for a person, every event
/// about their own tokens, whoever caused it (they themselves, an admin, a leak
/// report, an anonymous revocation); for an organization or group, everyone's.
pub async fn recent_activity(
    db: &Db,
    owner: Owner,
    limit: i64,
) -> Result<Vec<TokenActivity>, AppError> {
    let (condition, id) = match owner {
        Owner::Personal { user_id } => ("subject_user_id = $1", user_id),
        Owner::Organization { org_id } => ("org_id = $1 AND group_id IS NULL", org_id),
        Owner::Group { group_id, .. } => ("group_id = $1", group_id),
    };
    let rows: Vec<(i64, String, String, Option<String>, String)> = sqlx::query_as(&format!(
        "SELECT occurred_at, action, target_label, ip, actor_label FROM audit_events \
         WHERE {condition} AND action LIKE 'token.%' ORDER BY id DESC LIMIT $2"
    ))
    .bind(id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, action, token_name, ip, actor)| TokenActivity {
            at,
            action,
            token_name,
            ip,
            actor,
        })
        .collect())
}

/// The owner's tokens, newest first.
pub async fn list(db: &Db, owner: Owner) -> Result<Vec<TokenSummary>, AppError> {
    let (condition, id) = owner.condition();
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "{SUMMARY_SELECT} WHERE {condition} ORDER BY t.created_at DESC, t.id DESC"
    ))
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    let related = related(db, condition, id).await?;
    let now = now();
    Ok(rows.into_iter().map(|r| r.summary(now, &related)).collect())
}

/// What a create form or API call asks for, as typed.
pub struct NewToken<'a> {
    pub name: &'a str,
    pub expiry: &'a str,
    pub custom_expiry: &'a str,
    /// For organization and group tokens: hold the admin role there.
    pub admin: bool,
    /// The token making this one through the API; none for a signed-in person.
    pub creator: Option<CreatorToken<'a>>,
    /// Scope names asked for. Left empty by a token creating one: the
    /// creator's own (those that apply to the new token's kind).
    pub scopes: &'a [String],
    /// For a personal token: the organizations (slugs) it may act in; none
    /// for all of its owner's.
    pub acts_in: Option<&'a [String]>,
    /// Addresses and networks it may be used from, as typed; empty: anywhere.
    pub allowed_ips: &'a str,
}

/// A token that creates another: the new one may not outlive it, nor do
/// more than it may.
#[derive(Debug, Clone, Copy)]
pub struct CreatorToken<'a> {
    pub id: i64,
    pub name: &'a str,
    pub expires_at: Option<i64>,
    pub scopes: &'a Scopes,
}

/// The scopes a new token of `kind` gets: each one asked for must be a
/// built-in scope that applies to the kind or a custom scope that exists, at
/// least one is needed, and a token creating another can pass on only what
/// it holds.
async fn resolve_scopes(
    db: &Db,
    kind: TokenKind,
    asked: &[String],
    creator: Option<&CreatorToken<'_>>,
) -> Result<Scopes, AppError> {
    let invalid = |message: String| AppError::invalid("scopes", message);
    let custom = custom_scope_names(db).await?;
    let usable = |name: &str| {
        access::applicable_built_in_scopes(kind).any(|scope| scope.name == name)
            || custom.contains(name)
    };
    let scopes: Scopes = match creator {
        Some(creator) if asked.is_empty() => creator
            .scopes
            .iter()
            .filter(|name| usable(name))
            .map(str::to_string)
            .collect(),
        _ => asked
            .iter()
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect(),
    };
    for name in scopes.iter() {
        if access::is_built_in(name) && !usable(name) {
            return Err(invalid(format!(
                "The scope {name} does not apply to {} tokens.",
                kind.name()
            )));
        }
        if !usable(name) {
            let shown: String = name.chars().take(64).collect();
            return Err(invalid(format!(
                "There is no scope called \u{201c}{shown}\u{201d}."
            )));
        }
    }
    if scopes.is_empty() {
        return Err(invalid("Choose at least one scope.".into()));
    }
    if let Some(creator) = creator {
        let beyond: Vec<&str> = scopes.beyond(creator.scopes).collect();
        if !beyond.is_empty() {
            return Err(invalid(format!(
                "A token cannot give another token scopes it does not hold itself: {}.",
                beyond.join(", ")
            )));
        }
    }
    Ok(scopes)
}

/// Inside a token's insert transaction, after its first write: every custom
/// scope it gets still exists, and cannot be deleted until the token is
/// committed (on PostgreSQL a row lock; on SQLite the transaction already
/// holds the one write lock), so a deletion's clean-up always sees the new
/// token. Answers 422 naming a scope deleted meanwhile.
pub(crate) async fn hold_custom_scopes(
    db: &Db,
    tx: &mut Transaction<'_, Any>,
    scopes: &Scopes,
) -> Result<(), AppError> {
    let lock = match db.backend {
        Backend::Postgres => " FOR SHARE",
        Backend::Sqlite => "",
    };
    for name in scopes.iter().filter(|name| !access::is_built_in(name)) {
        let held: Option<(String,)> = sqlx::query_as(&format!(
            "SELECT name FROM custom_scopes WHERE name = $1{lock}"
        ))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
        if held.is_none() {
            return Err(AppError::invalid(
                "scopes",
                format!("The scope {name} was deleted meanwhile."),
            ));
        }
    }
    Ok(())
}

/// The names of the custom scopes an instance admin defined.
pub async fn custom_scope_names(db: &Db) -> Result<BTreeSet<String>, AppError> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM custom_scopes")
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// The organizations a new personal token of `user_id` is restricted to, from
/// their slugs: each must be one the person is a member of.
async fn restriction_for(
    db: &Db,
    owner: Owner,
    slugs: Option<&[String]>,
) -> Result<Option<BTreeSet<i64>>, AppError> {
    let Some(slugs) = slugs else {
        return Ok(None);
    };
    let Owner::Personal { user_id } = owner else {
        return Err(AppError::invalid(
            "acts_in",
            "Only personal tokens are restricted to organizations; an organization or group token acts where it belongs.",
        ));
    };
    let mut ids = BTreeSet::new();
    for slug in slugs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT o.id FROM organizations o JOIN org_memberships m ON m.org_id = o.id \
             WHERE o.slug = $1 AND m.user_id = $2",
        )
        .bind(slug)
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
        let Some((id,)) = row else {
            let shown: String = slug.chars().take(60).collect();
            return Err(AppError::invalid(
                "acts_in",
                format!("\u{201c}{shown}\u{201d} is not one of your organizations."),
            ));
        };
        ids.insert(id);
    }
    if ids.is_empty() {
        return Err(AppError::invalid(
            "acts_in",
            "Choose at least one organization, or let the token act in all of them.",
        ));
    }
    Ok(Some(ids))
}

impl CreatorToken<'_> {
    /// Refuses an expiry later than the creator's own: a short-lived token
    /// must not be able to mint a long-lived (or never-expiring) one.
    fn bound(&self, expires_at: Option<i64>) -> Result<(), AppError> {
        let Some(limit) = self.expires_at else {
            return Ok(());
        };
        let when = crate::domain::format_utc(limit);
        match expires_at {
            None => Err(AppError::invalid(
                "expiry",
                format!(
                    "The token making this request expires ({when} UTC), so it cannot create one that never does; choose an expiry on or before then."
                ),
            )),
            Some(at) if at > limit => Err(AppError::invalid(
                "expiry",
                format!(
                    "A token cannot create one that outlives it; choose an expiry on or before {when} UTC."
                ),
            )),
            Some(_) => Ok(()),
        }
    }
}

/// The columns of a new token row.
pub(crate) struct TokenInsert<'a> {
    pub kind: TokenKind,
    pub user_id: i64,
    pub name: &'a str,
    pub secret: &'a PlainToken,
    pub created_at: i64,
    pub created_by: Option<i64>,
    pub created_by_token: Option<(i64, &'a str)>,
    pub expires_at: Option<i64>,
    pub owner: Owner,
    pub scopes: &'a Scopes,
    /// The organizations a restricted personal token acts in.
    pub acts_in: Option<&'a BTreeSet<i64>>,
    pub allowed: &'a AllowedAddresses,
}

/// Inserts a token unless its owner already holds `MAX_TOKENS_PER_OWNER`; the
/// count and the insert are one statement. Answers the new id, or a conflict
/// naming the cap. The organization restriction is written with it.
pub(crate) async fn insert_token(
    tx: &mut Transaction<'_, Any>,
    row: TokenInsert<'_>,
) -> Result<i64, AppError> {
    let (condition, owner_id) = row.owner.condition();
    let inserted: Option<(i64,)> = sqlx::query_as(&format!(
        "INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at, created_by, \
         created_by_token_id, created_by_token_name, expires_at, org_id, group_id, scopes, \
         restricted_to_orgs, allowed_ips) \
         SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15, $16, $17 \
         WHERE (SELECT COUNT(*) FROM access_tokens t WHERE {condition}) < $14 RETURNING id"
    ))
    .bind(owner_id)
    .bind(row.kind.name())
    .bind(row.user_id)
    .bind(row.name)
    .bind(row.secret.digest().to_hex())
    .bind(row.secret.hint())
    .bind(row.created_at)
    .bind(row.created_by)
    .bind(row.created_by_token.map(|(id, _)| id))
    .bind(row.created_by_token.map(|(_, name)| name))
    .bind(row.expires_at)
    .bind(row.owner.org_id())
    .bind(row.owner.group_id())
    .bind(MAX_TOKENS_PER_OWNER)
    .bind(row.scopes.to_stored())
    .bind(i64::from(row.acts_in.is_some()))
    .bind(row.allowed.to_stored())
    .fetch_optional(&mut **tx)
    .await?;
    let (id,) = inserted.ok_or_else(|| {
        AppError::Conflict(format!(
            "There are {MAX_TOKENS_PER_OWNER} tokens here, the most allowed. Delete ones no longer in use first."
        ))
    })?;
    for org_id in row.acts_in.into_iter().flatten() {
        sqlx::query("INSERT INTO token_org_restrictions (token_id, org_id) VALUES ($1, $2)")
            .bind(id)
            .bind(org_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

/// Creates a token for `owner` (whose management the caller was cleared for).
/// An organization or group token gets its own technical user holding the
/// chosen role there.
pub async fn create(
    db: &Db,
    actor: &Actor<'_>,
    owner: Owner,
    scope: TokenScope,
    new: NewToken<'_>,
    policy: &ExpiryPolicy,
) -> Result<CreatedToken, AppError> {
    // Every field is checked before anything is refused, so the form shows
    // all that is wrong at once.
    let mut errors = FieldErrors::new();
    let name = errors.check(TokenName::parse(new.name))?;
    let now = now();
    let expires_at = errors.check(
        ExpiryChoice::parse(new.expiry, new.custom_expiry)
            .and_then(|choice| policy.resolve(choice, now))
            .and_then(|expires_at| match &new.creator {
                Some(creator) => creator.bound(expires_at).map(|()| expires_at),
                None => Ok(expires_at),
            }),
    )?;
    let scopes =
        errors.check(resolve_scopes(db, owner.kind(), new.scopes, new.creator.as_ref()).await)?;
    let acts_in = errors.check(restriction_for(db, owner, new.acts_in).await)?;
    let allowed = errors.check(AllowedAddresses::parse(new.allowed_ips))?;
    errors.finish()?;
    let (Some(name), Some(expires_at), Some(scopes), Some(acts_in), Some(allowed)) =
        (name, expires_at, scopes, acts_in, allowed)
    else {
        return Err(AppError::Internal);
    };
    let (condition, owner_id) = owner.condition();
    let (same_name,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM access_tokens t WHERE {condition} AND t.name = $2"
    ))
    .bind(owner_id)
    .bind(name.as_str())
    .fetch_one(&db.pool)
    .await?;
    let role = match owner {
        Owner::Personal { .. } => None,
        _ if new.admin => Some(Role::Admin),
        _ => Some(Role::User),
    };
    let token = PlainToken::generate(owner.kind());
    let mut tx = db.pool.begin().await?;
    let acting_user = match owner {
        Owner::Personal { user_id } => user_id,
        _ => {
            let (technical_id,): (i64,) = sqlx::query_as(
                "INSERT INTO users (kind, display_name, created_at) VALUES ('technical', $1, $2) RETURNING id",
            )
            .bind(name.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let role = role.unwrap_or(Role::User).as_str();
            let membership = match owner {
                Owner::Group { group_id, .. } => sqlx::query(
                    "INSERT INTO group_memberships (group_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(group_id),
                _ => sqlx::query(
                    "INSERT INTO org_memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(owner.org_id()),
            };
            membership
                .bind(technical_id)
                .bind(role)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            technical_id
        }
    };
    let id = insert_token(
        &mut tx,
        TokenInsert {
            kind: owner.kind(),
            user_id: acting_user,
            name: name.as_str(),
            secret: &token,
            created_at: now,
            created_by: actor.user_id,
            created_by_token: new.creator.map(|c| (c.id, c.name)),
            expires_at,
            owner,
            scopes: &scopes,
            acts_in: acts_in.as_ref(),
            allowed: &allowed,
        },
    )
    .await?;
    // After a write, so this transaction already holds SQLite's write lock.
    hold_custom_scopes(db, &mut tx, &scopes).await?;
    audit::record(
        &mut *tx,
        actor,
        "token.created",
        owner.target(
            name.as_str(),
            json!({
                "token_id": id,
                "kind": owner.kind().name(),
                "expires_at": expires_at,
                "role": role,
                "scopes": scopes.to_stored(),
                "allowed_ips": allowed.to_stored(),
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedToken {
        token: summary_by_id(db, id).await?,
        secret: token.expose_secret().to_string(),
        duplicate_name: same_name > 0,
        scope,
    })
}

/// One token of `owner`; any other id, whoever's it is, is simply not found.
async fn owned_token(db: &Db, owner: Owner, token_id: i64) -> Result<TokenSummary, AppError> {
    let (condition, owner_id) = owner.condition();
    let row: Option<TokenRow> =
        sqlx::query_as(&format!("{SUMMARY_SELECT} WHERE {condition} AND t.id = $2"))
            .bind(owner_id)
            .bind(token_id)
            .fetch_optional(&db.pool)
            .await?;
    let row = row.ok_or_else(|| AppError::not_found("Token"))?;
    let related = related(db, "t.id = $1", row.id).await?;
    Ok(row.summary(now(), &related))
}

/// One token by id, whoever owns it; only for callers already cleared for it
/// (a token reading itself, a rotation reading its result).
pub async fn summary_by_id(db: &Db, token_id: i64) -> Result<TokenSummary, AppError> {
    let row: Option<TokenRow> = sqlx::query_as(&format!("{SUMMARY_SELECT} WHERE t.id = $1"))
        .bind(token_id)
        .fetch_optional(&db.pool)
        .await?;
    let row = row.ok_or_else(|| AppError::not_found("Token"))?;
    let related = related(db, "t.id = $1", row.id).await?;
    Ok(row.summary(now(), &related))
}

/// Disables (revokes) or enables (reactivates) one token of `owner`. A token
/// reported leaked stays disabled: its secret is public, so the way forward is
/// a new token.
pub async fn set_enabled(
    db: &Db,
    actor: &Actor<'_>,
    owner: Owner,
    token_id: i64,
    enabled: bool,
) -> Result<TokenSummary, AppError> {
    let token = owned_token(db, owner, token_id).await?;
    let now = now();
    let mut tx = db.pool.begin().await?;
    if enabled {
        // Guarded in the statement itself: a leak report or expiry landing
        // after the read above still wins.
        let changed = sqlx::query(
            "UPDATE access_tokens SET disabled_at = NULL WHERE id = $1 AND leaked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            let current = owned_token(db, owner, token_id).await?;
            return Err(AppError::Conflict(if current.leaked_at.is_some() {
                LEAKED_STAYS_DISABLED.into()
            } else {
                "An expired token cannot be enabled. Create a new one.".into()
            }));
        }
    } else {
        disable_with_successors(&mut tx, token_id, now, None).await?;
    }
    let action = if enabled {
        "token.reactivated"
    } else {
        "token.revoked"
    };
    audit::record(
        &mut *tx,
        actor,
        action,
        owner.target(&token.name, json!({ "token_id": token_id })),
    )
    .await?;
    db.commit_auth_change(tx).await?;
    owned_token(db, owner, token_id).await
}

pub const LEAKED_STAYS_DISABLED: &str = "This token was reported leaked: its secret is public, so it cannot be reactivated. Delete it and create a new one (or rotate its replacement) for the integrations that used it.";

/// Disables `token_id` and every token that replaced it by rotation, so a
/// revocation also reaches a successor minted while it was in flight. The
/// token's own row is changed first, taking its row lock; the successors are
/// then found by statements that start after any rotation holding that lock
/// committed, repeated until none is left active. With `leak`, the token is
/// also marked reported leaked (where it was seen, if known).
pub(crate) async fn disable_with_successors(
    tx: &mut Transaction<'_, Any>,
    token_id: i64,
    now: i64,
    leak: Option<Option<&str>>,
) -> Result<u64, sqlx::Error> {
    let own = match leak {
        None => sqlx::query(
            "UPDATE access_tokens SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(token_id),
        Some(location) => sqlx::query(
            "UPDATE access_tokens SET disabled_at = COALESCE(disabled_at, $1), leaked_at = $1, \
             leak_location = $3 WHERE id = $2",
        )
        .bind(now)
        .bind(token_id)
        .bind(location),
    };
    let mut changed = own.execute(&mut **tx).await?.rows_affected();
    loop {
        let successors = sqlx::query(
            "WITH RECURSIVE successors (id) AS ( \
               SELECT replaced_by FROM access_tokens WHERE id = $2 AND replaced_by IS NOT NULL \
               UNION SELECT t.replaced_by FROM access_tokens t JOIN successors s ON t.id = s.id \
                 WHERE t.replaced_by IS NOT NULL) \
             UPDATE access_tokens SET disabled_at = $1 \
             WHERE id IN (SELECT id FROM successors) AND disabled_at IS NULL",
        )
        .bind(now)
        .bind(token_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if successors == 0 {
            return Ok(changed);
        }
        changed += successors;
    }
}

/// Deletes one token of `owner` for good; an organization or group token's
/// technical user goes with it. The audit trail keeps the event.
pub async fn delete(
    db: &Db,
    actor: &Actor<'_>,
    owner: Owner,
    token_id: i64,
) -> Result<(), AppError> {
    let token = owned_token(db, owner, token_id).await?;
    let mut tx = db.pool.begin().await?;
    let deleted: Option<(i64,)> =
        sqlx::query_as("DELETE FROM access_tokens WHERE id = $1 RETURNING user_id")
            .bind(token_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((user_id,)) = deleted else {
        return Err(AppError::not_found("Token"));
    };
    audit::record(
        &mut *tx,
        actor,
        "token.deleted",
        owner.target(&token.name, json!({ "token_id": token_id })),
    )
    .await?;
    // A technical user goes with its last token (a rotated token and its
    // successor share one); its memberships go by cascade.
    sqlx::query(
        "DELETE FROM users WHERE id = $1 AND kind = 'technical' \
         AND NOT EXISTS (SELECT 1 FROM access_tokens WHERE user_id = $1)",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(())
}

/// Disables every active token of `owner`; returns how many.
pub async fn revoke_all(db: &Db, actor: &Actor<'_>, owner: Owner) -> Result<u64, AppError> {
    let now = now();
    let (condition, owner_id) = owner.condition();
    let mut tx = db.pool.begin().await?;
    let res = sqlx::query(&format!(
        "UPDATE access_tokens SET disabled_at = $2 WHERE id IN (SELECT t.id FROM access_tokens t \
         WHERE {condition} AND t.disabled_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2))"
    ))
    .bind(owner_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let label = match owner {
        Owner::Personal { .. } => "all personal tokens",
        Owner::Organization { .. } => "all organization tokens",
        Owner::Group { .. } => "all group tokens",
    };
    audit::record(
        &mut *tx,
        actor,
        "token.revoked_all",
        owner.target(label, json!({ "count": res.rows_affected() })),
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(res.rows_affected())
}

/// Who a token acts as, as read from the database: the token, its user and
/// the user's memberships. Cached (see `cache`), so the state is kept and
/// judged on every request: expiry moves with the clock.
#[derive(Debug, Default)]
pub struct TokenIdentity {
    pub token_id: i64,
    pub token_name: String,
    pub kind: TokenKind,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub disabled_at: Option<i64>,
    /// As stored when the answer was read; only for the once-a-minute rule.
    pub last_used_at: Option<i64>,
    pub user_id: i64,
    pub display_name: String,
    pub email: Option<String>,
    pub user_kind: String,
    pub user_disabled: bool,
    /// Where an organization or group token belongs.
    pub org_id: Option<i64>,
    pub group_id: Option<i64>,
    /// The organization has turned this kind of token off (Settings).
    pub switched_off: bool,
    /// For an OAuth access token: the grant it was issued under, and the
    /// application's client id.
    pub oauth: Option<OAuthOrigin>,
    /// What the token may do: scopes, home, organization restriction. Every
    /// decision about it is `access::decide`'s.
    pub grant: TokenGrant,
    /// Where it may be used from.
    pub allowed: AllowedAddresses,
    /// Loaded only for a token that could be accepted, and only the
    /// organizations its restriction lets it act in.
    pub organizations: Vec<OrgMembership>,
    /// When this process last noted a use, so that the common case (noted
    /// within the minute) costs one atomic read and no lock.
    pub noted_at: AtomicI64,
    /// The `GET /api/v1/whoami` answer, serialised on first use. It depends
    /// only on the fields above, and a cached identity is replaced, never
    /// edited, when any of them could change.
    pub whoami_json: OnceLock<axum::body::Bytes>,
}

/// Where an OAuth access token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthOrigin {
    pub grant_id: i64,
    /// The refresh family (`oauth_sessions`) the token belongs to.
    pub session_id: i64,
    /// The application's row, and its public client id.
    pub app_id: i64,
    pub client_id: String,
}

/// An organization the acting user reaches, with the groups of it they are in.
/// `role` is none when they reach it only through a group (a group token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMembership {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub role: Option<Role>,
    pub groups: Vec<GroupMembership>,
    /// The organization requires approval of personal tokens.
    pub needs_approval: bool,
    /// The organization lets OAuth applications act in it.
    pub apps_allowed: bool,
    /// The organization requires two-factor sign-in of its members.
    pub requires_two_factor: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMembership {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub role: Role,
}

impl TokenIdentity {
    fn check(&self, now: i64) -> Result<(), TokenRejection> {
        match TokenStatus::of(self.disabled_at, self.expires_at, now) {
            TokenStatus::Expired => Err(TokenRejection::Expired),
            TokenStatus::Revoked => Err(TokenRejection::Revoked),
            TokenStatus::Active if self.user_disabled => Err(TokenRejection::UserDisabled),
            TokenStatus::Active if self.switched_off => Err(TokenRejection::SwitchedOff),
            TokenStatus::Active => Ok(()),
        }
    }

    /// The acting user's standing in the organization called `slug`, if the
    /// token reaches it.
    pub fn org(&self, slug: &str) -> Option<&OrgMembership> {
        self.organizations.iter().find(|o| o.slug == slug)
    }

    /// Who is asking, for `access::decide`.
    pub fn caller(&self) -> access::Caller<'_> {
        access::Caller::Token(&self.grant)
    }

    /// Whether any of the `changed` things can alter this answer.
    /// Organizations an answer depends on: its home, every one its user
    /// reaches (read at load), and those withheld from it; the groups
    /// likewise. Organizations outside a token's restriction only matter once
    /// the restriction or a membership changes, and those changes name the
    /// token or the user.
    pub fn depends_on(&self, changed: &ScopeSet) -> bool {
        if changed.everything || changed.users.contains(&self.user_id) {
            return true;
        }
        let mine = match &self.oauth {
            None => changed.tokens.contains(&self.token_id),
            Some(origin) => {
                changed.oauth_tokens.contains(&self.token_id)
                    || changed.sessions.contains(&origin.session_id)
                    || changed.grants.contains(&origin.grant_id)
                    || changed.clients.contains(&origin.app_id)
            }
        };
        let orgs = || {
            !changed.orgs.is_empty()
                && (self.org_id.is_some_and(|id| changed.orgs.contains(&id))
                    || self
                        .grant
                        .withheld
                        .iter()
                        .any(|id| changed.orgs.contains(id))
                    || self
                        .organizations
                        .iter()
                        .any(|org| changed.orgs.contains(&org.id)))
        };
        let groups = || {
            !changed.groups.is_empty()
                && (self.group_id.is_some_and(|id| changed.groups.contains(&id))
                    || self.organizations.iter().any(|org| {
                        org.groups
                            .iter()
                            .any(|group| changed.groups.contains(&group.id))
                    }))
        };
        mine || orgs() || groups()
    }

    /// Whether the API would accept this token at `now`.
    pub fn is_accepted(&self, now: i64) -> bool {
        self.check(now).is_ok()
    }

    /// For an organization or group token: the organization's slug, the
    /// group's slug, and the role the token holds there. Personal tokens
    /// belong nowhere in particular: all none.
    pub fn home(&self) -> (Option<String>, Option<String>, Option<Role>) {
        let Some(org) = self
            .org_id
            .and_then(|id| self.organizations.iter().find(|o| o.id == id))
        else {
            return (None, None, None);
        };
        match self.group_id {
            Some(group_id) => {
                let group = org.groups.iter().find(|g| g.id == group_id);
                (
                    Some(org.slug.clone()),
                    group.map(|g| g.slug.clone()),
                    group.map(|g| g.role),
                )
            }
            None => (Some(org.slug.clone()), None, org.role),
        }
    }
}

/// Why a presented token was refused. The API answers all of them alike,
/// except a use from an address the token does not allow, which says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Missing,
    Malformed,
    Unknown,
    Revoked,
    Expired,
    UserDisabled,
    /// An organization or group token of an organization that turned them off.
    SwitchedOff,
    /// A valid token from outside its allowlist (the address, when known).
    AddressNotAllowed(Option<IpAddr>),
}

impl TokenRejection {
    /// Its name in metrics.
    pub fn label(&self) -> &'static str {
        match self {
            TokenRejection::Missing => "missing",
            TokenRejection::Malformed => "malformed",
            TokenRejection::Unknown => "unknown",
            TokenRejection::Revoked => "revoked",
            TokenRejection::Expired => "expired",
            TokenRejection::UserDisabled => "user_disabled",
            TokenRejection::SwitchedOff => "switched_off",
            TokenRejection::AddressNotAllowed(_) => "address_not_allowed",
        }
    }
}

/// Checks a presented token: parse and checksum first (no database), then the
/// cache, and only on a miss the database (one indexed read, plus the user's
/// memberships). Never writes; last use, and a refusal by address, are noted
/// in memory for the batch.
pub async fn authenticate(
    db: &Db,
    checks: &TokenChecks,
    presented: Option<&str>,
    ip: Option<IpAddr>,
) -> Result<Result<Arc<TokenIdentity>, TokenRejection>, AppError> {
    let checked = check_token(db, checks, presented, ip).await;
    checks.metrics.token_check(match &checked {
        Ok(Ok(_)) => "ok",
        Ok(Err(rejection)) => rejection.label(),
        Err(_) => "error",
    });
    checked
}

async fn check_token(
    db: &Db,
    checks: &TokenChecks,
    presented: Option<&str>,
    ip: Option<IpAddr>,
) -> Result<Result<Arc<TokenIdentity>, TokenRejection>, AppError> {
    let Some(raw) = presented else {
        return Ok(Err(TokenRejection::Missing));
    };
    let raw = raw.trim();
    if raw.len() != TOKEN_LEN {
        return Ok(Err(TokenRejection::Malformed));
    }
    // A cached answer is kept under the digest of a token that passed every
    // format check, so a hit (nearly every check) needs none of them again.
    let digest = digest_of(raw);
    let (cache, usage) = (&checks.cache, &checks.usage);
    let identity = match cache.get(&digest) {
        Some(identity) => identity,
        None => {
            let Ok(kind) = PlainToken::kind_of(raw) else {
                return Ok(Err(TokenRejection::Malformed));
            };
            let generation = cache.generation_before_read();
            // Boxed, so that the state of a database read does not make every
            // check's future (cached ones included) as large as the read's.
            let loaded = match kind {
                TokenKind::OAuth => {
                    Box::pin(load_oauth_identity(db, TokenKind::OAuth, &digest.to_hex())).await?
                }
                // A refresh token buys access tokens at the token endpoint;
                // it is no bearer token.
                TokenKind::OAuthRefresh => None,
                _ => Box::pin(load_identity(db, &digest.to_hex())).await?,
            };
            let Some(identity) = loaded else {
                return Ok(Err(TokenRejection::Unknown));
            };
            let identity = Arc::new(identity);
            cache.insert(digest, generation, Arc::clone(&identity));
            identity
        }
    };
    let now = now();
    if let Err(rejection) = identity.check(now) {
        return Ok(Err(rejection));
    }
    if !identity.allowed.allows(ip) {
        usage.record_refusal(&identity, now, ip);
        return Ok(Err(TokenRejection::AddressNotAllowed(ip)));
    }
    usage.record(&identity, now, ip);
    Ok(Ok(identity))
}

/// The columns a token check reads, by name.
#[derive(sqlx::FromRow)]
struct IdentityRow {
    token_id: i64,
    token_name: String,
    kind: String,
    created_at: i64,
    expires_at: Option<i64>,
    disabled_at: Option<i64>,
    last_used_at: Option<i64>,
    scopes: String,
    restricted_to_orgs: i64,
    allowed_ips: String,
    user_id: i64,
    display_name: String,
    email: Option<String>,
    user_kind: String,
    user_disabled: i64,
    instance_admin: i64,
    two_factor: i64,
    org_id: Option<i64>,
    group_id: Option<i64>,
    switched_off: i64,
}

pub(crate) async fn load_identity(
    db: &Db,
    digest_hex: &str,
) -> Result<Option<TokenIdentity>, AppError> {
    let row: Option<IdentityRow> = sqlx::query_as(
        "SELECT t.id AS token_id, t.name AS token_name, t.kind, t.created_at, t.expires_at, \
         t.disabled_at, t.last_used_at, t.scopes, t.restricted_to_orgs, t.allowed_ips, \
         u.id AS user_id, u.display_name, u.email, u.kind AS user_kind, \
         u.is_disabled AS user_disabled, u.is_instance_admin AS instance_admin, \
         CASE WHEN u.totp_enabled_at IS NULL THEN 0 ELSE 1 END AS two_factor, t.org_id, t.group_id, \
         CASE WHEN t.kind = 'organization' AND o.allow_org_tokens = 0 THEN 1 \
              WHEN t.kind = 'group' AND o.allow_group_tokens = 0 THEN 1 ELSE 0 END AS switched_off \
         FROM access_tokens t JOIN users u ON u.id = t.user_id \
         LEFT JOIN organizations o ON o.id = t.org_id WHERE t.digest = $1",
    )
    .bind(digest_hex)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let kind = TokenKind::from_db(&row.kind);
    let mut identity = TokenIdentity {
        token_id: row.token_id,
        token_name: row.token_name,
        kind,
        created_at: row.created_at,
        expires_at: row.expires_at,
        disabled_at: row.disabled_at,
        last_used_at: row.last_used_at,
        user_id: row.user_id,
        display_name: row.display_name,
        email: row.email,
        user_kind: row.user_kind,
        user_disabled: row.user_disabled != 0,
        org_id: row.org_id,
        group_id: row.group_id,
        switched_off: row.switched_off != 0,
        oauth: None,
        grant: TokenGrant {
            kind,
            home_org: row.org_id,
            home_group: row.group_id,
            home_role: None,
            scopes: Scopes::from_stored(&row.scopes),
            acts_in: None,
            withheld: BTreeSet::new(),
            instance_admin: kind == TokenKind::Personal && row.instance_admin != 0,
        },
        allowed: AllowedAddresses::from_stored(&row.allowed_ips),
        organizations: Vec::new(),
        noted_at: AtomicI64::new(row.last_used_at.unwrap_or(i64::MIN)),
        whoami_json: OnceLock::new(),
    };
    if row.restricted_to_orgs != 0 {
        identity.grant.acts_in = Some(restricted_orgs(db, row.token_id).await?);
    }
    if identity.check(now()).is_ok() {
        let mut organizations = memberships(db, row.user_id).await?;
        if kind == TokenKind::Personal {
            if organizations.iter().any(|org| org.needs_approval) {
                let approved = approved_orgs(db, row.token_id).await?;
                identity.grant.withheld = organizations
                    .iter()
                    .filter(|org| org.needs_approval && !approved.contains(&org.id))
                    .map(|org| org.id)
                    .collect();
            }
            identity
                .grant
                .withheld
                .extend(lacking_two_factor(&organizations, row.two_factor != 0));
        }
        organizations.retain(|org| identity.grant.reaches_org(org.id));
        identity.organizations = organizations;
        identity.grant.home_role = identity.home().2;
    }
    Ok(Some(identity))
}

/// The columns an OAuth access token check reads, by name.
#[derive(sqlx::FromRow)]
struct OAuthIdentityRow {
    token_id: i64,
    app_name: String,
    client_id: String,
    app_id: i64,
    grant_id: i64,
    session_id: i64,
    created_at: i64,
    expires_at: i64,
    disabled_at: Option<i64>,
    last_used_at: Option<i64>,
    scopes: String,
    restricted_to_orgs: i64,
    user_id: i64,
    display_name: String,
    email: Option<String>,
    user_kind: String,
    user_disabled: i64,
    instance_admin: i64,
    two_factor: i64,
}

/// An OAuth token: an access token acts as the person who granted it, with
/// the granted scopes, in the organizations the grant names (all when it
/// names none) except those that do not allow applications. Revoking the
/// token, its family or the grant, or disabling the app, disables it. A
/// refresh token is read the same way for introspection only (spent counts as
/// disabled); `authenticate` never accepts one.
pub(crate) async fn load_oauth_identity(
    db: &Db,
    kind: TokenKind,
    digest_hex: &str,
) -> Result<Option<TokenIdentity>, AppError> {
    let stored_kind = match kind {
        TokenKind::OAuth => "access",
        TokenKind::OAuthRefresh => "refresh",
        _ => return Ok(None),
    };
    let row: Option<OAuthIdentityRow> = sqlx::query_as(
        "SELECT t.id AS token_id, c.name AS app_name, c.client_id, c.id AS app_id, \
         g.id AS grant_id, s.id AS session_id, \
         t.created_at, t.expires_at, \
         COALESCE(t.revoked_at, t.used_at, s.revoked_at, g.revoked_at, c.disabled_at) AS disabled_at, \
         g.last_used_at, s.scopes, g.restricted_to_orgs, u.id AS user_id, u.display_name, u.email, \
         u.kind AS user_kind, u.is_disabled AS user_disabled, u.is_instance_admin AS instance_admin, \
         CASE WHEN u.totp_enabled_at IS NULL THEN 0 ELSE 1 END AS two_factor \
         FROM oauth_tokens t JOIN oauth_sessions s ON s.id = t.session_id \
         JOIN oauth_grants g ON g.id = s.grant_id JOIN oauth_clients c ON c.id = g.client_id \
         JOIN users u ON u.id = g.user_id WHERE t.digest = $1 AND t.kind = $2",
    )
    .bind(digest_hex)
    .bind(stored_kind)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut identity = TokenIdentity {
        token_id: row.token_id,
        token_name: row.app_name,
        kind,
        created_at: row.created_at,
        expires_at: Some(row.expires_at),
        disabled_at: row.disabled_at,
        last_used_at: row.last_used_at,
        user_id: row.user_id,
        display_name: row.display_name,
        email: row.email,
        user_kind: row.user_kind,
        user_disabled: row.user_disabled != 0,
        org_id: None,
        group_id: None,
        switched_off: false,
        oauth: Some(OAuthOrigin {
            grant_id: row.grant_id,
            session_id: row.session_id,
            app_id: row.app_id,
            client_id: row.client_id,
        }),
        grant: TokenGrant {
            kind,
            home_org: None,
            home_group: None,
            home_role: None,
            scopes: Scopes::from_stored(&row.scopes),
            acts_in: None,
            withheld: BTreeSet::new(),
            instance_admin: row.instance_admin != 0,
        },
        allowed: AllowedAddresses::default(),
        organizations: Vec::new(),
        noted_at: AtomicI64::new(row.last_used_at.unwrap_or(i64::MIN)),
        whoami_json: OnceLock::new(),
    };
    if row.restricted_to_orgs != 0 {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT org_id FROM oauth_grant_orgs WHERE grant_id = $1")
                .bind(row.grant_id)
                .fetch_all(&db.pool)
                .await?;
        identity.grant.acts_in = Some(rows.into_iter().map(|(id,)| id).collect());
    }
    if identity.check(now()).is_ok() {
        let mut organizations = memberships(db, row.user_id).await?;
        let blocked: Vec<(i64,)> = sqlx::query_as(
            "SELECT b.org_id FROM oauth_org_blocks b JOIN oauth_grants g ON g.client_id = b.client_id \
             WHERE g.id = $1",
        )
        .bind(row.grant_id)
        .fetch_all(&db.pool)
        .await?;
        // Where the organization turned applications off, or stopped this
        // one, or requires two-factor sign-in the person has not turned on.
        identity.grant.withheld = organizations
            .iter()
            .filter(|org| !org.apps_allowed || blocked.iter().any(|(id,)| *id == org.id))
            .map(|org| org.id)
            .chain(lacking_two_factor(&organizations, row.two_factor != 0))
            .collect();
        organizations.retain(|org| identity.grant.reaches_org(org.id));
        identity.organizations = organizations;
    }
    Ok(Some(identity))
}

/// The organizations whose admins approved this personal token.
async fn approved_orgs(db: &Db, token_id: i64) -> Result<BTreeSet<i64>, AppError> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT org_id FROM token_org_approvals WHERE token_id = $1 AND approved = 1",
    )
    .bind(token_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The organizations a restricted personal token may act in.
pub(crate) async fn restricted_orgs(db: &Db, token_id: i64) -> Result<BTreeSet<i64>, AppError> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT org_id FROM token_org_restrictions WHERE token_id = $1")
            .bind(token_id)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The organizations the user reaches (as a member, or through a group only)
/// and, within each, their groups: always current, because a token acts with
/// its user's present roles.
async fn memberships(db: &Db, user_id: i64) -> Result<Vec<OrgMembership>, AppError> {
    let orgs: Vec<MembershipRow> = sqlx::query_as(
        "SELECT o.id, o.slug, o.name, m.role, o.personal_tokens_need_approval AS needs_approval, \
         o.allow_oauth_apps AS apps_allowed, o.require_two_factor AS requires_two_factor \
         FROM organizations o \
         LEFT JOIN org_memberships m ON m.org_id = o.id AND m.user_id = $1 \
         WHERE m.user_id IS NOT NULL OR o.id IN (SELECT g.org_id FROM groups g \
           JOIN group_memberships gm ON gm.group_id = g.id WHERE gm.user_id = $1) \
         ORDER BY o.slug",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let groups: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT g.org_id, g.id, g.slug, g.name, gm.role FROM groups g \
         JOIN group_memberships gm ON gm.group_id = g.id WHERE gm.user_id = $1 ORDER BY g.slug",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(orgs
        .into_iter()
        .map(|org| OrgMembership {
            needs_approval: org.needs_approval != 0,
            apps_allowed: org.apps_allowed != 0,
            requires_two_factor: org.requires_two_factor != 0,
            role: org.role.as_deref().map(Role::from_db),
            groups: groups
                .iter()
                .filter(|(org_id, ..)| *org_id == org.id)
                .map(|(_, id, slug, name, role)| GroupMembership {
                    id: *id,
                    slug: slug.clone(),
                    name: name.clone(),
                    role: Role::from_db(role),
                })
                .collect(),
            id: org.id,
            slug: org.slug,
            name: org.name,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    id: i64,
    slug: String,
    name: String,
    role: Option<String>,
    needs_approval: i64,
    apps_allowed: i64,
    requires_two_factor: i64,
}

/// The organizations a person's own tokens and connected applications may
/// not act in because they require two-factor sign-in the person lacks.
fn lacking_two_factor(
    organizations: &[OrgMembership],
    two_factor: bool,
) -> impl Iterator<Item = i64> + '_ {
    organizations
        .iter()
        .filter(move |org| org.requires_two_factor && !two_factor)
        .map(|org| org.id)
}

/// What token checks keep in memory on this instance: recent answers, and
/// the uses and refusals waiting for the next batch. Made once per instance
/// and kept in the application state.
#[derive(Clone, Debug)]
pub struct TokenChecks {
    pub cache: AuthCache,
    pub usage: UsageRecorder,
    pub metrics: Metrics,
}

impl TokenChecks {
    pub fn new(db: &Db, metrics: &Metrics) -> Self {
        TokenChecks {
            cache: AuthCache::new(db.changes.clone(), metrics.cache_stats()),
            usage: UsageRecorder::default(),
            metrics: metrics.clone(),
        }
    }
}

/// Last-use times waiting to be written. A token's use is noted at most once a
/// minute and written by `flush`, in a background task, never by the request.
#[derive(Debug, Default, Clone)]
pub struct UsageRecorder {
    inner: Arc<Mutex<Usage>>,
}

#[derive(Debug, Default)]
struct Usage {
    /// Uses to write in the next batch.
    pending: HashMap<i64, LastUse>,
    /// Last use of OAuth grants (through any of their access tokens).
    grants: HashMap<i64, i64>,
    /// When each token's use was last noted, so a cached (older) stored time
    /// does not note it again on every request.
    noted: HashMap<UseOf, i64>,
    /// The latest refusal of each token from an address it does not allow.
    refused: HashMap<i64, LastUse>,
}

/// What a use is recorded on: a token, or an OAuth grant (its access tokens
/// come and go within the hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum UseOf {
    Token(i64),
    Grant(i64),
}

/// When a token was used, and from which address.
type LastUse = (i64, Option<IpAddr>);

const USAGE_RESOLUTION_SECS: i64 = 60;

impl UsageRecorder {
    /// Notes a use of `identity`'s token unless one was noted (or stored)
    /// within the last minute.
    pub fn record(&self, identity: &TokenIdentity, now: i64, ip: Option<IpAddr>) {
        let due = |at: i64| now.saturating_sub(at) >= USAGE_RESOLUTION_SECS;
        if !due(identity.noted_at.load(Ordering::Relaxed)) {
            return;
        }
        identity.noted_at.store(now, Ordering::Relaxed);
        let Ok(mut usage) = self.inner.lock() else {
            return;
        };
        // Another copy of the identity (loaded after a cache reset) may have
        // noted this token already.
        let of = match &identity.oauth {
            Some(origin) => UseOf::Grant(origin.grant_id),
            None => UseOf::Token(identity.token_id),
        };
        if usage.noted.get(&of).is_some_and(|at| !due(*at)) {
            return;
        }
        usage.noted.insert(of, now);
        match of {
            UseOf::Token(id) => {
                usage.pending.insert(id, (now, ip));
            }
            UseOf::Grant(id) => {
                usage.grants.insert(id, now);
            }
        }
    }

    /// Notes a refusal of `identity`'s token from `ip`, outside its
    /// allowlist; only the latest per token is written.
    pub fn record_refusal(&self, identity: &TokenIdentity, now: i64, ip: Option<IpAddr>) {
        if let Ok(mut usage) = self.inner.lock() {
            usage.refused.insert(identity.token_id, (now, ip));
        }
    }

    /// Writes the waiting batch in one transaction. Each time only moves
    /// forward, so instances writing their batches in any order keep the
    /// latest use; a batch that could not be written is kept for the next.
    pub async fn flush(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let (batch, refusals, grants): (Vec<_>, Vec<_>, Vec<_>) = match self.inner.lock() {
            Ok(mut usage) => {
                let cutoff = now() - USAGE_RESOLUTION_SECS;
                usage.noted.retain(|_, at| *at > cutoff);
                (
                    usage.pending.drain().collect(),
                    usage.refused.drain().collect(),
                    usage.grants.drain().collect(),
                )
            }
            Err(_) => return Ok(0),
        };
        if batch.is_empty() && refusals.is_empty() && grants.is_empty() {
            return Ok(0);
        }
        match write_usage(db, &batch, &refusals, &grants).await {
            Ok(()) => Ok(batch.len() + refusals.len() + grants.len()),
            Err(err) => {
                self.keep_for_later(batch, refusals, grants);
                Err(err)
            }
        }
    }

    /// Puts an unwritten batch back, beside anything noted since (the later
    /// of two times for the same token wins).
    fn keep_for_later(
        &self,
        batch: Vec<(i64, LastUse)>,
        refusals: Vec<(i64, LastUse)>,
        grants: Vec<(i64, i64)>,
    ) {
        let Ok(mut usage) = self.inner.lock() else {
            return;
        };
        for (token_id, used) in batch {
            let entry = usage.pending.entry(token_id).or_insert(used);
            if entry.0 < used.0 {
                *entry = used;
            }
        }
        for (token_id, refused) in refusals {
            let entry = usage.refused.entry(token_id).or_insert(refused);
            if entry.0 < refused.0 {
                *entry = refused;
            }
        }
        for (grant_id, at) in grants {
            let entry = usage.grants.entry(grant_id).or_insert(at);
            *entry = (*entry).max(at);
        }
    }
}

async fn write_usage(
    db: &Db,
    batch: &[(i64, LastUse)],
    refusals: &[(i64, LastUse)],
    grants: &[(i64, i64)],
) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    for (grant_id, at) in grants {
        sqlx::query(
            "UPDATE oauth_grants SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(at)
        .bind(grant_id)
        .execute(&mut *tx)
        .await?;
    }
    for (token_id, (at, ip)) in refusals {
        sqlx::query(
            "UPDATE access_tokens SET last_refused_at = $1, last_refused_ip = $2 \
             WHERE id = $3 AND (last_refused_at IS NULL OR last_refused_at <= $1)",
        )
        .bind(at)
        .bind(ip.map(|ip| ip.to_string()))
        .bind(token_id)
        .execute(&mut *tx)
        .await?;
    }
    for (token_id, (at, ip)) in batch {
        sqlx::query(
            "UPDATE access_tokens SET last_used_at = $1, last_used_ip = $2 \
             WHERE id = $3 AND (last_used_at IS NULL OR last_used_at <= $1)",
        )
        .bind(at)
        .bind(ip.map(|ip| ip.to_string()))
        .bind(token_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::{TokenIdentity, UsageRecorder};
    use std::sync::atomic::AtomicI64;

    fn pending(usage: &UsageRecorder) -> usize {
        usage.inner.lock().unwrap().pending.len()
    }

    fn identity(last_used_at: Option<i64>) -> TokenIdentity {
        TokenIdentity {
            token_id: 1,
            last_used_at,
            noted_at: AtomicI64::new(last_used_at.unwrap_or(i64::MIN)),
            ..Default::default()
        }
    }

    #[test]
    fn a_use_is_noted_at_most_once_a_minute() {
        let usage = UsageRecorder::default();
        let token = identity(None);
        usage.record(&token, 1_000, None);
        usage.record(&token, 1_030, Some([10, 0, 0, 1].into()));
        assert_eq!(pending(&usage), 1);
        assert_eq!(usage.inner.lock().unwrap().pending[&1].0, 1_000);
        // Written meanwhile, and the cache reset: a fresh copy of the identity
        // still holds the old stored time, but the recorder remembers.
        usage.inner.lock().unwrap().pending.clear();
        usage.record(&identity(None), 1_059, None);
        assert_eq!(pending(&usage), 0);
        usage.record(&token, 1_060, None);
        assert_eq!(pending(&usage), 1);
    }

    #[test]
    fn a_recent_stored_use_is_not_noted_again() {
        let usage = UsageRecorder::default();
        usage.record(&identity(Some(990)), 1_000, None);
        assert_eq!(pending(&usage), 0);
    }
}
