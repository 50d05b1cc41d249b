-- Outbox, migration 2: mail the website queues (password reset links and
-- "your password was changed" notices) next to the nightly mail.
--
-- These can happen several times a day for one address, so the key gains a
-- `ref`: empty for the nightly kinds (whose key stays night, address,
-- kind), a per-message reference for the website's kinds. SQLite cannot
-- change a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE items_v2 (
    id           INTEGER PRIMARY KEY,
    night        TEXT NOT NULL,          -- nightly: the batch date; website: the Taipei day, YYYYMMDD
    email        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN
                     ('activation', 'approval', 'digest', 'expiry', 'reset', 'changed')),
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

INSERT INTO items_v2 (id, night, email, kind, state, message_id, subject, message, cases,
                      queued_at, not_before, attempts, first_try_at, next_try_at, last_error, sent_at)
SELECT id, night, email, kind, state, message_id, subject, message, cases,
       queued_at, not_before, attempts, first_try_at, next_try_at, last_error, sent_at
FROM items;

DROP TABLE items;
ALTER TABLE items_v2 RENAME TO items;
CREATE INDEX items_due ON items (state, next_try_at);
