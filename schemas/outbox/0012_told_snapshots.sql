-- Outbox, migration 12: which snapshots' calendar files the nights'
-- digests told.
--
-- A night's digests tell each follower the night's news against the
-- snapshot it replaced (`base`), with the calendar files of the hearings
-- it announces. An address told only its hearings' changes (digests off,
-- reminders on) is not told a change again when a later night's news
-- re-announces it unchanged (etl::notify::queue::told), but only if the
-- snapshot its mail compares with is told: its row is here, its night's
-- digests are not held (`held_nights`), and so, back along `base`, is
-- every night before it, to the row that starts the chain (`start`: the
-- first row written, that of the data directory's first night or of the
-- first night queued after this migration). A night whose mail was never queued (forgotten, lost,
-- mail off), one compared with nothing after the first (`outbox rediff
-- --from none`), or one held for good breaks the chain: every change
-- after it is told again, as before this migration. Written in the
-- transaction that queues a night's mail (an older night forced in
-- removes any row of its name instead).
CREATE TABLE told_snapshots (
    snapshot  TEXT PRIMARY KEY,          -- 20261124-1.sqlite
    night     TEXT NOT NULL,             -- its night, as items.night
    base      TEXT,                      -- the snapshot its mail compared with
    start     INTEGER NOT NULL CHECK (start IN (0, 1)),
    queued_at TEXT NOT NULL
) WITHOUT ROWID;
