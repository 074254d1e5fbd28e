-- PostgreSQL twin of migrations/sqlite/0012_revoke_vocabulary.sql: keep the two in step.
-- One word for the reversible off state of a token: "revoked" (and
-- "reactivated" for back on), as the API and RFC 7009 already say. Events
-- recorded before keep their meaning under the new names.
UPDATE audit_events SET action = 'token.revoked' WHERE action = 'token.disabled';
UPDATE audit_events SET action = 'token.reactivated' WHERE action = 'token.enabled';
