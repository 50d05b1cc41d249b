-- Accounts, migration 2: what the website (`cpor-server`) keeps.

-- Signed-in sessions, of the browser (a cookie) or of an app (a bearer token
-- from POST /api/v1/session). Only the SHA-256 of the 256-bit id is stored,
-- so a copy of this file does not let anyone in. A session ends after
-- `idle` minutes without a request and `lifetime` hours in all (the
-- server's settings); a password change or reset deletes every other
-- session of the account. `last_seen_at` is written back lazily (at most
-- once a minute per session): the server checks idleness in memory.
-- `csrf` is the session's anti-forgery token for its forms (random, not
-- derived from the id).
CREATE TABLE sessions (
    hash         BLOB PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('browser', 'api')),
    csrf         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_account ON sessions (account_id);

-- Every case page or API case view: who looked at which case, when. Read by
-- `cpor-server stats`; written in batches by the server.
CREATE TABLE case_views (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    case_key   TEXT NOT NULL,           -- TPD|民事|113|訴|100
    at         TEXT NOT NULL            -- RFC 3339 UTC
);

CREATE INDEX case_views_at ON case_views (at);

-- Site visits per day (Asia/Taipei): HTML pages served with 200, counted
-- in memory and added here every few seconds. No address or IP is kept.
CREATE TABLE daily_visits (
    day    TEXT PRIMARY KEY,            -- YYYY-MM-DD, Asia/Taipei
    visits INTEGER NOT NULL
) WITHOUT ROWID;
