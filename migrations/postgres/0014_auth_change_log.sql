-- PostgreSQL twin of migrations/sqlite/0014_auth_change_log.sql.
-- What each move of `auth_epoch` was about, so that an instance drops only
-- the cached token checks a change can alter. The statement triggers of 0003
-- still move the epoch first (taking its row lock before any row the
-- statement changes, which keeps the lock order and serialises epochs in
-- commit order). Each move also writes a marker row with an empty scope, so
-- every epoch has at least one row and a reader can tell a pruned gap from a
-- statement that changed nothing. Row triggers then name each thing changed,
-- under the epoch their statement took.
CREATE TABLE auth_changes (
    epoch BIGINT NOT NULL,
    scope TEXT   NOT NULL
);
CREATE INDEX auth_changes_epoch ON auth_changes (epoch);

CREATE OR REPLACE FUNCTION latchkey_bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved BIGINT;
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1 RETURNING value INTO moved;
    INSERT INTO auth_changes (epoch, scope) VALUES (moved, '');
    PERFORM pg_notify('latchkey_auth_changes', moved::text);
    RETURN NULL;
END;
$$;

-- Arguments: the scope's kind, and the column holding its id.
CREATE FUNCTION latchkey_note_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO auth_changes (epoch, scope)
        SELECT value, TG_ARGV[0] || ':' || (to_jsonb(OLD) ->> TG_ARGV[1]) FROM auth_epoch WHERE id = 1;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO auth_changes (epoch, scope)
        SELECT value, TG_ARGV[0] || ':' || (to_jsonb(NEW) ->> TG_ARGV[1]) FROM auth_epoch WHERE id = 1;
    END IF;
    RETURN NULL;
END;
$$;

-- The same events as the statement triggers (0003, 0007, 0008, 0011).
CREATE TRIGGER access_tokens_auth_rows
AFTER UPDATE OF kind, user_id, digest, name, expires_at, disabled_at, scopes, restricted_to_orgs, allowed_ips
OR DELETE ON access_tokens
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('token', 'id');
CREATE TRIGGER users_auth_rows
AFTER UPDATE OF kind, email, display_name, is_disabled, is_instance_admin, totp_enabled_at
OR DELETE ON users
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('user', 'id');
CREATE TRIGGER organizations_auth_rows AFTER UPDATE OR DELETE ON organizations
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('org', 'id');
CREATE TRIGGER groups_auth_rows AFTER UPDATE OR DELETE ON groups
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('group', 'id');
CREATE TRIGGER org_memberships_auth_rows AFTER INSERT OR UPDATE OR DELETE ON org_memberships
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('user', 'user_id');
CREATE TRIGGER group_memberships_auth_rows AFTER INSERT OR UPDATE OR DELETE ON group_memberships
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('user', 'user_id');
CREATE TRIGGER token_org_restrictions_auth_rows AFTER DELETE ON token_org_restrictions
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('token', 'token_id');
CREATE TRIGGER token_org_approvals_auth_rows AFTER INSERT OR UPDATE OR DELETE ON token_org_approvals
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('token', 'token_id');
CREATE TRIGGER oauth_clients_auth_rows AFTER UPDATE OF disabled_at OR DELETE ON oauth_clients
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('client', 'id');
CREATE TRIGGER oauth_grants_auth_rows AFTER UPDATE OF revoked_at, scopes, restricted_to_orgs OR DELETE ON oauth_grants
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('grant', 'id');
CREATE TRIGGER oauth_grant_orgs_auth_rows AFTER DELETE ON oauth_grant_orgs
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('grant', 'grant_id');
CREATE TRIGGER oauth_sessions_auth_rows AFTER UPDATE OF revoked_at ON oauth_sessions
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('session', 'id');
CREATE TRIGGER oauth_tokens_auth_rows AFTER UPDATE OF revoked_at ON oauth_tokens
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('oauth_token', 'id');
-- A block stops one application in one organization: its tokens are the ones
-- to look at again.
CREATE TRIGGER oauth_org_blocks_auth_rows AFTER INSERT OR DELETE ON oauth_org_blocks
FOR EACH ROW EXECUTE FUNCTION latchkey_note_auth_change('client', 'client_id');
