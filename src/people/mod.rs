//! People on this instance: the instance admin's Users area and invitations,
//! the one-time links that let someone make their own account.

pub mod api;
#[cfg(feature = "ssr")]
pub mod server;

use crate::domain::Role;
use serde::{Deserialize, Serialize};

/// A person as the Users list shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSummary {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub is_instance_admin: bool,
    pub is_disabled: bool,
    pub created_at: i64,
    /// Organizations they belong to.
    pub organizations: i64,
    /// Their personal access tokens, live or not.
    pub personal_tokens: i64,
    /// The last time any of their sessions was active.
    pub last_active_at: Option<i64>,
    /// The admin looking at the list.
    pub is_you: bool,
}

/// An invitation not yet accepted, as its inviters see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvitation {
    pub id: i64,
    pub email: String,
    pub instance_admin: bool,
    /// The organization it adds the person to, and as what.
    pub organization: Option<String>,
    pub role: Option<Role>,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub expired: bool,
}

/// A fresh invitation: its link is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedInvitation {
    pub email: String,
    pub link: String,
    pub expires_at: i64,
    /// The page its invitations are listed on.
    pub manage_at: String,
}

/// What the invitee sees before accepting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub email: String,
    pub organization: Option<String>,
    pub role: Option<Role>,
    pub invited_by: String,
    pub expires_at: i64,
}

/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;
