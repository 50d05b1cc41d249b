-- Outbox, migration 5: hearing reminders (issue 14).
--
-- A reminder is a nightly-scope item of kind 'reminder', keyed like the
-- others by (night, address, kind, ref): `night` is the Asia/Taipei day it
-- is sent on, so an address gets at most one reminder a day, covering all
-- its hearings due that day. SQLite cannot change the kind CHECK in place,
-- so `items` is rebuilt (as migration 2 did).
CREATE TABLE items_v5 (
    id           INTEGER PRIMARY KEY,
    night        TEXT NOT NULL,          -- nightly: the batch date (reminders: the Taipei day sent); website: the Taipei day
    email        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN
                     ('activation', 'approval', 'digest', 'expiry', 'reminder', 'reset', 'changed')),
    state        TEXT NOT NULL CHECK (state IN
                     ('queued', 'held', 'sending', 'sent', 'retrying', 'failed', 'unknown', 'suppressed')),
    message_id   TEXT NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    message      BLOB NOT NULL,
    cases        INTEGER NOT NULL,
    queued_at    TEXT NOT NULL,
    not_before   TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    first_try_at TEXT,
    next_try_at  TEXT,
    last_error   TEXT,
    sent_at      TEXT,
    ref          TEXT NOT NULL DEFAULT '',
    UNIQUE (night, email, kind, ref)
);

INSERT INTO items_v5 (id, night, email, kind, state, message_id, subject, message, cases,
                      queued_at, not_before, attempts, first_try_at, next_try_at, last_error,
                      sent_at, ref)
SELECT id, night, email, kind, state, message_id, subject, message, cases,
       queued_at, not_before, attempts, first_try_at, next_try_at, last_error, sent_at, ref
FROM items;

DROP TABLE items;
ALTER TABLE items_v5 RENAME TO items;
CREATE INDEX items_due ON items (state, next_try_at);

-- Reminders given: one row per (address, hearing, time, lead), written in
-- the transaction that queues the reminder item, so a hearing is never
-- reminded twice for the same lead time, whatever re-runs or crashes
-- happen. `starts` is part of the key: a hearing moved to another day (same
-- UID, higher SEQUENCE) is reminded again for its new date.
CREATE TABLE reminded (
    email   TEXT NOT NULL,
    uid     TEXT NOT NULL,             -- the hearing's calendar UID
    starts  INTEGER NOT NULL,          -- YYYYMMDDHHMMSS, Asia/Taipei
    lead    INTEGER NOT NULL,          -- days before the hearing's day
    day     TEXT NOT NULL,             -- the Taipei day of the reminder, YYYYMMDD
    PRIMARY KEY (email, uid, starts, lead)
) WITHOUT ROWID;

-- Which snapshot each day's reminders were worked out from, so the sender,
-- which runs every few minutes, does the work once a day (and again only
-- when a new snapshot went live that day).
CREATE TABLE reminder_runs (
    day      TEXT NOT NULL,            -- YYYYMMDD, Asia/Taipei
    snapshot TEXT NOT NULL,            -- 20261124-1.sqlite
    at       TEXT NOT NULL,
    PRIMARY KEY (day, snapshot)
) WITHOUT ROWID;
