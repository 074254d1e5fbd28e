//! The audit trail: who did what, when, from where, to what.

use super::db::now;
use sqlx::{Any, Executor};

pub struct Actor<'a> {
    pub user_id: Option<i64>,
    pub label: &'a str,
    pub ip: Option<String>,
}

impl<'a> Actor<'a> {
    pub fn system(label: &'a str) -> Self {
        Actor {
            user_id: None,
            label,
            ip: None,
        }
    }
}

#[derive(Default)]
pub struct Target<'a> {
    pub org_id: Option<i64>,
    pub group_id: Option<i64>,
    pub label: &'a str,
    pub detail: Option<serde_json::Value>,
    /// The person whose personal token the event is about, so it shows in
    /// their Recent activity whoever caused it.
    pub subject_user_id: Option<i64>,
}

pub async fn record<'e>(
    executor: impl Executor<'e, Database = Any>,
    actor: &Actor<'_>,
    action: &str,
    target: Target<'_>,
) -> Result<(), sqlx::Error> {
    let detail = target
        .detail
        .unwrap_or_else(|| serde_json::json!({}))
        .to_string();
    sqlx::query(
        "INSERT INTO audit_events \
         (occurred_at, actor_user_id, actor_label, ip, action, org_id, group_id, target_label, detail, subject_user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(now())
    .bind(actor.user_id)
    .bind(actor.label)
    .bind(actor.ip.as_deref())
    .bind(action)
    .bind(target.org_id)
    .bind(target.group_id)
    .bind(target.label)
    .bind(detail)
    .bind(target.subject_user_id)
    .execute(executor)
    .await?;
    Ok(())
}
