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
    /// The instance's own limit, which the organization cannot exceed.
    pub instance_max_lifetime_days: Option<i64>,
    pub instance_allows_non_expiring: bool,
}

/// One line of an organization's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub group: Option<String>,
    pub ip: Option<String>,
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
