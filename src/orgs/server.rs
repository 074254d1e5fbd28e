//! Organization and group rules (server only). Every function that changes
//! something checks the caller's role here, whatever the page showed them.

use super::{
    AuditEntry, AuditPage, GroupLink, GroupSummary, GroupView, Member, MyOrg, OrgOverview,
    OrgSettings, AUDIT_PAGE_SIZE,
};
use crate::access::{self, Action, Caller, GroupStanding, Standing, TokensOf};
use crate::auth::CurrentUser;
use crate::domain::{Email, Name, Role, Slug};
use crate::error::{AppError, FieldErrors};
use crate::server::audit::{self, Actor, Target};
use crate::server::db::{is_unique_violation, now, Backend, Db};
use crate::server::request::RequestCtx;
use serde_json::json;

/// The caller's standing in one organization.
pub struct OrgAccess {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub role: Role,
}

pub struct GroupAccess {
    pub org: OrgAccess,
    pub group_id: i64,
    pub slug: String,
    pub name: String,
    pub group_role: Option<Role>,
}

impl GroupAccess {
    pub fn can_manage(&self) -> bool {
        access::decide(
            Caller::Person {
                instance_admin: false,
            },
            Action::AdministerGroup(Some(self.standing())),
        )
        .is_ok()
    }

    pub fn view(&self) -> GroupView {
        GroupView {
            org_slug: self.org.slug.clone(),
            org_name: self.org.name.clone(),
            slug: self.slug.clone(),
            name: self.name.clone(),
            my_role: self.group_role,
            can_manage: self.can_manage(),
        }
    }
}

impl OrgAccess {
    fn standing(&self) -> Standing {
        Standing {
            org_id: self.id,
            org_role: Some(self.role),
            group: None,
        }
    }
}

impl GroupAccess {
    fn standing(&self) -> Standing {
        Standing {
            group: Some(GroupStanding {
                group_id: self.group_id,
                role: self.group_role,
            }),
            ..self.org.standing()
        }
    }
}

fn person(user: &CurrentUser) -> Caller<'static> {
    Caller::Person {
        instance_admin: user.is_instance_admin,
    }
}

/// The person's membership of the organization called `slug`, if any, and
/// whether the organization's two-factor rule shuts them out.
async fn membership(
    db: &Db,
    user: &CurrentUser,
    slug: &str,
) -> Result<Option<(OrgAccess, bool)>, AppError> {
    let row: Option<MembershipRow> = sqlx::query_as(
        "SELECT o.id, o.slug, o.name, m.role, \
         CASE WHEN o.require_two_factor = 1 AND u.totp_enabled_at IS NULL THEN 1 ELSE 0 END \
           AS lacks_two_factor \
         FROM organizations o \
         JOIN org_memberships m ON m.org_id = o.id AND m.user_id = $1 \
         JOIN users u ON u.id = m.user_id WHERE o.slug = $2",
    )
    .bind(user.id)
    .bind(slug)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|row| {
        (
            OrgAccess {
                id: row.id,
                slug: row.slug,
                name: row.name,
                role: Role::from_db(&row.role),
            },
            row.lacks_two_factor != 0,
        )
    }))
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    id: i64,
    slug: String,
    name: String,
    role: String,
    lacks_two_factor: i64,
}

/// Organizations are visible to their members only; to anyone else an existing
/// organization looks exactly like a missing one.
pub async fn org_access(db: &Db, user: &CurrentUser, slug: &str) -> Result<OrgAccess, AppError> {
    cleared(db, user, slug, Action::ReadOrg).await
}

/// The organization, when the person may administer it (members, settings,
/// audit trail).
pub async fn org_admin_access(
    db: &Db,
    user: &CurrentUser,
    slug: &str,
) -> Result<OrgAccess, AppError> {
    cleared(db, user, slug, Action::AdministerOrg).await
}

/// The organization, when the person may manage its tokens.
pub async fn org_token_access(
    db: &Db,
    user: &CurrentUser,
    slug: &str,
) -> Result<OrgAccess, AppError> {
    cleared(db, user, slug, |standing| {
        Action::ManageTokens(TokensOf::Organization(standing))
    })
    .await
}

async fn cleared(
    db: &Db,
    user: &CurrentUser,
    slug: &str,
    action: impl FnOnce(Option<Standing>) -> Action,
) -> Result<OrgAccess, AppError> {
    let org = membership(db, user, slug).await?;
    // Told to members only (to anyone else the organization is not found),
    // and before anything about their role: it shuts them out of all of it.
    if let Some((org, true)) = &org {
        return Err(AppError::TwoFactorRequired(org.name.clone()));
    }
    let org = org.map(|(org, _)| org);
    access::decide(person(user), action(org.as_ref().map(OrgAccess::standing)))?;
    org.ok_or(AppError::Internal)
}

