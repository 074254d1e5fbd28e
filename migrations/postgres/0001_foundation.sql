-- PostgreSQL twin of migrations/sqlite/0001_foundation.sql: keep the two in step.

CREATE TABLE users (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind              TEXT    NOT NULL CHECK (kind IN ('human', 'technical')),
    email             TEXT    UNIQUE,
    display_name      TEXT    NOT NULL,
    password_hash     TEXT,
    is_instance_admin BIGINT NOT NULL DEFAULT 0,
    is_disabled       BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    CHECK (kind = 'technical' OR (email IS NOT NULL AND password_hash IS NOT NULL))
);

CREATE TABLE organizations (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE groups (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, slug)
);

CREATE TABLE org_memberships (
    org_id     BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_memberships_user ON org_memberships (user_id);

CREATE TABLE group_memberships (
    group_id   BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_memberships_user ON group_memberships (user_id);

CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    data        TEXT    NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE audit_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at   BIGINT NOT NULL,
    actor_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_label   TEXT    NOT NULL,
    ip            TEXT,
    action        TEXT    NOT NULL,
    org_id        BIGINT REFERENCES organizations (id) ON DELETE SET NULL,
    group_id      BIGINT REFERENCES groups (id) ON DELETE SET NULL,
    target_label  TEXT    NOT NULL DEFAULT '',
    detail        TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_org ON audit_events (org_id, occurred_at);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, occurred_at);

CREATE TABLE sign_in_failures (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    throttle_key TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (throttle_key, failed_at);

-- One row once the first admin exists; its primary key makes setup happen once.
CREATE TABLE instance_setup (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    completed_at BIGINT NOT NULL
);
