-- PostgreSQL twin of migrations/sqlite/0002_access_tokens.sql: keep the two in step.
-- Access tokens. Only the SHA-256 digest of a token string is kept; `hint` is
-- its prefix and last four (checksum) characters.
CREATE TABLE access_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('personal', 'organization', 'group')),
    -- The user the token acts as: its owner for personal tokens, a technical
    -- user for organization and group tokens.
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    digest       TEXT    NOT NULL UNIQUE,
    hint         TEXT    NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    expires_at   BIGINT,
    disabled_at  BIGINT,
    last_used_at BIGINT,
    last_used_ip TEXT
);
CREATE INDEX access_tokens_user ON access_tokens (user_id, created_at);
