-- PostgreSQL twin of migrations/sqlite/0009_accounts.sql: keep the two in step.
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
    expires_at   BIGINT  NOT NULL,
    user_id      BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- A one-time link that lets someone make their own account, optionally
-- straight into an organization. The link's secret is kept as a digest only.
CREATE TABLE invitations (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secret_digest    TEXT    NOT NULL UNIQUE,
    email            TEXT    NOT NULL,
    instance_admin   BIGINT  NOT NULL DEFAULT 0,
    org_id           BIGINT  REFERENCES organizations (id) ON DELETE CASCADE,
    org_role         TEXT    CHECK (org_role IN ('admin', 'user')),
    invited_by       BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    accepted_at      BIGINT ,
    accepted_user_id BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    CHECK ((org_id IS NULL) = (org_role IS NULL))
);
CREATE INDEX invitations_org ON invitations (org_id, accepted_at);
CREATE INDEX invitations_expires ON invitations (expires_at);
