-- Accounts, migration 7 (issue 12, the last item: a flood must not slow
-- anyone's login). Shared by every `cpor-server` process on the data
-- directory, like migration 6's tables, and written by the server alone
-- (store::accounts::shared).

-- Token buckets: the captcha allowance per client address (scope
-- 'captcha'; the key is an IPv4 address or an IPv6 /64). Per process, N
-- processes behind one proxy gave a client N times the burst. A key
-- without a row has a full bucket; rows that have refilled are swept.
CREATE TABLE rate_buckets (
    scope  TEXT NOT NULL CHECK (scope IN ('captcha')),
    key    BLOB NOT NULL,
    tokens REAL NOT NULL,
    at_ms  INTEGER NOT NULL,          -- milliseconds since 1970, UTC
    PRIMARY KEY (scope, key)
);

CREATE INDEX rate_buckets_at ON rate_buckets (at_ms);

-- Throttle events gain the scope 'device': failed logins through a device
-- cookie (the key is 16 bytes of the cookie's nonce), so a stolen cookie
-- gives a few guesses and no more. SQLite cannot change a CHECK: the
-- table is rebuilt, its rows and indexes kept.
CREATE TABLE throttle_events_7 (
    id    INTEGER PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('account', 'ip', 'forgot_address', 'forgot_client', 'feed', 'device')),
    key   BLOB NOT NULL,
    at_ms INTEGER NOT NULL            -- milliseconds since 1970, UTC
);
INSERT INTO throttle_events_7 (id, scope, key, at_ms)
    SELECT id, scope, key, at_ms FROM throttle_events;
DROP TABLE throttle_events;
ALTER TABLE throttle_events_7 RENAME TO throttle_events;
CREATE INDEX throttle_events_key ON throttle_events (scope, key, at_ms);
CREATE INDEX throttle_events_at ON throttle_events (at_ms);
