-- PostgreSQL twin of migrations/sqlite/0013_auth_change_notifications.sql.
-- Every change that moves `auth_epoch` also notifies the channel every
-- instance listens on, so they drop cached token checks at once rather than at
-- their next poll. PostgreSQL delivers the notification when the transaction
-- commits, and not at all when it rolls back.
CREATE OR REPLACE FUNCTION latchkey_bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
    PERFORM pg_notify('latchkey_auth_changes', '');
    RETURN NULL;
END;
$$;
