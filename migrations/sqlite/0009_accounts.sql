-- Accounts in the browser: sessions a person can see and end, and invitations.
--
-- Sessions are now keyed by the SHA-256 digest of their cookie value, so the
-- table holds no usable session id; the columns beside `data` mirror what the
-- Sessions list shows. Sessions made before this migration end (everyone signs
-- in once more).
DROP TABLE sessions;
CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    -- A random public name for the session, for "sign out" buttons.
    handle       TEXT    NOT NULL UNIQUE,
    data         TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL,
    user_id      INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- A one-time link that lets someone make their own account, optionally
-- straight into an organization. The link's secret is kept as a digest only.
CREATE TABLE invitations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_digest    TEXT    NOT NULL UNIQUE,
    email            TEXT    NOT NULL,
    instance_admin   INTEGER NOT NULL DEFAULT 0,
    org_id           INTEGER REFERENCES organizations (id) ON DELETE CASCADE,
    org_role         TEXT    CHECK (org_role IN ('admin', 'user')),
    invited_by       INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    accepted_at      INTEGER,
    accepted_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    CHECK ((org_id IS NULL) = (org_role IS NULL))
);
CREATE INDEX invitations_org ON invitations (org_id, accepted_at);
CREATE INDEX invitations_expires ON invitations (expires_at);
