-- Rotation and leak reports. `replaced_by` points from a rotated token to its
-- successor (the old secret keeps working until its shortened `expires_at`).
-- `leaked_at` is set when a secret scanner reported the secret in public; the
-- token is disabled at that moment and its owner sees a notice.
ALTER TABLE access_tokens ADD COLUMN replaced_by BIGINT;
ALTER TABLE access_tokens ADD COLUMN leaked_at BIGINT;
ALTER TABLE access_tokens ADD COLUMN leak_location TEXT;
