-- Hardening. A token created through the API with another token remembers
-- that token (its id, and its name for when it is gone), so the list can say
-- so and its lifetime can be held to the creator's.
ALTER TABLE access_tokens ADD COLUMN created_by_token_id BIGINT;
ALTER TABLE access_tokens ADD COLUMN created_by_token_name TEXT;

-- Whose tokens an audit event is about, so a person sees every event about
-- their own tokens (a leak report, an anonymous revocation, an admin)
-- whoever caused it. Earlier personal-token events were their own.
ALTER TABLE audit_events ADD COLUMN subject_user_id BIGINT;
UPDATE audit_events SET subject_user_id = actor_user_id
 WHERE org_id IS NULL AND action LIKE 'token.%';
CREATE INDEX audit_events_subject ON audit_events (subject_user_id, id);

-- Sign-in throttling as one counter per key (an account, a client address),
-- claimed with a single upsert before the password is checked, so parallel
-- guesses cannot all slip in under the limit.
DROP TABLE sign_in_failures;
CREATE TABLE sign_in_attempts (
    throttle_key      TEXT   PRIMARY KEY,
    window_started_at BIGINT NOT NULL,
    attempts          BIGINT NOT NULL
);

-- Keys this deployment signs with (form errors carried across a redirect),
-- made at first start and shared by every instance on this database.
CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One-time tickets of the script-free "copy your new token" page: a ticket is
-- claimed by inserting it, so the page shows a secret once across instances.
CREATE TABLE shown_secrets (
    ticket     TEXT   PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
