-- Times are Unix seconds (BIGINT) and flags are 0/1 integers so that one set of
-- queries runs unchanged on SQLite and PostgreSQL.

CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    kind              TEXT    NOT NULL CHECK (kind IN ('human', 'technical')),
    email             TEXT    UNIQUE,
    display_name      TEXT    NOT NULL,
    password_hash     TEXT,
    is_instance_admin INTEGER NOT NULL DEFAULT 0,
    is_disabled       INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    CHECK (kind = 'technical' OR (email IS NOT NULL AND password_hash IS NOT NULL))
);

CREATE TABLE organizations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    slug       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, slug)
);

CREATE TABLE org_memberships (
    org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_memberships_user ON org_memberships (user_id);

CREATE TABLE group_memberships (
    group_id   INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_memberships_user ON group_memberships (user_id);

CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    data        TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at   INTEGER NOT NULL,
    actor_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    actor_label   TEXT    NOT NULL,
    ip            TEXT,
    action        TEXT    NOT NULL,
    org_id        INTEGER REFERENCES organizations (id) ON DELETE SET NULL,
    group_id      INTEGER REFERENCES groups (id) ON DELETE SET NULL,
    target_label  TEXT    NOT NULL DEFAULT '',
    detail        TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_org ON audit_events (org_id, occurred_at);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, occurred_at);

CREATE TABLE sign_in_failures (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    throttle_key TEXT NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (throttle_key, failed_at);

-- One row once the first admin exists; its primary key makes setup happen once.
CREATE TABLE instance_setup (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    completed_at INTEGER NOT NULL
);
