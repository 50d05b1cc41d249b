-- Outbox, migration 12: the snapshots whose night's digests were queued.
--
-- A night's digests tell each follower the night's news against the
-- snapshot it replaced, with the calendar files of the hearings it
-- announces. An address told only its hearings' changes (digests off,
-- reminders on) is then not told a change again when a later night's news
-- re-announces it unchanged (etl::notify::queue::told): but only if the
-- snapshot that brought the change had its digests queued. A row here
-- says so, written in the transaction that queues the night (a first load
-- and an older night forced in queue no digests, and write none; a re-run
-- writes its own build's). A night whose digests are still held
-- (`held_nights`, not released) is not taken as told. A snapshot not here
-- (its mail still waits, was forgotten, or was queued before this
-- migration) has every change its news announces told again.
CREATE TABLE told_snapshots (
    snapshot  TEXT PRIMARY KEY,          -- 20261124-1.sqlite
    night     TEXT NOT NULL,             -- its night, as items.night
    queued_at TEXT NOT NULL
) WITHOUT ROWID;
