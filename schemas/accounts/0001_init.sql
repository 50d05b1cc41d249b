-- Accounts, migration 1. The accounts database (<data>/accounts.sqlite) is
-- long-lived and shared by the e-mail stage (`cpor-etl`) and the website
-- (`cpor-server`). Migrations are numbered, applied in order, recorded in
-- `PRAGMA user_version`, and never edited once released.
--
-- Times are RFC 3339 UTC text (2026-11-24T07:30:00Z): few rows, read by
-- people in the sqlite3 shell when something goes wrong.

-- One row per address that was ever granted a case. A row exists before the
-- account is activated (the activation link points at it); the account is
-- usable once `password_hash` is set.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,  -- lower-cased, as grants store it
    password_hash TEXT,                  -- argon2id PHC string; NULL until activated
    created_at    TEXT NOT NULL,
    activated_at  TEXT,
    -- Progress digests by e-mail (RFC 8058 one-click unsubscribe turns
    -- them off; the account page turns them back on).
    digests       INTEGER NOT NULL DEFAULT 1 CHECK (digests IN (0, 1))
);

-- Single-use links: activation (set the first password) and, later,
-- password reset. Only the SHA-256 of a token is stored.
CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    purpose    TEXT NOT NULL CHECK (purpose IN ('activate', 'reset')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) WITHOUT ROWID;

CREATE INDEX tokens_account ON tokens (account_id, purpose);

-- Addresses whose mail server refused mail permanently (a 5xx reply). Mail
-- to them is suppressed until a clerk grants them a case again, which
-- removes the row; courts see the list in the send report.
CREATE TABLE flagged_addresses (
    email      TEXT PRIMARY KEY,
    flagged_at TEXT NOT NULL,
    reason     TEXT NOT NULL
) WITHOUT ROWID;
