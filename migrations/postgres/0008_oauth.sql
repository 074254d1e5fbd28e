-- PostgreSQL twin of migrations/sqlite/0008_oauth.sql: keep the two in step.
-- The OAuth 2.1 authorization server: registered applications (clients), the
-- access people grant them, single-use authorization codes, and the token
-- families issued from each code. Secrets and codes are kept as SHA-256
-- digests only.
CREATE TABLE oauth_clients (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id      TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    homepage_url   TEXT    NOT NULL DEFAULT '',
    -- Exact redirect URIs, one per line.
    redirect_uris  TEXT    NOT NULL,
    confidential   BIGINT  NOT NULL,
    secret_digest  TEXT,
    secret_hint    TEXT,
    -- The scopes it may ask for, space-separated.
    scopes         TEXT    NOT NULL,
    owner_user_id  BIGINT REFERENCES users (id) ON DELETE CASCADE,
    owner_org_id   BIGINT REFERENCES organizations (id) ON DELETE CASCADE,
    may_introspect BIGINT NOT NULL DEFAULT 0,
    unverified     BIGINT NOT NULL DEFAULT 0,
    disabled_at    BIGINT,
    created_at     BIGINT  NOT NULL,
    created_by     BIGINT REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX oauth_clients_owner_user ON oauth_clients (owner_user_id);
CREATE INDEX oauth_clients_owner_org ON oauth_clients (owner_org_id);

-- What a person allowed an application: remembered consent. One live grant per
-- application and person; a broader request widens it.
CREATE TABLE oauth_grants (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id          BIGINT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id            BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes             TEXT    NOT NULL,
    restricted_to_orgs BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    last_used_at       BIGINT,
    revoked_at         BIGINT
);
CREATE UNIQUE INDEX oauth_grants_live ON oauth_grants (client_id, user_id) WHERE revoked_at IS NULL;
CREATE INDEX oauth_grants_user ON oauth_grants (user_id);

CREATE TABLE oauth_grant_orgs (
    grant_id BIGINT NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    org_id   BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    PRIMARY KEY (grant_id, org_id)
);

-- One token family per code exchange: its refresh tokens rotate, and reuse of a
-- spent one ends the family.
CREATE TABLE oauth_sessions (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grant_id          BIGINT NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    scopes            TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    expires_at        BIGINT  NOT NULL,
    last_refreshed_at BIGINT  NOT NULL,
    revoked_at        BIGINT
);
CREATE INDEX oauth_sessions_grant ON oauth_sessions (grant_id);

CREATE TABLE oauth_codes (
    digest         TEXT    PRIMARY KEY,
    grant_id       BIGINT NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    scopes         TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    used_at        BIGINT,
    session_id     BIGINT REFERENCES oauth_sessions (id) ON DELETE SET NULL
);

CREATE TABLE oauth_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   BIGINT NOT NULL REFERENCES oauth_sessions (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    digest       TEXT    NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    -- A refresh token is spent when used; the successor is the token it became.
    used_at      BIGINT,
    successor_id BIGINT REFERENCES oauth_tokens (id) ON DELETE SET NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    last_used_ip TEXT
);
CREATE INDEX oauth_tokens_session ON oauth_tokens (session_id);

-- Applications an organization's admins stopped from acting in it.
CREATE TABLE oauth_org_blocks (
    org_id     BIGINT  NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id  BIGINT  NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    blocked_at BIGINT  NOT NULL,
    PRIMARY KEY (org_id, client_id)
);

ALTER TABLE organizations ADD COLUMN allow_oauth_apps BIGINT NOT NULL DEFAULT 1;

-- Changes that can alter a token check move the epoch (see 0003).
CREATE TRIGGER oauth_clients_auth_change BEFORE UPDATE OF disabled_at OR DELETE ON oauth_clients
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER oauth_grants_auth_change BEFORE UPDATE OF revoked_at, scopes, restricted_to_orgs OR DELETE ON oauth_grants
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER oauth_grant_orgs_auth_change BEFORE DELETE ON oauth_grant_orgs
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER oauth_sessions_auth_change BEFORE UPDATE OF revoked_at ON oauth_sessions
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER oauth_tokens_auth_change BEFORE UPDATE OF revoked_at ON oauth_tokens
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
CREATE TRIGGER oauth_org_blocks_auth_change BEFORE INSERT OR DELETE ON oauth_org_blocks
FOR EACH STATEMENT EXECUTE FUNCTION latchkey_bump_auth_epoch();
