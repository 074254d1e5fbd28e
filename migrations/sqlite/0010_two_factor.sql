-- Two-factor sign-in with time-based one-time passwords (RFC 6238).
-- The shared secret must be read back to check codes, so it is kept encrypted
-- with a key of this deployment (never in plain text); `totp_last_step` is the
-- last time step accepted, so a code is used once. Recovery codes are kept as
-- SHA-256 digests only.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at INTEGER;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest   TEXT    NOT NULL,
    used_at  INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id, digest);
