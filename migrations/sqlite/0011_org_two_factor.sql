-- An organization may require its members to sign in with two factors. A
-- member without it does not act in the organization, nor do their personal
-- tokens or the applications they connected, until they turn it on; so turning
-- it on or off must reach every instance's cached token answers.
ALTER TABLE organizations ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER users_two_factor_auth_update AFTER UPDATE OF totp_enabled_at ON users
BEGIN UPDATE auth_epoch SET value = value + 1; END;
