-- Organization and group tokens. Such a token acts as its own technical user,
-- which holds the token's role in that one organization (org_memberships) or
-- group (group_memberships). `org_id`/`group_id` say where the token belongs;
-- deleting the organization or group deletes its tokens.
ALTER TABLE access_tokens ADD COLUMN org_id INTEGER REFERENCES organizations (id) ON DELETE CASCADE;
ALTER TABLE access_tokens ADD COLUMN group_id INTEGER REFERENCES groups (id) ON DELETE CASCADE;
CREATE INDEX access_tokens_org ON access_tokens (org_id, group_id);

-- Each organization's token policy (the Settings tab). Organization and group
-- tokens are on by default, must expire unless the organization allows
-- otherwise, and live at most `token_max_lifetime_days` when that is set.
ALTER TABLE organizations ADD COLUMN allow_org_tokens INTEGER NOT NULL DEFAULT 1;
ALTER TABLE organizations ADD COLUMN allow_group_tokens INTEGER NOT NULL DEFAULT 1;
ALTER TABLE organizations ADD COLUMN allow_non_expiring_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN token_max_lifetime_days INTEGER;

CREATE INDEX audit_events_org_action ON audit_events (org_id, action);