pub async fn group_access(
    db: &Db,
    user: &CurrentUser,
    org_slug: &str,
    group_slug: &str,
) -> Result<GroupAccess, AppError> {
    let org = org_access(db, user, org_slug).await?;
    let row: Option<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT g.id, g.slug, g.name, gm.role FROM groups g \
         LEFT JOIN group_memberships gm ON gm.group_id = g.id AND gm.user_id = $1 \
         WHERE g.org_id = $2 AND g.slug = $3",
    )
    .bind(user.id)
    .bind(org.id)
    .bind(group_slug)
    .fetch_optional(&db.pool)
    .await?;
    let (group_id, slug, name, role) = row.ok_or_else(|| AppError::not_found("Group"))?;
    Ok(GroupAccess {
        org,
        group_id,
        slug,
        name,
        group_role: role.as_deref().map(Role::from_db),
    })
}

pub async fn group_manager_access(
    db: &Db,
    user: &CurrentUser,
    org_slug: &str,
    group_slug: &str,
) -> Result<GroupAccess, AppError> {
    let access = group_access(db, user, org_slug, group_slug).await?;
    access::decide(
        person(user),
        Action::AdministerGroup(Some(access.standing())),
    )?;
    Ok(access)
}

/// The group, when the person may manage its tokens.
pub async fn group_token_access(
    db: &Db,
    user: &CurrentUser,
    org_slug: &str,
    group_slug: &str,
) -> Result<GroupAccess, AppError> {
    let access = group_access(db, user, org_slug, group_slug).await?;
    access::decide(
        person(user),
        Action::ManageTokens(TokensOf::Group(Some(access.standing()))),
    )?;
    Ok(access)
}

pub async fn list_my_orgs(db: &Db, user_id: i64) -> Result<Vec<MyOrg>, AppError> {
    let orgs: Vec<MembershipRow> = sqlx::query_as(
        "SELECT o.id, o.slug, o.name, m.role, \
         CASE WHEN o.require_two_factor = 1 AND u.totp_enabled_at IS NULL THEN 1 ELSE 0 END \
           AS lacks_two_factor \
         FROM organizations o JOIN org_memberships m ON m.org_id = o.id \
         JOIN users u ON u.id = m.user_id WHERE m.user_id = $1 ORDER BY o.name, o.id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let groups: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT g.org_id, g.slug, g.name FROM groups g \
         JOIN group_memberships gm ON gm.group_id = g.id WHERE gm.user_id = $1 ORDER BY g.name, g.id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(orgs
        .into_iter()
        .map(|org| MyOrg {
            slug: org.slug,
            name: org.name,
            role: Role::from_db(&org.role),
            needs_your_two_factor: org.lacks_two_factor != 0,
            groups: groups
                .iter()
                .filter(|(org_id, _, _)| *org_id == org.id)
                .map(|(_, slug, name)| GroupLink {
                    slug: slug.clone(),
                    name: name.clone(),
                })
                .collect(),
        })
        .collect())
}

/// Creates an organization with `admin_user_id` as its first admin.
pub async fn create_org(
    db: &Db,
    actor: &Actor<'_>,
    name: &str,
    slug: &str,
    admin_user_id: i64,
) -> Result<Slug, AppError> {
    let mut errors = FieldErrors::new();
    let name = errors.check(Name::parse(name))?;
    let slug = match (&name, slug.trim().is_empty()) {
        (_, false) => errors.check(Slug::parse(slug))?,
        (Some(name), true) => errors
            .check(Slug::parse(&Slug::suggest(name.as_str())).map_err(|_| {
                AppError::invalid("slug", "Choose a URL name for this organization.")
            }))?,
        // Made from the name once the name is right.
        (None, true) => None,
    };
    errors.finish()?;
    let (Some(name), Some(slug)) = (name, slug) else {
        return Err(AppError::Internal);
    };
    let mut tx = db.pool.begin().await?;
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO organizations (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(slug.as_str())
    .bind(name.as_str())
    .bind(now())
    .fetch_one(&mut *tx)
    .await;
    let (org_id,) = match inserted {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            return Err(AppError::invalid("slug", "That URL name is already taken."))
        }
        Err(err) => return Err(err.into()),
    };
    sqlx::query("INSERT INTO org_memberships (org_id, user_id, role, created_at) VALUES ($1, $2, 'admin', $3)")
        .bind(org_id)
        .bind(admin_user_id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "org.created",
        Target {
            org_id: Some(org_id),
            label: name.as_str(),
            detail: Some(json!({ "slug": slug.as_str() })),
            ..Default::default()
        },
    )
    .await?;
    db.commit_auth_change(tx).await?;
    Ok(slug)
}

