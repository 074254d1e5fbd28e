//! The one place that decides who may do what.
//!
//! Pure: no I/O. Callers load the facts — who is asking (a signed-in person,
//! or a token with its kind, home, scopes and organization restriction) and
//! the asker's standing where they want to act — and `decide` answers allow,
//! or deny with the reason. The reason fixes the answer: an organization or
//! group the caller does not reach is not found (exactly as for one that does
//! not exist), a role that is too low is forbidden, and a token lacking a
//! scope gets RFC 6750's `insufficient_scope` naming the scope it needs.

use crate::domain::Role;
use crate::error::AppError;
use crate::tokens::TokenKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A scope Latchkey's own API checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltInScope {
    pub name: &'static str,
    pub description: &'static str,
}

pub const IDENTITY_READ: &str = "identity:read";
pub const ORGS_READ: &str = "orgs:read";
pub const TOKENS_MANAGE: &str = "tokens:manage";
pub const SELF_ROTATE: &str = "self:rotate";
pub const TOKENS_INTROSPECT: &str = "tokens:introspect";

pub const BUILT_IN_SCOPES: [BuiltInScope; 5] = [
    BuiltInScope {
        name: IDENTITY_READ,
        description: "See who the token acts as (whoami, tokens/self)",
    },
    BuiltInScope {
        name: ORGS_READ,
        description: "Read organizations: members and groups",
    },
    BuiltInScope {
        name: TOKENS_MANAGE,
        description: "Manage organization and group tokens (with the admin role)",
    },
    BuiltInScope {
        name: SELF_ROTATE,
        description: "Rotate itself to a new secret",
    },
    BuiltInScope {
        name: TOKENS_INTROSPECT,
        description: "Introspect other tokens (admin tokens and instance admins)",
    },
];

/// The built-in scopes that mean something for a token of `kind`: a personal
/// token manages no organization's tokens, a group token introspects nothing.
pub fn applicable_built_in_scopes(kind: TokenKind) -> impl Iterator<Item = &'static BuiltInScope> {
    BUILT_IN_SCOPES.iter().filter(move |scope| {
        !matches!(
            (kind, scope.name),
            (TokenKind::Personal | TokenKind::OAuth, TOKENS_MANAGE)
                | (TokenKind::Group, TOKENS_INTROSPECT)
        )
    })
}

pub fn is_built_in(name: &str) -> bool {
    BUILT_IN_SCOPES.iter().any(|scope| scope.name == name)
}

/// Longest scope name.
pub const MAX_SCOPE_NAME_LEN: usize = 64;

/// A scope name: lowercase letters, digits, `_`, `.` and `-`, in parts joined
/// by `:` (such as `billing:read`), at most 64 characters. The shape keeps
/// names safe inside RFC 6750's `scope="…"` and RFC 7662's space-separated
/// `scope`.
pub fn check_scope_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_SCOPE_NAME_LEN {
        return Err("A scope name has 1 to 64 characters.");
    }
    let part_ok = |part: &str| {
        part.starts_with(|c: char| c.is_ascii_lowercase())
            && part.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
            })
    };
    if name.split(':').all(part_ok) {
        Ok(())
    } else {
        Err("Use lowercase letters, digits, '_', '.' and '-', in parts joined by ':' (such as billing:read); each part starts with a letter.")
    }
}

/// A token's scopes: a set of names, stored space-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// From the `scopes` column (written only through `to_stored`).
    pub fn from_stored(stored: &str) -> Self {
        Scopes(stored.split_whitespace().map(str::to_string).collect())
    }

    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Every built-in scope a token of `kind` can use.
    pub fn all_built_in(kind: TokenKind) -> Self {
        Scopes(
            applicable_built_in_scopes(kind)
                .map(|scope| scope.name.to_string())
                .collect(),
        )
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn union(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.union(&other.0).cloned().collect())
    }

    /// The scopes in `self` that `other` lacks.
    pub fn beyond<'a>(&'a self, other: &'a Scopes) -> impl Iterator<Item = &'a str> {
        self.0.difference(&other.0).map(String::as_str)
    }
}

impl FromIterator<String> for Scopes {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        Scopes(iter.into_iter().collect())
    }
}

