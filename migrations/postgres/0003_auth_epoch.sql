-- PostgreSQL twin of migrations/sqlite/0003_auth_epoch.sql: keep the two in step.
-- A counter that moves whenever something a token check depends on changes:
-- a token's state, a user's standing, a membership. Every instance keeps the
-- answers of recent token checks in memory and drops them when it sees this
-- counter move, so a change made by another instance (or by hand in SQL) is
-- honoured within one sync interval.
CREATE TABLE auth_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL
);
INSERT INTO auth_epoch (id, value) VALUES (1, 0);

CREATE FUNCTION latchkey_bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

-- BEFORE statement triggers take the counter's row lock ahead of any row the
-- statement changes, so transactions that change several things always lock
-- in the same order and cannot deadlock on it.
-- Last-use bookkeeping (last_used_at, last_used_ip) is deliberately not listed.
CREATE TRIGGER access_tokens_auth_update
BEFORE UPDATE OF kind, user_id, digest, name, expires_at, disabled_at ON access_tokens
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER access_tokens_auth_delete BEFORE DELETE ON access_tokens
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();

CREATE TRIGGER users_auth_update
BEFORE UPDATE OF kind, email, display_name, is_disabled, is_instance_admin ON users
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER users_auth_delete BEFORE DELETE ON users
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();

CREATE TRIGGER organizations_auth_change BEFORE UPDATE OR DELETE ON organizations
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER groups_auth_change BEFORE UPDATE OR DELETE ON groups
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER org_memberships_auth_change BEFORE INSERT OR UPDATE OR DELETE ON org_memberships
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER group_memberships_auth_change BEFORE INSERT OR UPDATE OR DELETE ON group_memberships
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
