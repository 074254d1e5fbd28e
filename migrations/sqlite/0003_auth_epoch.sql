-- A counter that moves whenever something a token check depends on changes:
-- a token's state, a user's standing, a membership. Every instance keeps the
-- answers of recent token checks in memory and drops them when it sees this
-- counter move, so a change made by another instance (or by hand in SQL) is
-- honoured within one sync interval. Triggers keep it exact without relying
-- on every writer to remember.
CREATE TABLE auth_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO auth_epoch (id, value) VALUES (1, 0);

-- Last-use bookkeeping (last_used_at, last_used_ip) is deliberately not listed.
CREATE TRIGGER access_tokens_auth_update
AFTER UPDATE OF kind, user_id, digest, name, expires_at, disabled_at ON access_tokens
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER access_tokens_auth_delete AFTER DELETE ON access_tokens
BEGIN UPDATE auth_epoch SET value = value + 1; END;

CREATE TRIGGER users_auth_update
AFTER UPDATE OF kind, email, display_name, is_disabled, is_instance_admin ON users
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER users_auth_delete AFTER DELETE ON users
BEGIN UPDATE auth_epoch SET value = value + 1; END;

CREATE TRIGGER organizations_auth_update AFTER UPDATE ON organizations
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER organizations_auth_delete AFTER DELETE ON organizations
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER groups_auth_update AFTER UPDATE ON groups
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER groups_auth_delete AFTER DELETE ON groups
BEGIN UPDATE auth_epoch SET value = value + 1; END;

CREATE TRIGGER org_memberships_auth_insert AFTER INSERT ON org_memberships
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER org_memberships_auth_update AFTER UPDATE ON org_memberships
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER org_memberships_auth_delete AFTER DELETE ON org_memberships
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER group_memberships_auth_insert AFTER INSERT ON group_memberships
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER group_memberships_auth_update AFTER UPDATE ON group_memberships
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER group_memberships_auth_delete AFTER DELETE ON group_memberships
BEGIN UPDATE auth_epoch SET value = value + 1; END;