/// What a token may do beyond what its acting user's roles allow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenGrant {
    pub kind: TokenKind,
    /// The organization an organization or group token belongs to.
    pub home_org: Option<i64>,
    /// The group a group token belongs to.
    pub home_group: Option<i64>,
    /// The role an organization or group token holds where it belongs.
    pub home_role: Option<Role>,
    pub scopes: Scopes,
    /// For a personal token restricted to some organizations: their ids.
    /// None: everywhere its user is a member.
    pub acts_in: Option<BTreeSet<i64>>,
    /// Organizations the token may not act in although its user is a
    /// member: they need their admins' approval for personal tokens and have
    /// not given it to this one, they turned applications off (OAuth), or
    /// they require two-factor sign-in, which its user has not turned on.
    pub withheld: BTreeSet<i64>,
    /// Its acting user is an instance admin (only ever a person).
    pub instance_admin: bool,
}

impl TokenGrant {
    /// Whether the token may act in the organization at all. Outside its
    /// restriction, or without an approval the organization requires, a
    /// token behaves as if its user were not a member.
    pub fn reaches_org(&self, org_id: i64) -> bool {
        self.acts_in
            .as_ref()
            .is_none_or(|orgs| orgs.contains(&org_id))
            && !self.withheld.contains(&org_id)
    }
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Person {
        instance_admin: bool,
    },
    Token(&'a TokenGrant),
    /// A confidential OAuth client an instance admin allowed to introspect
    /// tokens (a resource server), authenticated with its client secret.
    ResourceServer,
}

/// The caller's standing in one organization (and, where the action is about
/// a group, in that group), as loaded from the database: their own roles,
/// before any token restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub org_id: i64,
    /// None when they reach the organization only through a group.
    pub org_role: Option<Role>,
    /// For group actions: the group, when it exists in the organization.
    pub group: Option<GroupStanding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStanding {
    pub group_id: i64,
    pub role: Option<Role>,
}

/// Whose tokens an action manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokensOf {
    /// The caller's own personal tokens.
    OwnPersonal,
    /// An organization's: `None` when the caller reaches no such organization.
    Organization(Option<Standing>),
    /// A group's (the standing names the group).
    Group(Option<Standing>),
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See who a token acts as: `whoami`, `GET tokens/self`.
    ReadIdentity,
    /// A token revokes itself: always allowed, whatever its scopes.
    RevokeSelf,
    RotateSelf,
    /// An organization's members and groups.
    ReadOrg(Option<Standing>),
    /// A group's members (the standing names the group).
    ReadGroup(Option<Standing>),
    /// Members, settings and audit trail of an organization.
    AdministerOrg(Option<Standing>),
    /// A group's members (add, change, remove).
    AdministerGroup(Option<Standing>),
    ManageTokens(TokensOf),
    /// Call the introspection endpoint at all.
    Introspect,
    /// Learn about one token by introspection: `target_org` is where it
    /// belongs (none for a personal token).
    IntrospectToken {
        target_org: Option<i64>,
    },
    /// Instance-wide settings, such as custom scopes.
    AdministerInstance,
}

