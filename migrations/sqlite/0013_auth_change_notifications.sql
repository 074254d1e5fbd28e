-- SQLite has no notifications: instances sharing one database file see
-- changes through the `auth_epoch` poll alone. (The PostgreSQL twin makes the
-- epoch's trigger notify every listening instance.) Kept so both databases
-- count the same migrations.
SELECT 1;
