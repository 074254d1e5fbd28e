-- What each move of `auth_epoch` was about, so that an instance drops only
-- the cached token checks a change can alter rather than all of them. Each
-- row names one thing by kind and id ("token:42", "user:7", "org:3",
-- "group:5", "grant:9", "session:4", "oauth_token:8", "client:2"); an
-- instance reads the rows above the epoch it last saw. SQLite runs one
-- writer at a time, so every epoch has its rows and none is skipped. Old rows
-- are pruned by the periodic clean-up; an instance that fell further behind
-- than what is kept drops everything.
CREATE TABLE auth_changes (
    epoch INTEGER NOT NULL,
    scope TEXT    NOT NULL
);
CREATE INDEX auth_changes_epoch ON auth_changes (epoch);

DROP TRIGGER access_tokens_auth_update;
DROP TRIGGER access_tokens_grant_update;
DROP TRIGGER access_tokens_auth_delete;
DROP TRIGGER users_auth_update;
DROP TRIGGER users_two_factor_auth_update;
DROP TRIGGER users_auth_delete;
DROP TRIGGER organizations_auth_update;
DROP TRIGGER organizations_auth_delete;
DROP TRIGGER groups_auth_update;
DROP TRIGGER groups_auth_delete;
DROP TRIGGER org_memberships_auth_insert;
DROP TRIGGER org_memberships_auth_update;
DROP TRIGGER org_memberships_auth_delete;
DROP TRIGGER group_memberships_auth_insert;
DROP TRIGGER group_memberships_auth_update;
DROP TRIGGER group_memberships_auth_delete;
DROP TRIGGER token_org_restrictions_auth_delete;
DROP TRIGGER token_org_approvals_auth_insert;
DROP TRIGGER token_org_approvals_auth_update;
DROP TRIGGER token_org_approvals_auth_delete;
DROP TRIGGER oauth_clients_auth_update;
DROP TRIGGER oauth_clients_auth_delete;
DROP TRIGGER oauth_grants_auth_update;
DROP TRIGGER oauth_grants_auth_delete;
DROP TRIGGER oauth_grant_orgs_auth_change;
DROP TRIGGER oauth_sessions_auth_update;
DROP TRIGGER oauth_tokens_auth_update;
DROP TRIGGER oauth_org_blocks_auth_insert;
DROP TRIGGER oauth_org_blocks_auth_delete;

-- The same columns as before; last-use bookkeeping is still not listed.
CREATE TRIGGER access_tokens_auth_update
AFTER UPDATE OF kind, user_id, digest, name, expires_at, disabled_at, scopes, restricted_to_orgs, allowed_ips
ON access_tokens
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'token:' || NEW.id FROM auth_epoch;
END;
CREATE TRIGGER access_tokens_auth_delete AFTER DELETE ON access_tokens
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'token:' || OLD.id FROM auth_epoch;
END;

CREATE TRIGGER users_auth_update
AFTER UPDATE OF kind, email, display_name, is_disabled, is_instance_admin, totp_enabled_at ON users
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'user:' || NEW.id FROM auth_epoch;
END;
CREATE TRIGGER users_auth_delete AFTER DELETE ON users
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'user:' || OLD.id FROM auth_epoch;
END;

CREATE TRIGGER organizations_auth_update AFTER UPDATE ON organizations
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'org:' || NEW.id FROM auth_epoch;
END;
CREATE TRIGGER organizations_auth_delete AFTER DELETE ON organizations
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'org:' || OLD.id FROM auth_epoch;
END;
CREATE TRIGGER groups_auth_update AFTER UPDATE ON groups
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'group:' || NEW.id FROM auth_epoch;
END;
CREATE TRIGGER groups_auth_delete AFTER DELETE ON groups
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'group:' || OLD.id FROM auth_epoch;
END;

-- A membership changes what its person's tokens may do.
CREATE TRIGGER org_memberships_auth_insert AFTER INSERT ON org_memberships
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'user:' || NEW.user_id FROM auth_epoch;
END;
CREATE TRIGGER org_memberships_auth_update AFTER UPDATE ON org_memberships
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope)
    SELECT value, 'user:' || OLD.user_id FROM auth_epoch
    UNION SELECT value, 'user:' || NEW.user_id FROM auth_epoch;
END;
CREATE TRIGGER org_memberships_auth_delete AFTER DELETE ON org_memberships
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'user:' || OLD.user_id FROM auth_epoch;
END;
CREATE TRIGGER group_memberships_auth_insert AFTER INSERT ON group_memberships
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'user:' || NEW.user_id FROM auth_epoch;
END;
CREATE TRIGGER group_memberships_auth_update AFTER UPDATE ON group_memberships
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope)
    SELECT value, 'user:' || OLD.user_id FROM auth_epoch
    UNION SELECT value, 'user:' || NEW.user_id FROM auth_epoch;
END;
CREATE TRIGGER group_memberships_auth_delete AFTER DELETE ON group_memberships
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'user:' || OLD.user_id FROM auth_epoch;
END;

CREATE TRIGGER token_org_restrictions_auth_delete AFTER DELETE ON token_org_restrictions
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'token:' || OLD.token_id FROM auth_epoch;
END;
CREATE TRIGGER token_org_approvals_auth_insert AFTER INSERT ON token_org_approvals
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'token:' || NEW.token_id FROM auth_epoch;
END;
CREATE TRIGGER token_org_approvals_auth_update AFTER UPDATE ON token_org_approvals
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope)
    SELECT value, 'token:' || OLD.token_id FROM auth_epoch
    UNION SELECT value, 'token:' || NEW.token_id FROM auth_epoch;
END;
CREATE TRIGGER token_org_approvals_auth_delete AFTER DELETE ON token_org_approvals
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'token:' || OLD.token_id FROM auth_epoch;
END;

CREATE TRIGGER oauth_clients_auth_update AFTER UPDATE OF disabled_at ON oauth_clients
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'client:' || NEW.id FROM auth_epoch;
END;
CREATE TRIGGER oauth_clients_auth_delete AFTER DELETE ON oauth_clients
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'client:' || OLD.id FROM auth_epoch;
END;
CREATE TRIGGER oauth_grants_auth_update AFTER UPDATE OF revoked_at, scopes, restricted_to_orgs ON oauth_grants
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'grant:' || NEW.id FROM auth_epoch;
END;
CREATE TRIGGER oauth_grants_auth_delete AFTER DELETE ON oauth_grants
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'grant:' || OLD.id FROM auth_epoch;
END;
CREATE TRIGGER oauth_grant_orgs_auth_change AFTER DELETE ON oauth_grant_orgs
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'grant:' || OLD.grant_id FROM auth_epoch;
END;
CREATE TRIGGER oauth_sessions_auth_update AFTER UPDATE OF revoked_at ON oauth_sessions
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'session:' || NEW.id FROM auth_epoch;
END;
CREATE TRIGGER oauth_tokens_auth_update AFTER UPDATE OF revoked_at ON oauth_tokens
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'oauth_token:' || NEW.id FROM auth_epoch;
END;
-- A block stops one application in one organization: its tokens are the ones
-- to look at again.
CREATE TRIGGER oauth_org_blocks_auth_insert AFTER INSERT ON oauth_org_blocks
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'client:' || NEW.client_id FROM auth_epoch;
END;
CREATE TRIGGER oauth_org_blocks_auth_delete AFTER DELETE ON oauth_org_blocks
BEGIN
    UPDATE auth_epoch SET value = value + 1;
    INSERT INTO auth_changes (epoch, scope) SELECT value, 'client:' || OLD.client_id FROM auth_epoch;
END;
