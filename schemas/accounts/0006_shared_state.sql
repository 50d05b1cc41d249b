-- Accounts, migration 6 (issue 15): what several `cpor-server` processes
-- on one data directory must share, beside the sessions they already keep
-- here. SQLite in WAL mode serialises their writers on one host; each of
-- these tables is written in short IMMEDIATE transactions by the server
-- alone (store::accounts::shared). (Numbered 0006: 0005 is another
-- branch's migration of the same database.)

-- Throttle counters: one row per failed attempt (or attempt under way)
-- within the last hour. `scope` says what is counted: 'account' (the
-- address typed, as the first 16 bytes of its SHA-256, whether or not an
-- account has it), 'ip' (a client address; an IPv6 /64 is one),
-- "forgot password"'s 'forgot_address' and 'forgot_client', and 'feed'
-- (calendar-feed fetches per client address). Rows older
-- than an hour are swept every minute; each key keeps at most its limit.
CREATE TABLE throttle_events (
    id    INTEGER PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('account', 'ip', 'forgot_address', 'forgot_client', 'feed')),
    key   BLOB NOT NULL,
    at_ms INTEGER NOT NULL            -- milliseconds since 1970, UTC
);

CREATE INDEX throttle_events_key ON throttle_events (scope, key, at_ms);
CREATE INDEX throttle_events_at ON throttle_events (at_ms);

-- Captchas answered (right or wrong: a captcha counts once), by the
-- 16-byte nonce of their stateless token, kept until the captcha expires;
-- after that its expiry alone refuses it.
CREATE TABLE captchas_used (
    nonce      BLOB PRIMARY KEY,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX captchas_used_expires ON captchas_used (expires_ms);

-- Single sign-on flows finished (web callbacks and native tickets), by the
-- 32-byte seed of their sealed cookie or ticket, until the flow would have
-- expired: a flow is used once, on whichever process.
CREATE TABLE sso_flows_used (
    seed       BLOB PRIMARY KEY,
    expires_s  INTEGER NOT NULL        -- seconds since 1970, UTC
) WITHOUT ROWID;