/// An instance admin creates an organization; its first admin is the person
/// with `admin_email`, or the instance admin when that is empty.
pub async fn create_org_as(
    ctx: &RequestCtx,
    user: &CurrentUser,
    name: &str,
    slug: &str,
    admin_email: &str,
) -> Result<Slug, AppError> {
    access::decide(person(user), Action::AdministerInstance)?;
    let admin_id = if admin_email.trim().is_empty() {
        user.id
    } else {
        let email = Email::parse(admin_email).map_err(|e| e.on_field("admin_email"))?;
        let (id, _) = find_person(ctx.db(), &email).await?.ok_or_else(|| {
            AppError::invalid(
                "admin_email",
                "No account has this email. Invite them first, or leave this empty to be the admin yourself.",
            )
        })?;
        id
    };
    create_org(ctx.db(), &ctx.actor(user), name, slug, admin_id).await
}

/// Every organization on the instance, for its admins.
pub async fn all_orgs(ctx: &RequestCtx, user: &CurrentUser) -> Result<Vec<OrgOverview>, AppError> {
    access::decide(person(user), Action::AdministerInstance)?;
    Ok(sqlx::query_as::<_, OrgOverview>(
        "SELECT o.slug, o.name, o.created_at, \
         (SELECT COUNT(*) FROM org_memberships m JOIN users u ON u.id = m.user_id \
           WHERE m.org_id = o.id AND u.kind = 'human') AS members, \
         (SELECT COUNT(*) FROM groups g WHERE g.org_id = o.id) AS groups, \
         (SELECT COUNT(*) FROM access_tokens t WHERE t.org_id = o.id) AS tokens \
         FROM organizations o ORDER BY LOWER(o.name), o.id",
    )
    .fetch_all(&ctx.db().pool)
    .await?)
}

/// Deletes an organization with its groups, tokens (and their technical
/// users), applications and invitations. `confirm` must repeat its URL name.
pub async fn delete_org(
    ctx: &RequestCtx,
    user: &CurrentUser,
    slug: &str,
    confirm: &str,
) -> Result<(), AppError> {
    access::decide(person(user), Action::AdministerInstance)?;
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM organizations WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&ctx.db().pool)
            .await?;
    let (org_id, name) = row.ok_or_else(|| AppError::not_found("Organization"))?;
    if confirm.trim() != slug {
        return Err(AppError::invalid(
            "confirm",
            format!("Type {slug} to confirm."),
        ));
    }
    let mut tx = ctx.db().pool.begin().await?;
    sqlx::query(
        "DELETE FROM users WHERE kind = 'technical' \
         AND id IN (SELECT user_id FROM access_tokens WHERE org_id = $1)",
    )
    .bind(org_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM organizations WHERE id = $1")
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    // Recorded after the delete: the event outlives the organization.
    audit::record(
        &mut *tx,
        &ctx.actor(user),
        "org.deleted",
        Target {
            label: &name,
            detail: Some(json!({ "slug": slug })),
            ..Default::default()
        },
    )
    .await?;
    ctx.db().commit_auth_change(tx).await?;
    Ok(())
}

/// A member list: an organization's or one of its groups'. Both are the same
/// rows in two tables, so one set of queries and audit records serves both;
/// the rules that differ (an organization keeps an admin, leaving it means
/// leaving its groups, a group takes only the organization's members) stay in
/// the callers.
#[derive(Clone, Copy)]
enum Roster<'a> {
    Org {
        org_id: i64,
    },
    Group {
        org_id: i64,
        group_id: i64,
        slug: &'a str,
    },
}

