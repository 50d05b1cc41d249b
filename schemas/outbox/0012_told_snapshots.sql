-- Outbox, migration 12: which snapshots' calendar files the nights' mail
-- told.
--
-- A night's digests tell each follower the night's news against the
-- snapshot it replaced (`base`), with the calendar files of the hearings
-- it announces. An address told only its hearings' changes (digests off,
-- reminders on) is not told a change again when a later night's news
-- re-announces it unchanged (etl::notify::queue::told), but only if the
-- snapshot its mail compares with is told: its row is here, its night's
-- digests are not held (`held_nights`), and so, back along `base`, is
-- every night before it, to the row that starts the chain (`start`). A
-- snapshot is known by its name and its SHA-256 (the one recorded beside
-- it when it was published), since a name can come back once every
-- build of its date is gone.
--
-- The chain starts at the first row written while no other night waits
-- for its mail and none is held: the data directory's first night, or the
-- first night queued after this migration, the nights before it taken as
-- told. A published night whose news is never mailed (given up, dropped,
-- compared with nothing, imported with mail off or as an older night)
-- writes a row with an empty `sha256`, which no lookup matches, so that
-- no chain starts after it. After the start, a night whose mail was
-- never queued, one compared with nothing, or one held for good breaks
-- the chain: every change after it is told again, as before this
-- migration. Written in the transaction that queues a night's mail.
CREATE TABLE told_snapshots (
    snapshot  TEXT NOT NULL,             -- 20261124-1.sqlite
    sha256    TEXT NOT NULL,             -- its recorded checksum
    night     TEXT NOT NULL,             -- its night, as items.night
    base      TEXT,                      -- the snapshot its mail compared with
    base_sha256 TEXT,
    start     INTEGER NOT NULL CHECK (start IN (0, 1)),
    queued_at TEXT NOT NULL,
    PRIMARY KEY (snapshot, sha256)
) WITHOUT ROWID;