/// Why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The caller does not reach it: answered as if it did not exist.
    NotFound(&'static str),
    /// The caller's role (or token kind) is not enough.
    Forbidden,
    /// The token lacks this scope.
    InsufficientScope(&'static str),
}

impl From<Denial> for AppError {
    fn from(denial: Denial) -> Self {
        match denial {
            Denial::NotFound(what) => AppError::not_found(what),
            Denial::Forbidden => AppError::Forbidden,
            Denial::InsufficientScope(scope) => AppError::InsufficientScope(scope.to_string()),
        }
    }
}

const ORGANIZATION: &str = "Organization";
const GROUP: &str = "Group";

/// The decision. Checked in this order: does the caller reach the place at
/// all (404), does their role or token kind allow the action (403), and does
/// a token carry the scope for it (403 `insufficient_scope`).
pub fn decide(caller: Caller<'_>, action: Action) -> Result<(), Denial> {
    if let Caller::ResourceServer = caller {
        // It checks tokens for the services behind it, and does nothing else.
        return match action {
            Action::Introspect | Action::IntrospectToken { .. } => Ok(()),
            _ => Err(Denial::Forbidden),
        };
    }
    match action {
        Action::ReadIdentity => needs_scope(caller, IDENTITY_READ),
        Action::RevokeSelf => match caller {
            Caller::Token(_) => Ok(()),
            _ => Err(Denial::Forbidden),
        },
        Action::RotateSelf => match caller {
            Caller::Token(_) => needs_scope(caller, SELF_ROTATE),
            _ => Err(Denial::Forbidden),
        },
        Action::ReadOrg(standing) => {
            let standing = reached(caller, standing)?;
            if standing.org_role.is_none() {
                return Err(Denial::Forbidden);
            }
            needs_scope(caller, ORGS_READ)
        }
        Action::ReadGroup(standing) => {
            let standing = reached(caller, standing)?;
            let group = standing.group.ok_or(Denial::NotFound(GROUP))?;
            if standing.org_role.is_none() && group.role.is_none() {
                return Err(Denial::NotFound(GROUP));
            }
            needs_scope(caller, ORGS_READ)
        }
        Action::AdministerOrg(standing) => {
            let standing = person_reached(caller, standing)?;
            if standing.org_role != Some(Role::Admin) {
                return Err(Denial::Forbidden);
            }
            Ok(())
        }
        Action::AdministerGroup(standing) => {
            let standing = person_reached(caller, standing)?;
            let group = standing.group.ok_or(Denial::NotFound(GROUP))?;
            if standing.org_role == Some(Role::Admin) || group.role == Some(Role::Admin) {
                Ok(())
            } else {
                Err(Denial::Forbidden)
            }
        }
        Action::ManageTokens(of) => manage_tokens(caller, of),
        Action::Introspect => match caller {
            Caller::Token(grant) if is_introspector(grant) => {
                needs_scope(caller, TOKENS_INTROSPECT)
            }
            _ => Err(Denial::Forbidden),
        },
        Action::IntrospectToken { target_org } => match caller {
            Caller::Token(grant) if is_introspector(grant) => {
                needs_scope(caller, TOKENS_INTROSPECT)?;
                let visible = match (grant.kind, target_org) {
                    (TokenKind::Personal, Some(org)) => grant.reaches_org(org),
                    // A restricted token sees no personal tokens.
                    (TokenKind::Personal, None) => grant.acts_in.is_none(),
                    (_, target) => target.is_some() && target == grant.home_org,
                };
                if visible {
                    Ok(())
                } else {
                    Err(Denial::NotFound("Token"))
                }
            }
            _ => Err(Denial::Forbidden),
        },
        Action::AdministerInstance => match caller {
            Caller::Person {
                instance_admin: true,
            } => Ok(()),
            _ => Err(Denial::Forbidden),
        },
    }
}

fn needs_scope(caller: Caller<'_>, scope: &'static str) -> Result<(), Denial> {
    match caller {
        Caller::Person { .. } => Ok(()),
        Caller::Token(grant) if grant.scopes.contains(scope) => Ok(()),
        Caller::Token(_) => Err(Denial::InsufficientScope(scope)),
        Caller::ResourceServer => Err(Denial::Forbidden),
    }
}

/// The standing, if the caller reaches the organization: a member (or, for
/// group actions, in one of its groups), and for a restricted token, one of
/// the organizations it was restricted to.
fn reached(caller: Caller<'_>, standing: Option<Standing>) -> Result<Standing, Denial> {
    let standing = standing.ok_or(Denial::NotFound(ORGANIZATION))?;
    if let Caller::Token(grant) = caller {
        if !grant.reaches_org(standing.org_id) {
            return Err(Denial::NotFound(ORGANIZATION));
        }
    }
    Ok(standing)
}

/// As `reached`, for actions only a signed-in person takes (the API has no
/// route for them): a token is refused once it is known to reach the place.
fn person_reached(caller: Caller<'_>, standing: Option<Standing>) -> Result<Standing, Denial> {
    let standing = reached(caller, standing)?;
    match caller {
        Caller::Person { .. } => Ok(standing),
        _ => Err(Denial::Forbidden),
    }
}

/// An instance admin's personal token (about any token) or an admin-role
/// organization token (about its organization's tokens).
fn is_introspector(grant: &TokenGrant) -> bool {
    match grant.kind {
        TokenKind::Personal => grant.instance_admin,
        TokenKind::Organization => grant.home_role == Some(Role::Admin),
        // An application checks tokens with its own client credentials.
        TokenKind::Group | TokenKind::OAuth | TokenKind::OAuthRefresh => false,
    }
}

fn manage_tokens(caller: Caller<'_>, of: TokensOf) -> Result<(), Denial> {
    match of {
        TokensOf::OwnPersonal => match caller {
            Caller::Person { .. } => Ok(()),
            _ => Err(Denial::Forbidden),
        },
        TokensOf::Organization(standing) => {
            let standing = reached(caller, standing)?;
            let admin = standing.org_role == Some(Role::Admin);
            let allowed = match caller {
                Caller::Person { .. } => admin,
                Caller::Token(grant) => {
                    admin
                        && grant.kind == TokenKind::Organization
                        && grant.home_org == Some(standing.org_id)
                }
                Caller::ResourceServer => false,
            };
            if !allowed {
                return Err(Denial::Forbidden);
            }
            needs_scope(caller, TOKENS_MANAGE)
        }
        TokensOf::Group(standing) => {
            let standing = reached(caller, standing)?;
            let group = standing.group.ok_or(Denial::NotFound(GROUP))?;
            let org_admin = standing.org_role == Some(Role::Admin);
            let group_admin = group.role == Some(Role::Admin);
            let allowed = match caller {
                Caller::Person { .. } => org_admin || group_admin,
                Caller::Token(grant) => match grant.kind {
                    TokenKind::Organization => org_admin && grant.home_org == Some(standing.org_id),
                    TokenKind::Group => group_admin && grant.home_group == Some(group.group_id),
                    TokenKind::Personal | TokenKind::OAuth | TokenKind::OAuthRefresh => false,
                },
                Caller::ResourceServer => false,
            };
            if allowed {
                return needs_scope(caller, TOKENS_MANAGE);
            }
            // Whoever is in neither the organization nor the group learns
            // nothing about the group.
            if standing.org_role.is_none() && group.role.is_none() {
                Err(Denial::NotFound(GROUP))
            } else {
                Err(Denial::Forbidden)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: i64 = 1;
    const OTHER_ORG: i64 = 2;
    const GROUP_ID: i64 = 10;

    fn standing(org_role: Option<Role>, group_role: Option<Role>) -> Option<Standing> {
        Some(Standing {
            org_id: ORG,
            org_role,
            group: Some(GroupStanding {
                group_id: GROUP_ID,
                role: group_role,
            }),
        })
    }

    fn token(kind: TokenKind, scopes: &[&str]) -> TokenGrant {
        TokenGrant {
            kind,
            home_org: (kind != TokenKind::Personal).then_some(ORG),
            home_group: (kind == TokenKind::Group).then_some(GROUP_ID),
            home_role: (kind != TokenKind::Personal).then_some(Role::Admin),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            acts_in: None,
            withheld: BTreeSet::new(),
            instance_admin: false,
        }
    }

    fn all(kind: TokenKind) -> TokenGrant {
        TokenGrant {
            scopes: Scopes::all_built_in(kind),
            ..token(kind, &[])
        }
    }

    use Denial::{Forbidden, InsufficientScope, NotFound};
    const ADMIN: Option<Role> = Some(Role::Admin);
    const USER: Option<Role> = Some(Role::User);
    const PERSON: Caller<'static> = Caller::Person {
        instance_admin: false,
    };

    #[test]
    fn people_act_by_their_roles() {
        let cases: [(Action, Result<(), Denial>); 14] = [
            (Action::ReadIdentity, Ok(())),
            (Action::ReadOrg(standing(USER, None)), Ok(())),
            (Action::ReadOrg(None), Err(NotFound("Organization"))),
            (Action::ReadGroup(standing(USER, None)), Ok(())),
            (Action::AdministerOrg(standing(USER, None)), Err(Forbidden)),
            (Action::AdministerOrg(standing(ADMIN, None)), Ok(())),
            (Action::AdministerGroup(standing(USER, ADMIN)), Ok(())),
            (
                Action::AdministerGroup(standing(USER, USER)),
                Err(Forbidden),
            ),
            (Action::ManageTokens(TokensOf::OwnPersonal), Ok(())),
            (
                Action::ManageTokens(TokensOf::Organization(standing(USER, None))),
                Err(Forbidden),
            ),
            (
                Action::ManageTokens(TokensOf::Organization(standing(ADMIN, None))),
                Ok(()),
            ),
            (
                Action::ManageTokens(TokensOf::Group(standing(USER, ADMIN))),
                Ok(()),
            ),
            (Action::AdministerInstance, Err(Forbidden)),
            (Action::Introspect, Err(Forbidden)),
        ];
        for (action, expected) in cases {
            assert_eq!(decide(PERSON, action), expected, "{action:?}");
        }
        assert_eq!(
            decide(
                Caller::Person {
                    instance_admin: true
                },
                Action::AdministerInstance
            ),
            Ok(())
        );
    }

    #[test]
    fn tokens_act_by_role_then_scope() {
        use TokenKind::{Group, Organization, Personal};
        let org_admin = standing(ADMIN, None);
        let group_admin = standing(None, ADMIN);
        let cases: Vec<(TokenGrant, Action, Result<(), Denial>)> = vec![
            // Identity and self-service.
            (all(Personal), Action::ReadIdentity, Ok(())),
            (
                token(Personal, &[ORGS_READ]),
                Action::ReadIdentity,
                Err(InsufficientScope(IDENTITY_READ)),
            ),
            (token(Personal, &[]), Action::RevokeSelf, Ok(())),
            (
                token(Personal, &[IDENTITY_READ]),
                Action::RotateSelf,
                Err(InsufficientScope(SELF_ROTATE)),
            ),
            (token(Group, &[SELF_ROTATE]), Action::RotateSelf, Ok(())),
            // Reading organizations.
            (all(Personal), Action::ReadOrg(standing(USER, None)), Ok(())),
            (
                token(Personal, &[IDENTITY_READ]),
                Action::ReadOrg(standing(USER, None)),
                Err(InsufficientScope(ORGS_READ)),
            ),
            (
                token(Personal, &[IDENTITY_READ]),
                Action::ReadOrg(None),
                Err(NotFound("Organization")),
            ),
            (all(Group), Action::ReadOrg(group_admin), Err(Forbidden)),
            (all(Group), Action::ReadGroup(group_admin), Ok(())),
            (
                all(Personal),
                Action::ReadGroup(standing(None, None)),
                Err(NotFound("Group")),
            ),
            // Managing tokens: the right kind, home and role, then the scope.
            (
                all(Organization),
                Action::ManageTokens(TokensOf::Organization(org_admin)),
                Ok(()),
            ),
            (
                token(Organization, &[IDENTITY_READ]),
                Action::ManageTokens(TokensOf::Organization(org_admin)),
                Err(InsufficientScope(TOKENS_MANAGE)),
            ),
            (
                all(Organization),
                Action::ManageTokens(TokensOf::Organization(standing(USER, None))),
                Err(Forbidden),
            ),
            (
                all(Personal),
                Action::ManageTokens(TokensOf::Organization(org_admin)),
                Err(Forbidden),
            ),
            (
                all(Organization),
                Action::ManageTokens(TokensOf::Group(org_admin)),
                Ok(()),
            ),
            (
                all(Group),
                Action::ManageTokens(TokensOf::Group(group_admin)),
                Ok(()),
            ),
            (
                all(Group),
                Action::ManageTokens(TokensOf::Group(standing(None, USER))),
                Err(Forbidden),
            ),
            (
                all(Group),
                Action::ManageTokens(TokensOf::Group(standing(None, None))),
                Err(NotFound("Group")),
            ),
            (
                all(Organization),
                Action::ManageTokens(TokensOf::OwnPersonal),
                Err(Forbidden),
            ),
            // People-only actions.
            (
                all(Organization),
                Action::AdministerOrg(org_admin),
                Err(Forbidden),
            ),
            (all(Personal), Action::AdministerInstance, Err(Forbidden)),
            // Introspection.
            (all(Organization), Action::Introspect, Ok(())),
            (all(Personal), Action::Introspect, Err(Forbidden)),
            (
                TokenGrant {
                    home_role: USER,
                    ..all(Organization)
                },
                Action::Introspect,
                Err(Forbidden),
            ),
            (all(Group), Action::Introspect, Err(Forbidden)),
            (
                token(Organization, &[IDENTITY_READ]),
                Action::Introspect,
                Err(InsufficientScope(TOKENS_INTROSPECT)),
            ),
            (
                all(Organization),
                Action::IntrospectToken {
                    target_org: Some(ORG),
                },
                Ok(()),
            ),
            (
                all(Organization),
                Action::IntrospectToken {
                    target_org: Some(OTHER_ORG),
                },
                Err(NotFound("Token")),
            ),
            (
                all(Organization),
                Action::IntrospectToken { target_org: None },
                Err(NotFound("Token")),
            ),
        ];
        for (grant, action, expected) in cases {
            assert_eq!(
                decide(Caller::Token(&grant), action),
                expected,
                "{:?} {:?} {action:?}",
                grant.kind,
                grant.scopes
            );
        }
    }

    #[test]
    fn a_restricted_token_does_not_reach_other_organizations() {
        let restricted = TokenGrant {
            acts_in: Some([OTHER_ORG].into()),
            ..all(TokenKind::Personal)
        };
        let caller = Caller::Token(&restricted);
        // A member of ORG, but the token acts only in OTHER_ORG.
        assert_eq!(
            decide(caller, Action::ReadOrg(standing(ADMIN, None))),
            Err(NotFound("Organization"))
        );
        assert_eq!(
            decide(caller, Action::ReadGroup(standing(ADMIN, ADMIN))),
            Err(NotFound("Organization"))
        );
        let elsewhere = Standing {
            org_id: OTHER_ORG,
            org_role: USER,
            group: None,
        };
        assert_eq!(decide(caller, Action::ReadOrg(Some(elsewhere))), Ok(()));

        let admin = TokenGrant {
            instance_admin: true,
            ..restricted.clone()
        };
        let caller = Caller::Token(&admin);
        assert_eq!(
            decide(
                caller,
                Action::IntrospectToken {
                    target_org: Some(OTHER_ORG)
                }
            ),
            Ok(())
        );
        assert_eq!(
            decide(
                caller,
                Action::IntrospectToken {
                    target_org: Some(ORG)
                }
            ),
            Err(NotFound("Token"))
        );
        assert_eq!(
            decide(caller, Action::IntrospectToken { target_org: None }),
            Err(NotFound("Token"))
        );
        let unrestricted = TokenGrant {
            acts_in: None,
            ..admin
        };
        assert_eq!(
            decide(
                Caller::Token(&unrestricted),
                Action::IntrospectToken { target_org: None }
            ),
            Ok(())
        );
    }

    #[test]
    fn a_token_awaiting_approval_does_not_reach_that_organization() {
        let pending = TokenGrant {
            withheld: [ORG].into(),
            ..all(TokenKind::Personal)
        };
        assert_eq!(
            decide(
                Caller::Token(&pending),
                Action::ReadOrg(standing(USER, None))
            ),
            Err(NotFound("Organization"))
        );
        let elsewhere = Standing {
            org_id: OTHER_ORG,
            org_role: USER,
            group: None,
        };
        assert_eq!(
            decide(Caller::Token(&pending), Action::ReadOrg(Some(elsewhere))),
            Ok(())
        );
    }

    #[test]
    fn scope_names_are_checked() {
        for good in ["billing:read", "a", "ci.deploy:write-all", "x_1:y"] {
            assert_eq!(check_scope_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Billing:read",
            "billing read",
            "billing:",
            ":read",
            "1abc",
            "a\"b",
            &"a".repeat(65),
        ] {
            assert!(check_scope_name(bad).is_err(), "{bad}");
        }
        for scope in BUILT_IN_SCOPES {
            assert_eq!(check_scope_name(scope.name), Ok(()));
        }
    }

    #[test]
    fn scopes_round_trip_and_compare() {
        let scopes = Scopes::from_stored("orgs:read  identity:read");
        assert_eq!(scopes.to_stored(), "identity:read orgs:read");
        assert!(Scopes::from_stored("orgs:read").is_subset(&scopes));
        let wider = Scopes::from_stored("orgs:read billing:read");
        assert_eq!(wider.beyond(&scopes).collect::<Vec<_>>(), ["billing:read"]);
        assert!(!Scopes::all_built_in(TokenKind::Personal).contains(TOKENS_MANAGE));
        assert!(!Scopes::all_built_in(TokenKind::Group).contains(TOKENS_INTROSPECT));
        assert!(Scopes::all_built_in(TokenKind::Organization).contains(TOKENS_MANAGE));
    }
}
