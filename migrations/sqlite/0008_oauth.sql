-- The OAuth 2.1 authorization server: registered applications (clients), the
-- access people grant them, single-use authorization codes, and the token
-- families issued from each code. Secrets and codes are kept as SHA-256
-- digests only.
CREATE TABLE oauth_clients (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id      TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    homepage_url   TEXT    NOT NULL DEFAULT '',
    -- Exact redirect URIs, one per line.
    redirect_uris  TEXT    NOT NULL,
    confidential   INTEGER NOT NULL,
    secret_digest  TEXT,
    secret_hint    TEXT,
    -- The scopes it may ask for, space-separated.
    scopes         TEXT    NOT NULL,
    owner_user_id  INTEGER REFERENCES users (id) ON DELETE CASCADE,
    owner_org_id   INTEGER REFERENCES organizations (id) ON DELETE CASCADE,
    may_introspect INTEGER NOT NULL DEFAULT 0,
    unverified     INTEGER NOT NULL DEFAULT 0,
    disabled_at    INTEGER,
    created_at     INTEGER NOT NULL,
    created_by     INTEGER REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX oauth_clients_owner_user ON oauth_clients (owner_user_id);
CREATE INDEX oauth_clients_owner_org ON oauth_clients (owner_org_id);

-- What a person allowed an application: remembered consent. One live grant per
-- application and person; a broader request widens it.
CREATE TABLE oauth_grants (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id          INTEGER NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes             TEXT    NOT NULL,
    restricted_to_orgs INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    last_used_at       INTEGER,
    revoked_at         INTEGER
);
CREATE UNIQUE INDEX oauth_grants_live ON oauth_grants (client_id, user_id) WHERE revoked_at IS NULL;
CREATE INDEX oauth_grants_user ON oauth_grants (user_id);

CREATE TABLE oauth_grant_orgs (
    grant_id INTEGER NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    org_id   INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    PRIMARY KEY (grant_id, org_id)
);

-- One token family per code exchange: its refresh tokens rotate, and reuse of a
-- spent one ends the family.
CREATE TABLE oauth_sessions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    grant_id          INTEGER NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    scopes            TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    last_refreshed_at INTEGER NOT NULL,
    revoked_at        INTEGER
);
CREATE INDEX oauth_sessions_grant ON oauth_sessions (grant_id);

CREATE TABLE oauth_codes (
    digest         TEXT    PRIMARY KEY,
    grant_id       INTEGER NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    scopes         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    session_id     INTEGER REFERENCES oauth_sessions (id) ON DELETE SET NULL
);

CREATE TABLE oauth_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   INTEGER NOT NULL REFERENCES oauth_sessions (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    digest       TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    -- A refresh token is spent when used; the successor is the token it became.
    used_at      INTEGER,
    successor_id INTEGER REFERENCES oauth_tokens (id) ON DELETE SET NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    last_used_ip TEXT
);
CREATE INDEX oauth_tokens_session ON oauth_tokens (session_id);

-- Applications an organization's admins stopped from acting in it.
CREATE TABLE oauth_org_blocks (
    org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id  INTEGER NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    blocked_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, client_id)
);

ALTER TABLE organizations ADD COLUMN allow_oauth_apps INTEGER NOT NULL DEFAULT 1;

-- Changes that can alter a token check move the epoch (see 0003).
CREATE TRIGGER oauth_clients_auth_update AFTER UPDATE OF disabled_at ON oauth_clients
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER oauth_clients_auth_delete AFTER DELETE ON oauth_clients
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER oauth_grants_auth_update AFTER UPDATE OF revoked_at, scopes, restricted_to_orgs ON oauth_grants
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER oauth_grants_auth_delete AFTER DELETE ON oauth_grants
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER oauth_grant_orgs_auth_change AFTER DELETE ON oauth_grant_orgs
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER oauth_sessions_auth_update AFTER UPDATE OF revoked_at ON oauth_sessions
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER oauth_tokens_auth_update AFTER UPDATE OF revoked_at ON oauth_tokens
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER oauth_org_blocks_auth_insert AFTER INSERT ON oauth_org_blocks
BEGIN UPDATE auth_epoch SET value = value + 1; END;
CREATE TRIGGER oauth_org_blocks_auth_delete AFTER DELETE ON oauth_org_blocks
BEGIN UPDATE auth_epoch SET value = value + 1; END;
