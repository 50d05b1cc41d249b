-- Accounts, migration 11 (the accounts review of 2026-12-06): password
-- changes through a signed-in session are counted per account (scope
-- 'password_change'; the key is 16 bytes of the SHA-256 of the address),
-- at most 3 an hour. Whoever knew the password could change it many times
-- a second, mailing a notice each time. SQLite cannot change a CHECK: the
-- table is rebuilt, its rows and indexes kept.
CREATE TABLE throttle_events_11 (
    id    INTEGER PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('account', 'ip', 'forgot_address', 'forgot_client', 'feed', 'device', 'password_change')),
    key   BLOB NOT NULL,
    at_ms INTEGER NOT NULL            -- milliseconds since 1970, UTC
);
INSERT INTO throttle_events_11 (id, scope, key, at_ms)
    SELECT id, scope, key, at_ms FROM throttle_events;
DROP TABLE throttle_events;
ALTER TABLE throttle_events_11 RENAME TO throttle_events;
CREATE INDEX throttle_events_key ON throttle_events (scope, key, at_ms);
CREATE INDEX throttle_events_at ON throttle_events (at_ms);
