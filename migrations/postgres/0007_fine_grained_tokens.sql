-- PostgreSQL twin of migrations/sqlite/0007_fine_grained_tokens.sql: keep the two in step.
-- Fine-grained tokens: scopes, an organization restriction for personal
-- tokens, and an address allowlist.

-- Scopes, space-separated. Tokens made before scopes existed get every
-- built-in scope their kind can use, which is what they could do then: no
-- integration breaks.
ALTER TABLE access_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
UPDATE access_tokens SET scopes = CASE kind
    WHEN 'personal' THEN 'identity:read orgs:read self:rotate tokens:introspect'
    WHEN 'organization' THEN 'identity:read orgs:read self:rotate tokens:introspect tokens:manage'
    ELSE 'identity:read orgs:read self:rotate tokens:manage' END;

-- A personal token with this set acts only in the organizations listed in
-- token_org_restrictions (none listed: in none). Kept by organization id, so
-- leaving and re-joining an organization never widens it.
ALTER TABLE access_tokens ADD COLUMN restricted_to_orgs BIGINT NOT NULL DEFAULT 0;
CREATE TABLE token_org_restrictions (
    token_id BIGINT NOT NULL REFERENCES access_tokens (id) ON DELETE CASCADE,
    org_id   BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, org_id)
);

-- Addresses and networks (CIDR), space-separated; empty means anywhere. The
-- last refusal from elsewhere is written in batches, like last use.
ALTER TABLE access_tokens ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN last_refused_at BIGINT;
ALTER TABLE access_tokens ADD COLUMN last_refused_ip TEXT;

-- Scopes an instance admin defines for the services that check Latchkey
-- tokens through introspection.
CREATE TABLE custom_scopes (
    name        TEXT   PRIMARY KEY,
    description TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

-- An organization may require its admins to approve each personal token
-- before it acts there. A decision (approve or deny) is made once: the
-- primary key lets only the first of two racing decisions in.
ALTER TABLE organizations ADD COLUMN personal_tokens_need_approval BIGINT NOT NULL DEFAULT 0;
CREATE TABLE token_org_approvals (
    token_id   BIGINT NOT NULL REFERENCES access_tokens (id) ON DELETE CASCADE,
    org_id     BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    approved   BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (token_id, org_id)
);

-- What a token may do is part of every token check. Restrictions are written
-- with their token, before any check could have seen it.
CREATE TRIGGER access_tokens_grant_update
BEFORE UPDATE OF scopes, restricted_to_orgs, allowed_ips ON access_tokens
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER token_org_restrictions_auth_change
BEFORE DELETE ON token_org_restrictions
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER token_org_approvals_auth_change
BEFORE INSERT OR UPDATE OR DELETE ON token_org_approvals
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
