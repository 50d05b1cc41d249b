-- Accounts, migration 4 (issue 11): prosecutors signed in through the
-- Ministry of Justice single sign-on. They are not applicants: no password,
-- no activation or reset token, no grants. Their cases are the snapshot's
-- `prosecutors` rows for their MOJ account, looked up on every request, so
-- nothing here says what they may see. (Numbered 0004: 0003 and 0005 are
-- other branches' migrations of the same database.)

-- One row per MOJ account that ever signed in. `email` is the address the
-- provider last vouched for (`email_verified`), or NULL; `digests` is the
-- prosecutor's opt-in to the nightly digest of news on their cases (off
-- until they turn it on; a sign-in without a verified address turns it
-- off, and the digest's one-click unsubscribe too).
CREATE TABLE prosecutor_accounts (
    id              INTEGER PRIMARY KEY,
    account         TEXT NOT NULL UNIQUE,   -- 檢察官帳號, exactly as the claim gives it
    subject         TEXT NOT NULL,          -- the provider's `sub`
    email           TEXT,                   -- verified, lower-cased; NULL if none
    digests         INTEGER NOT NULL DEFAULT 0 CHECK (digests IN (0, 1)),
    created_at      TEXT NOT NULL,
    last_sign_in_at TEXT NOT NULL
);

CREATE INDEX prosecutor_accounts_email ON prosecutor_accounts (email);

-- Their sessions: as applicants' (`sessions`, migration 2): the SHA-256 of
-- a 256-bit id, the same idle and total lifetimes, `csrf` for the forms.
-- `id_token` is the provider's ID token of the sign-in, kept only as the
-- `id_token_hint` of the provider's logout (RP-initiated logout).
CREATE TABLE prosecutor_sessions (
    hash          BLOB PRIMARY KEY,
    prosecutor_id INTEGER NOT NULL REFERENCES prosecutor_accounts (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('browser', 'api')),
    csrf          TEXT NOT NULL,
    id_token      TEXT,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX prosecutor_sessions_account ON prosecutor_sessions (prosecutor_id);

-- Every sign-in (web: the code flow; app: the ID-token exchange), for
-- `cpor-server stats`.
CREATE TABLE prosecutor_sign_ins (
    id            INTEGER PRIMARY KEY,
    prosecutor_id INTEGER NOT NULL REFERENCES prosecutor_accounts (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('web', 'app')),
    at            TEXT NOT NULL           -- RFC 3339 UTC
);

CREATE INDEX prosecutor_sign_ins_at ON prosecutor_sign_ins (at);

-- Every case page or API case view of a prosecutor, as `case_views` for
-- applicants; counted apart by `cpor-server stats`.
CREATE TABLE prosecutor_case_views (
    id            INTEGER PRIMARY KEY,
    prosecutor_id INTEGER NOT NULL REFERENCES prosecutor_accounts (id) ON DELETE CASCADE,
    case_key      TEXT NOT NULL,          -- TPD|刑事|115|訴|100
    at            TEXT NOT NULL
);

CREATE INDEX prosecutor_case_views_at ON prosecutor_case_views (at);
