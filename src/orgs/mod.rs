//! Organizations, groups and their memberships.

pub mod api;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;

use crate::domain::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLink {
    pub slug: String,
    pub name: String,
}

/// An organization the signed-in user belongs to, with the groups they are in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyOrg {
    pub slug: String,
    pub name: String,
    pub role: Role,
    pub groups: Vec<GroupLink>,
    /// The organization requires two-factor sign-in, which this person has
    /// not turned on: they cannot open it until they do.
    #[serde(default)]
    pub needs_your_two_factor: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgView {
    pub slug: String,
    pub name: String,
    pub my_role: Role,
}

impl OrgView {
    pub fn is_admin(&self) -> bool {
        self.my_role == Role::Admin
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    pub org_slug: String,
    pub org_name: String,
    pub slug: String,
    pub name: String,
    /// The caller's role in the group, if they are a member of it.
    pub my_role: Option<Role>,
    /// Organization admins and group admins manage the group's members.
    pub can_manage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupSummary {
    pub slug: String,
    pub name: String,
    pub member_count: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: i64,
    pub display_name: String,
    pub email: Option<String>,
    pub technical: bool,
    pub role: Role,
    pub joined_at: i64,
    /// Whether the person signs in with two factors: told to the
    /// organization's admins only (never for technical users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<bool>,
}

/// An organization's token policy (Settings tab).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettings {
    pub allow_org_tokens: bool,
    pub allow_group_tokens: bool,
    pub allow_non_expiring_tokens: bool,
    pub token_max_lifetime_days: Option<i64>,
    /// Personal tokens act here only once an admin approved them.
    #[serde(default)]
    pub personal_tokens_need_approval: bool,
    /// OAuth applications may act in the organization for its members.
    #[serde(default)]
    pub allow_oauth_apps: bool,
    /// Members must sign in with two factors to act here (their personal
    /// tokens and connected applications too).
    #[serde(default)]
    pub require_two_factor: bool,
    /// People in the organization who have not turned two-factor sign-in on.
    #[serde(default)]
    pub members_without_two_factor: i64,
    /// The instance's own limit, which the organization cannot exceed.
    pub instance_max_lifetime_days: Option<i64>,
    pub instance_allows_non_expiring: bool,
}

/// One line of an organization's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    /// Who: a person's name, or a token, a leak report, the command line.
    pub actor: String,
    /// For a person: who they were when it happened (their email then).
    #[serde(default)]
    pub actor_detail: Option<String>,
    pub action: String,
    pub target: String,
    pub group: Option<String>,
    pub ip: Option<String>,
    /// What the event recorded beyond its target (roles, settings before
    /// and after, …).
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl AuditEntry {
    /// The event as a sentence: "Ada Admin revoked the organization token
    /// “deploy-bot”".
    pub fn sentence(&self) -> String {
        let actor = self.actor.as_str();
        let quoted = format!("\u{201c}{}\u{201d}", self.target);
        let target = self.target.as_str();
        let group = self.group.as_deref();
        let token = match group {
            Some(group) => format!("the group token {quoted} of {group}"),
            None => format!("the organization token {quoted}"),
        };
        let role = |key: &str| {
            let role = self.detail.get(key).and_then(|v| v.as_str()).unwrap_or("");
            match (role, group) {
                ("admin", Some(_)) => "a group admin",
                (_, Some(_)) => "a group user",
                ("admin", None) => "an admin",
                _ => "a user",
            }
        };
        let in_group = |text: String| match group {
            Some(group) => format!("{text} in the group {group}"),
            None => text,
        };
        match self.action.as_str() {
            "token.created" => format!("{actor} created {token}"),
            "token.revoked" => format!("{actor} revoked {token}"),
            "token.reactivated" => format!("{actor} reactivated {token}"),
            "token.deleted" => format!("{actor} deleted {token}"),
            "token.rotated" => format!("{actor} rotated {token}"),
            "token.leaked" => format!("A leak report named {token}; it was revoked"),
            "token.revoked_all" => match group {
                Some(group) => format!("{actor} revoked every active token of the group {group}"),
                None => format!("{actor} revoked every active organization token"),
            },
            "token.approved" => format!("{actor} approved the personal token {quoted}"),
            "token.denied" => format!("{actor} denied the personal token {quoted}"),
            "org.member_added" | "group.member_added" => {
                in_group(format!("{actor} added {target} as {}", role("role")))
            }
            "org.member_role_changed" | "group.member_role_changed" => {
                in_group(format!("{actor} made {target} {}", role("to")))
            }
            "org.member_removed" => format!("{actor} removed {target} from the organization"),
            "group.member_removed" => match group {
                Some(group) => format!("{actor} removed {target} from the group {group}"),
                None => format!("{actor} removed {target} from a group"),
            },
            "group.created" => format!("{actor} created the group {quoted}"),
            "group.deleted" => format!("{actor} deleted the group {quoted}"),
            "org.created" => format!("{actor} created the organization"),
            "org.settings_changed" => format!("{actor} {}", settings_changes(&self.detail)),
            "invitation.created" => format!("{actor} invited {target} to join as {}", role("role")),
            "invitation.accepted" => format!("{target} accepted an invitation and joined"),
            "invitation.withdrawn" => format!("{actor} withdrew the invitation of {target}"),
            "app.blocked_in_org" => format!("{actor} stopped the application {quoted} here"),
            "app.allowed_in_org" => format!("{actor} allowed the application {quoted} again"),
            other => format!("{actor}: {} {quoted}", audit_action_label(other)),
        }
    }
}

/// A short name for an audit action, for the filter.
pub fn audit_action_label(action: &str) -> String {
    let label = match action {
        "token.created" => "Token created",
        "token.revoked" => "Token revoked",
        "token.reactivated" => "Token reactivated",
        "token.deleted" => "Token deleted",
        "token.rotated" => "Token rotated",
        "token.leaked" => "Token reported leaked",
        "token.revoked_all" => "All tokens revoked",
        "token.approved" => "Personal token approved",
        "token.denied" => "Personal token denied",
        "org.member_added" => "Member added",
        "org.member_role_changed" => "Member's role changed",
        "org.member_removed" => "Member removed",
        "group.member_added" => "Group member added",
        "group.member_role_changed" => "Group member's role changed",
        "group.member_removed" => "Group member removed",
        "group.created" => "Group created",
        "group.deleted" => "Group deleted",
        "org.created" => "Organization created",
        "org.settings_changed" => "Settings changed",
        "invitation.created" => "Invitation created",
        "invitation.accepted" => "Invitation accepted",
        "invitation.withdrawn" => "Invitation withdrawn",
        "app.blocked_in_org" => "Application stopped",
        "app.allowed_in_org" => "Application allowed",
        other => return other.replace(['.', '_'], " "),
    };
    label.to_string()
}

/// "turned organization tokens off and required two-factor sign-in", from
/// the settings before and after.
fn settings_changes(detail: &serde_json::Value) -> String {
    let (from, to) = (&detail["from"], &detail["to"]);
    let switches: [(&str, &str, &str); 6] = [
        (
            "allow_org_tokens",
            "allowed organization tokens",
            "turned organization tokens off",
        ),
        (
            "allow_group_tokens",
            "allowed group tokens",
            "turned group tokens off",
        ),
        (
            "allow_non_expiring_tokens",
            "allowed tokens that never expire",
            "required tokens to expire",
        ),
        (
            "personal_tokens_need_approval",
            "required approval of personal tokens",
            "stopped requiring approval of personal tokens",
        ),
        (
            "allow_oauth_apps",
            "allowed OAuth applications",
            "turned OAuth applications off",
        ),
        (
            "require_two_factor",
            "required two-factor sign-in",
            "stopped requiring two-factor sign-in",
        ),
    ];
    let mut changes: Vec<String> = switches
        .iter()
        .filter(|(key, ..)| from.get(key).is_some() && from[key] != to[key])
        .map(|(key, on, off)| {
            if to[key] == serde_json::Value::Bool(true) {
                on
            } else {
                off
            }
            .to_string()
        })
        .collect();
    let days = "token_max_lifetime_days";
    if from[days] != to[days] {
        changes.push(match to[days].as_i64() {
            Some(n) => format!("limited token lifetime to {n} days"),
            None => "removed the limit on token lifetime".to_string(),
        });
    }
    match changes.as_slice() {
        [] => "saved the settings unchanged".to_string(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// One page of the audit trail, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub page: i64,
    pub has_more: bool,
    /// Every action recorded for this organization, for the filter.
    pub actions: Vec<String>,
    pub action: String,
}

pub const AUDIT_PAGE_SIZE: i64 = 25;

/// An organization as Admin → Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OrgOverview {
    pub slug: String,
    pub name: String,
    pub members: i64,
    pub groups: i64,
    /// Organization and group tokens.
    pub tokens: i64,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::AuditEntry;
    use serde_json::json;

    fn entry(action: &str, group: Option<&str>, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            at: 0,
            actor: "Ada Admin".into(),
            actor_detail: None,
            action: action.into(),
            target: "deploy-bot".into(),
            group: group.map(str::to_string),
            ip: None,
            detail,
        }
    }

    #[test]
    fn audit_events_read_as_sentences() {
        assert_eq!(
            entry("token.revoked", None, json!({})).sentence(),
            "Ada Admin revoked the organization token \u{201c}deploy-bot\u{201d}"
        );
        assert_eq!(
            entry("token.reactivated", Some("Platform"), json!({})).sentence(),
            "Ada Admin reactivated the group token \u{201c}deploy-bot\u{201d} of Platform"
        );
        assert_eq!(
            entry(
                "group.member_role_changed",
                Some("Platform"),
                json!({"from": "user", "to": "admin"})
            )
            .sentence(),
            "Ada Admin made deploy-bot a group admin in the group Platform"
        );
        assert_eq!(
            entry("org.member_added", None, json!({"role": "user"})).sentence(),
            "Ada Admin added deploy-bot as a user"
        );
    }

    #[test]
    fn settings_changes_name_what_changed() {
        let change = |from: serde_json::Value, to: serde_json::Value| {
            entry(
                "org.settings_changed",
                None,
                json!({"from": from, "to": to}),
            )
            .sentence()
        };
        let before = json!({"allow_org_tokens": true, "require_two_factor": false, "token_max_lifetime_days": null});
        assert_eq!(
            change(
                before.clone(),
                json!({"allow_org_tokens": false, "require_two_factor": true, "token_max_lifetime_days": 30})
            ),
            "Ada Admin turned organization tokens off, required two-factor sign-in and limited token lifetime to 30 days"
        );
        assert_eq!(
            change(before.clone(), before),
            "Ada Admin saved the settings unchanged"
        );
    }
}
