-- Outbox, migration 1. The outbox database (<data>/outbox.sqlite) is the
-- durable queue between an import and the mail server. Migrations are
-- numbered, applied in order, recorded in `PRAGMA user_version`, and never
-- edited once released.
--
-- An item is rendered when it is queued, so every attempt sends the same
-- bytes with the same Message-ID. Its key (night, address, kind) makes it
-- impossible to queue the same thing twice, however often an import is run.
--
-- States: queued → sending → sent; sending → retrying (4xx, connection
-- failure; again after a backoff) → … → failed (5xx, or retries exhausted);
-- sending → unknown (timeout after the data was sent, or a crash while
-- sending: retried once, same Message-ID). held: a flood-guarded digest
-- waiting for `cpor-etl outbox release`. suppressed: the address is flagged.
-- Times are RFC 3339 UTC text.
CREATE TABLE items (
    id           INTEGER PRIMARY KEY,
    night        TEXT NOT NULL,          -- the import's batch date, YYYYMMDD
    email        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('activation', 'approval', 'digest', 'expiry')),
    state        TEXT NOT NULL CHECK (state IN
                     ('queued', 'held', 'sending', 'sent', 'retrying', 'failed', 'unknown', 'suppressed')),
    message_id   TEXT NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    message      BLOB NOT NULL,          -- the whole RFC 5322 message, CRLF
    cases        INTEGER NOT NULL,       -- how many cases it reports
    queued_at    TEXT NOT NULL,
    not_before   TEXT NOT NULL,          -- earliest send (spreads a night's mail)
    attempts     INTEGER NOT NULL DEFAULT 0,
    first_try_at TEXT,
    next_try_at  TEXT,
    last_error   TEXT,
    sent_at      TEXT,
    UNIQUE (night, email, kind)
);

CREATE INDEX items_due ON items (state, next_try_at);

-- Expiry warnings already given, so each (address, case) is warned once.
CREATE TABLE expiry_warned (
    email    TEXT NOT NULL,
    case_key TEXT NOT NULL,             -- TPD|民事|113|訴|100
    last_day INTEGER NOT NULL,          -- YYYYMMDD
    night    TEXT NOT NULL,
    PRIMARY KEY (email, case_key, last_day)
) WITHOUT ROWID;

-- Nights whose digests were held by the flood guard, and their release.
CREATE TABLE held_nights (
    night       TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    held_at     TEXT NOT NULL,
    released_at TEXT
) WITHOUT ROWID;
