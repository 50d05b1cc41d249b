-- Outbox, migration 4: each delivery attempt's outcome, committed the
-- moment the relay answers.
--
-- A sender claims items in batches (one commit: *sending*), and must not
-- deliver a message twice because a kill lost its outcome. Updating an
-- item's row for every outcome rewrites its whole record, the message
-- included (about eight pages a commit); a row here is one small insert.
-- The sender moves a batch's outcomes onto its items in one transaction
-- (state, last_error, next_try_at, sent_at) and deletes them; the next run
-- does the same first if a run died in between, so an outcome recorded here
-- is never lost and never needs the message sent again.
CREATE TABLE outcomes (
    item_id     INTEGER PRIMARY KEY,  -- an item in state 'sending'
    state       TEXT NOT NULL,        -- its state after the attempt
    last_error  TEXT,
    next_try_at TEXT,
    at          TEXT NOT NULL         -- when the relay answered (sent_at if sent)
);