impl Roster<'_> {
    fn table(&self) -> (&'static str, &'static str) {
        match self {
            Roster::Org { .. } => ORG_MEMBERSHIPS,
            Roster::Group { .. } => GROUP_MEMBERSHIPS,
        }
    }

    fn id(&self) -> i64 {
        match *self {
            Roster::Org { org_id } => org_id,
            Roster::Group { group_id, .. } => group_id,
        }
    }

    /// A member whose role people may change: present, and not the technical
    /// user of a token. Answers their role and a label for the audit trail.
    async fn managed_member(&self, db: &Db, user_id: i64) -> Result<(Role, String), AppError> {
        let (table, key) = self.table();
        let sql = format!(
            "SELECT m.role, u.kind, COALESCE(u.email, u.display_name) FROM {table} m \
             JOIN users u ON u.id = m.user_id WHERE m.{key} = $1 AND m.user_id = $2"
        );
        let row: Option<(String, String, String)> = sqlx::query_as(&sql)
            .bind(self.id())
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
        let (role, kind, label) = row.ok_or_else(|| AppError::not_found("Member"))?;
        if kind == "technical" {
            return Err(AppError::Conflict(TECHNICAL_MEMBER.into()));
        }
        Ok((Role::from_db(&role), label))
    }

    /// The guard that keeps an organization's last human admin: a change to
    /// a member's row (organization id and member id bound as `org` and
    /// `member`) may go ahead only if they are not an admin, or another human
    /// admin remains. Part of the changing statement itself (see
    /// `lock_for_admin_change`). Groups need none of their own: the
    /// organization's admins manage them.
    fn keeps_an_admin(&self, org: &str, member: &str) -> String {
        match self {
            Roster::Org { .. } => format!(
                " AND (role <> 'admin' OR (SELECT COUNT(*) FROM org_memberships a \
                 JOIN users u ON u.id = a.user_id WHERE a.org_id = {org} AND a.role = 'admin' \
                 AND u.kind = 'human' AND a.user_id <> {member}) > 0)"
            ),
            Roster::Group { .. } => String::new(),
        }
    }

    /// Serialises changes to one organization's admins. SQLite runs one
    /// writer at a time and a guarded statement reads under that lock, but
    /// PostgreSQL's statements read a snapshot: two admins demoting each other
    /// would each still see the other. Locking the organization's row first
    /// makes the second wait and then read the first one's change.
    async fn lock_for_admin_change(
        &self,
        db: &Db,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<(), AppError> {
        if let (Roster::Org { org_id }, Backend::Postgres) = (*self, db.backend) {
            sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
                .bind(org_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Why a guarded change touched no row: the member left meanwhile, or
    /// they are the last admin.
    async fn why_unchanged(&self, db: &Db, member_id: i64) -> AppError {
        match self.managed_member(db, member_id).await {
            Ok(_) => AppError::Conflict(LAST_ADMIN.into()),
            Err(err) => err,
        }
    }

    /// Records `org.<what>` or `group.<what>`; group events name their group.
    async fn record(
        &self,
        executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
        actor: &Actor<'_>,
        what: &str,
        label: &str,
        mut detail: serde_json::Value,
    ) -> Result<(), AppError> {
        let (action, org_id, group_id) = match *self {
            Roster::Org { org_id } => (format!("org.{what}"), org_id, None),
            Roster::Group {
                org_id,
                group_id,
                slug,
            } => {
                detail["group"] = json!(slug);
                (format!("group.{what}"), org_id, Some(group_id))
            }
        };
        let target = Target {
            org_id: Some(org_id),
            group_id,
            label,
            detail: Some(detail),
            subject_user_id: None,
        };
        audit::record(executor, actor, &action, target).await?;
        Ok(())
    }

    async fn add(
        &self,
        ctx: &RequestCtx,
        user: &CurrentUser,
        member_id: i64,
        role: Role,
        email: &Email,
        already_member: &str,
    ) -> Result<(), AppError> {
        let (table, key) = self.table();
        let sql = format!(
            "INSERT INTO {table} ({key}, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT ({key}, user_id) DO NOTHING"
        );
        let mut tx = ctx.db().pool.begin().await?;
        let inserted = sqlx::query(&sql)
            .bind(self.id())
            .bind(member_id)
            .bind(role.as_str())
            .bind(now())
            .execute(&mut *tx)
            .await?;
        if inserted.rows_affected() == 0 {
            return Err(AppError::invalid("email", already_member));
        }
        let detail = json!({ "user_id": member_id, "role": role });
        self.record(
            &mut *tx,
            &ctx.actor(user),
            "member_added",
            email.as_str(),
            detail,
        )
        .await?;
        ctx.db().commit_auth_change(tx).await?;
        Ok(())
    }

    async fn set_role(
        &self,
        ctx: &RequestCtx,
        user: &CurrentUser,
        member_id: i64,
        role: Role,
    ) -> Result<(), AppError> {
        let (current, label) = self.managed_member(ctx.db(), member_id).await?;
        if current == role {
            return Ok(());
        }
        let (table, key) = self.table();
        let guard = if role == Role::Admin {
            String::new()
        } else {
            self.keeps_an_admin("$2", "$3")
        };
        let sql = format!("UPDATE {table} SET role = $1 WHERE {key} = $2 AND user_id = $3{guard}");
        let mut tx = ctx.db().pool.begin().await?;
        self.lock_for_admin_change(ctx.db(), &mut tx).await?;
        let changed = sqlx::query(&sql)
            .bind(role.as_str())
            .bind(self.id())
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        if changed.rows_affected() == 0 {
            return Err(self.why_unchanged(ctx.db(), member_id).await);
        }
        let detail = json!({ "user_id": member_id, "from": current, "to": role });
        self.record(
            &mut *tx,
            &ctx.actor(user),
            "member_role_changed",
            &label,
            detail,
        )
        .await?;
        ctx.db().commit_auth_change(tx).await?;
        Ok(())
    }

    async fn remove(
        &self,
        ctx: &RequestCtx,
        user: &CurrentUser,
        member_id: i64,
    ) -> Result<(), AppError> {
        let (_, label) = self.managed_member(ctx.db(), member_id).await?;
        let (table, key) = self.table();
        let guard = self.keeps_an_admin("$1", "$2");
        let sql = format!("DELETE FROM {table} WHERE {key} = $1 AND user_id = $2{guard}");
        let mut tx = ctx.db().pool.begin().await?;
        self.lock_for_admin_change(ctx.db(), &mut tx).await?;
        let removed = sqlx::query(&sql)
            .bind(self.id())
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(self.why_unchanged(ctx.db(), member_id).await);
        }
        if let Roster::Org { org_id } = *self {
            // Leaving an organization means leaving all of its groups too.
            sqlx::query(
                "DELETE FROM group_memberships WHERE user_id = $1 \
                 AND group_id IN (SELECT id FROM groups WHERE org_id = $2)",
            )
            .bind(member_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        }
        let detail = json!({ "user_id": member_id });
        self.record(&mut *tx, &ctx.actor(user), "member_removed", &label, detail)
            .await?;
        ctx.db().commit_auth_change(tx).await?;
        Ok(())
    }
}

impl GroupAccess {
    fn roster(&self) -> Roster<'_> {
        Roster::Group {
            org_id: self.org.id,
            group_id: self.group_id,
            slug: &self.slug,
        }
    }
}

/// Membership tables and their key columns. Queries name them with `format!`,
/// so they must stay fixed strings, never input.
const ORG_MEMBERSHIPS: (&str, &str) = ("org_memberships", "org_id");
const GROUP_MEMBERSHIPS: (&str, &str) = ("group_memberships", "group_id");
const LAST_ADMIN: &str =
    "An organization needs at least one admin. Make someone else an admin first.";
const TECHNICAL_MEMBER: &str =
    "Technical users belong to an access token; manage the token instead.";

/// A member list, admins first.
/// Members of an organization or group; with `reveal_two_factor`, whether
/// each person signs in with two factors.
async fn members_of(
    db: &Db,
    (table, key): (&str, &str),
    id: i64,
    reveal_two_factor: bool,
) -> Result<Vec<Member>, AppError> {
    let sql = format!(
        "SELECT u.id AS user_id, u.display_name, u.email, u.kind, m.role, m.created_at AS joined_at, \
         CASE WHEN u.totp_enabled_at IS NULL THEN 0 ELSE 1 END AS two_factor FROM {table} m \
         JOIN users u ON u.id = m.user_id WHERE m.{key} = $1 \
         ORDER BY CASE WHEN m.role = 'admin' THEN 0 ELSE 1 END, u.display_name, u.id"
    );
    let rows: Vec<MemberRow> = sqlx::query_as(&sql).bind(id).fetch_all(&db.pool).await?;
    Ok(rows
        .into_iter()
        .map(|row| Member {
            user_id: row.user_id,
            display_name: row.display_name,
            email: row.email,
            technical: row.kind == "technical",
            role: Role::from_db(&row.role),
            joined_at: row.joined_at,
            two_factor: (reveal_two_factor && row.kind != "technical")
                .then_some(row.two_factor != 0),
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: i64,
    display_name: String,
    email: Option<String>,
    kind: String,
    role: String,
    joined_at: i64,
    two_factor: i64,
}

/// The organization's members; with `for_admin`, whether each person signs
/// in with two factors.
pub async fn list_org_members(
    db: &Db,
    org_id: i64,
    for_admin: bool,
) -> Result<Vec<Member>, AppError> {
    members_of(db, ORG_MEMBERSHIPS, org_id, for_admin).await
}

pub async fn list_group_members(db: &Db, group_id: i64) -> Result<Vec<Member>, AppError> {
    members_of(db, GROUP_MEMBERSHIPS, group_id, false).await
}

/// Finds a person (never a technical user) by email.
async fn find_person(db: &Db, email: &Email) -> Result<Option<(i64, String)>, AppError> {
    Ok(
        sqlx::query_as("SELECT id, display_name FROM users WHERE email = $1 AND kind = 'human'")
            .bind(email.as_str())
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub async fn add_org_member(
    ctx: &RequestCtx,
    user: &CurrentUser,
    org_slug: &str,
    email: &str,
    role: &str,
) -> Result<(), AppError> {
    let org = org_admin_access(ctx.db(), user, org_slug).await?;
    let email = Email::parse(email)?;
    let role = Role::parse(role)?;
    let (member_id, _) = find_person(ctx.db(), &email).await?.ok_or_else(|| {
        AppError::invalid(
            "email",
            "No account has this email yet. Invite them below: the invitation adds them when they accept it.",
        )
    })?;
    let roster = Roster::Org { org_id: org.id };
    roster
        .add(
            ctx,
            user,
            member_id,
            role,
            &email,
            "This person is already a member.",
        )
        .await
}

pub async fn set_org_member_role(
    ctx: &RequestCtx,
    user: &CurrentUser,
    org_slug: &str,
    member_id: i64,
    role: &str,
) -> Result<(), AppError> {
    let org = org_admin_access(ctx.db(), user, org_slug).await?;
    let role = Role::parse(role)?;
    let roster = Roster::Org { org_id: org.id };
    roster.set_role(ctx, user, member_id, role).await
}

pub async fn remove_org_member(
    ctx: &RequestCtx,
    user: &CurrentUser,
    org_slug: &str,
    member_id: i64,
) -> Result<(), AppError> {
    let org = org_admin_access(ctx.db(), user, org_slug).await?;
    Roster::Org { org_id: org.id }
        .remove(ctx, user, member_id)
        .await
}

pub async fn list_groups(db: &Db, org_id: i64) -> Result<Vec<GroupSummary>, AppError> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT g.slug, g.name, g.created_at, \
         (SELECT COUNT(*) FROM group_memberships gm WHERE gm.group_id = g.id) \
         FROM groups g WHERE g.org_id = $1 ORDER BY g.name, g.id",
    )
    .bind(org_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(slug, name, created_at, member_count)| GroupSummary {
            slug,
            name,
            member_count,
            created_at,
        })
        .collect())
}

/// Creates a group; used by the page (after the role check) and by `demo`.
pub async fn insert_group(
    db: &Db,
    actor: &Actor<'_>,
    org_id: i64,
    name: &str,
    slug: &str,
) -> Result<(i64, Slug), AppError> {
    let name = Name::parse(name)?;
    let slug = if slug.trim().is_empty() {
        Slug::parse(&Slug::suggest(name.as_str()))
            .map_err(|_| AppError::invalid("slug", "Choose a URL name for this group."))?
    } else {
        Slug::parse(slug)?
    };
    let mut tx = db.pool.begin().await?;
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO groups (org_id, slug, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(org_id)
    .bind(slug.as_str())
    .bind(name.as_str())
    .bind(now())
    .fetch_one(&mut *tx)
    .await;
    let (group_id,) = match inserted {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            return Err(AppError::invalid(
                "slug",
                "A group with this URL name already exists here.",
            ))
        }
        Err(err) => return Err(err.into()),
    };
    audit::record(
        &mut *tx,
        actor,
        "group.created",
        Target {
            org_id: Some(org_id),
            group_id: Some(group_id),
            label: name.as_str(),
            detail: Some(json!({ "slug": slug.as_str() })),
            subject_user_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((group_id, slug))
}

pub async fn create_group(
    ctx: &RequestCtx,
    user: &CurrentUser,
    org_slug: &str,
    name: &str,
    slug: &str,
) -> Result<(), AppError> {
    let org = org_admin_access(ctx.db(), user, org_slug).await?;
    insert_group(ctx.db(), &ctx.actor(user), org.id, name, slug)
        .await
        .map(|_| ())
}

pub async fn delete_group(
    ctx: &RequestCtx,
    user: &CurrentUser,
    org_slug: &str,
    group_slug: &str,
) -> Result<(), AppError> {
    let org = org_admin_access(ctx.db(), user, org_slug).await?;
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM groups WHERE org_id = $1 AND slug = $2")
            .bind(org.id)
            .bind(group_slug)
            .fetch_optional(&ctx.db().pool)
            .await?;
    let (group_id, name) = row.ok_or_else(|| AppError::not_found("Group"))?;
    let mut tx = ctx.db().pool.begin().await?;
    // The group's tokens go with it (cascade); their technical users too.
    sqlx::query(
        "DELETE FROM users WHERE kind = 'technical' \
         AND id IN (SELECT user_id FROM access_tokens WHERE group_id = $1)",
    )
    .bind(group_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &ctx.actor(user),
        "group.deleted",
        Target {
            org_id: Some(org.id),
            group_id: Some(group_id),
            label: &name,
            detail: Some(json!({ "slug": group_slug })),
            subject_user_id: None,
        },
    )
    .await?;
    sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(group_id)
        .execute(&mut *tx)
        .await?;
    ctx.db().commit_auth_change(tx).await?;
    Ok(())
}

pub async fn add_group_member(
    ctx: &RequestCtx,
    user: &CurrentUser,
    org_slug: &str,
    group_slug: &str,
    email: &str,
    role: &str,
) -> Result<(), AppError> {
    let group = group_manager_access(ctx.db(), user, org_slug, group_slug).await?;
    let email = Email::parse(email)?;
    let role = Role::parse(role)?;
    // Only members of the organization can join its groups.
    let member: Option<(i64,)> = sqlx::query_as(
        "SELECT u.id FROM users u JOIN org_memberships m ON m.user_id = u.id AND m.org_id = $1 \
         WHERE u.email = $2 AND u.kind = 'human'",
    )
    .bind(group.org.id)
    .bind(email.as_str())
    .fetch_optional(&ctx.db().pool)
    .await?;
    let (member_id,) = member.ok_or_else(|| {
        AppError::invalid(
            "email",
            "No member of this organization has this email. Add them to the organization first.",
        )
    })?;
    let already = "This person is already in the group.";
    group
        .roster()
        .add(ctx, user, member_id, role, &email, already)
        .await
}

pub async fn set_group_member_role(
    ctx: &RequestCtx,
    user: &CurrentUser,
    org_slug: &str,
    group_slug: &str,
    member_id: i64,
    role: &str,
) -> Result<(), AppError> {
    let group = group_manager_access(ctx.db(), user, org_slug, group_slug).await?;
    let role = Role::parse(role)?;
    group.roster().set_role(ctx, user, member_id, role).await
}

pub async fn remove_group_member(
    ctx: &RequestCtx,
    user: &CurrentUser,
    org_slug: &str,
    group_slug: &str,
    member_id: i64,
) -> Result<(), AppError> {
    let group = group_manager_access(ctx.db(), user, org_slug, group_slug).await?;
    group.roster().remove(ctx, user, member_id).await
}

pub async fn org_settings(ctx: &RequestCtx, org_id: i64) -> Result<OrgSettings, AppError> {
    let row: SettingsRow = sqlx::query_as(
        "SELECT allow_org_tokens, allow_group_tokens, allow_non_expiring_tokens, \
         token_max_lifetime_days, personal_tokens_need_approval, allow_oauth_apps, \
         require_two_factor, \
         (SELECT COUNT(*) FROM org_memberships m JOIN users u ON u.id = m.user_id \
          WHERE m.org_id = o.id AND u.kind = 'human' AND u.totp_enabled_at IS NULL) \
           AS members_without_two_factor \
         FROM organizations o WHERE id = $1",
    )
    .bind(org_id)
    .fetch_one(&ctx.db().pool)
    .await?;
    let instance = ctx.state.config.expiry_policy();
    Ok(OrgSettings {
        allow_org_tokens: row.allow_org_tokens != 0,
        allow_group_tokens: row.allow_group_tokens != 0,
        allow_non_expiring_tokens: row.allow_non_expiring_tokens != 0,
        token_max_lifetime_days: row.token_max_lifetime_days,
        personal_tokens_need_approval: row.personal_tokens_need_approval != 0,
        allow_oauth_apps: row.allow_oauth_apps != 0,
        require_two_factor: row.require_two_factor != 0,
        members_without_two_factor: row.members_without_two_factor,
        instance_max_lifetime_days: instance.max_lifetime_days,
        instance_allows_non_expiring: instance.allow_non_expiring,
    })
}

#[derive(sqlx::FromRow)]
struct SettingsRow {
    allow_org_tokens: i64,
    allow_group_tokens: i64,
    allow_non_expiring_tokens: i64,
    token_max_lifetime_days: Option<i64>,
    personal_tokens_need_approval: i64,
    allow_oauth_apps: i64,
    require_two_factor: i64,
    members_without_two_factor: i64,
}

/// Longest lifetime an organization may set for its tokens, in days.
const MAX_LIFETIME_DAYS_LIMIT: i64 = 3650;

/// The Settings form as submitted.
pub struct SettingsChange<'a> {
    pub allow_org_tokens: bool,
    pub allow_group_tokens: bool,
    pub allow_non_expiring_tokens: bool,
    /// As typed: empty for no limit.
    pub max_lifetime_days: &'a str,
    pub personal_tokens_need_approval: bool,
    pub allow_oauth_apps: bool,
    pub require_two_factor: bool,
}

pub async fn update_org_settings(
    ctx: &RequestCtx,
    user: &CurrentUser,
    org_slug: &str,
    change: SettingsChange<'_>,
) -> Result<OrgSettings, AppError> {
    let SettingsChange {
        allow_org_tokens,
        allow_group_tokens,
        allow_non_expiring_tokens,
        max_lifetime_days,
        personal_tokens_need_approval,
        allow_oauth_apps,
        require_two_factor,
    } = change;
    let org = org_admin_access(ctx.db(), user, org_slug).await?;
    if require_two_factor {
        // Only someone who has it may require it: otherwise the admin would
        // shut themselves out with their first click.
        let (own,): (i64,) = sqlx::query_as(
            "SELECT CASE WHEN totp_enabled_at IS NULL THEN 0 ELSE 1 END FROM users WHERE id = $1",
        )
        .bind(user.id)
        .fetch_one(&ctx.db().pool)
        .await?;
        if own == 0 {
            return Err(AppError::invalid(
                "require_two_factor",
                "Turn on two-factor sign-in for your own account first (Account → Two-factor sign-in); then you can require it of others.",
            ));
        }
    }
    let max_days = match max_lifetime_days.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(days) if (1..=MAX_LIFETIME_DAYS_LIMIT).contains(&days) => Some(days),
            _ => {
                return Err(AppError::invalid(
                    "token_max_lifetime_days",
                    format!("Enter a whole number of days from 1 to {MAX_LIFETIME_DAYS_LIMIT}, or leave it empty for no limit."),
                ))
            }
        },
    };
    let before = org_settings(ctx, org.id).await?;
    let mut tx = ctx.db().pool.begin().await?;
    sqlx::query(
        "UPDATE organizations SET allow_org_tokens = $1, allow_group_tokens = $2, \
         allow_non_expiring_tokens = $3, token_max_lifetime_days = $4, \
         personal_tokens_need_approval = $6, allow_oauth_apps = $7, require_two_factor = $8 \
         WHERE id = $5",
    )
    .bind(i64::from(allow_org_tokens))
    .bind(i64::from(allow_group_tokens))
    .bind(i64::from(allow_non_expiring_tokens))
    .bind(max_days)
    .bind(org.id)
    .bind(i64::from(personal_tokens_need_approval))
    .bind(i64::from(allow_oauth_apps))
    .bind(i64::from(require_two_factor))
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &ctx.actor(user),
        "org.settings_changed",
        Target {
            org_id: Some(org.id),
            label: &org.name,
            detail: Some(json!({
                "from": {
                    "allow_org_tokens": before.allow_org_tokens,
                    "allow_group_tokens": before.allow_group_tokens,
                    "allow_non_expiring_tokens": before.allow_non_expiring_tokens,
                    "token_max_lifetime_days": before.token_max_lifetime_days,
                    "personal_tokens_need_approval": before.personal_tokens_need_approval,
                    "allow_oauth_apps": before.allow_oauth_apps,
                    "require_two_factor": before.require_two_factor,
                },
                "to": {
                    "allow_org_tokens": allow_org_tokens,
                    "allow_group_tokens": allow_group_tokens,
                    "allow_non_expiring_tokens": allow_non_expiring_tokens,
                    "token_max_lifetime_days": max_days,
                    "personal_tokens_need_approval": personal_tokens_need_approval,
                    "allow_oauth_apps": allow_oauth_apps,
                    "require_two_factor": require_two_factor,
                },
            })),
            ..Default::default()
        },
    )
    .await?;
    ctx.db().commit_auth_change(tx).await?;
    org_settings(ctx, org.id).await
}

/// The organization's audit trail (its own and its groups' events), newest
/// first, `AUDIT_PAGE_SIZE` per page, optionally one action only.
/// The last audit page anyone may ask for: far beyond any real trail, and
/// small enough that its offset cannot overflow.
const MAX_AUDIT_PAGE: i64 = 1_000_000;

#[derive(sqlx::FromRow)]
struct AuditRow {
    occurred_at: i64,
    actor_label: String,
    actor_name: Option<String>,
    action: String,
    target_label: String,
    group_name: Option<String>,
    ip: Option<String>,
    detail: String,
}

pub async fn org_audit(
    db: &Db,
    org_id: i64,
    page: i64,
    action: &str,
) -> Result<AuditPage, AppError> {
    if !(1..=MAX_AUDIT_PAGE).contains(&page) {
        return Err(AppError::invalid(
            "page",
            format!("Pages are numbered from 1 to {MAX_AUDIT_PAGE}."),
        ));
    }
    let action = action.trim();
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT a.occurred_at, a.actor_label, u.display_name AS actor_name, a.action, \
             a.target_label, g.name AS group_name, a.ip, a.detail \
             FROM audit_events a LEFT JOIN groups g ON g.id = a.group_id \
             LEFT JOIN users u ON u.id = a.actor_user_id AND u.kind = 'human' \
             WHERE a.org_id = $1 AND ($2 = '' OR a.action = $2) \
             ORDER BY a.id DESC LIMIT $3 OFFSET $4",
    )
    .bind(org_id)
    .bind(action)
    .bind(AUDIT_PAGE_SIZE + 1)
    .bind((page - 1) * AUDIT_PAGE_SIZE)
    .fetch_all(&db.pool)
    .await?;
    let has_more = rows.len() as i64 > AUDIT_PAGE_SIZE;
    let actions: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT action FROM audit_events WHERE org_id = $1 ORDER BY action",
    )
    .bind(org_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(AuditPage {
        entries: rows
            .into_iter()
            .take(AUDIT_PAGE_SIZE as usize)
            .map(|row| AuditEntry {
                at: row.occurred_at,
                // A person by their name, with what the event recorded (their
                // email then) beside it; anyone else as recorded.
                actor_detail: row.actor_name.is_some().then(|| row.actor_label.clone()),
                actor: row.actor_name.unwrap_or(row.actor_label),
                action: row.action,
                target: row.target_label,
                group: row.group_name,
                ip: row.ip,
                detail: serde_json::from_str(&row.detail).unwrap_or_default(),
            })
            .collect(),
        page,
        has_more,
        actions: actions.into_iter().map(|(a,)| a).collect(),
        action: action.to_string(),
    })
}
