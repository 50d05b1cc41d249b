-- Outbox, migration 7 (for issue 14's goal; docs/BENCHMARKS.md, "The
-- outbox's messages, compressed"): the nightly messages are stored
-- compressed.
--
-- A night's digests and a day's reminders are the outbox's largest write
-- (a national night: 413 MB of digests; a day's reminders: 190 MB), and
-- SQLite writes every byte twice (the WAL, then the checkpoint). zstd
-- makes them about half as large; the render workers compress, so the
-- single writer writes fewer bytes. `coding` says how `message` is stored:
-- 'zstd' (one zstd frame) for the nightly mail queued from this migration
-- on; 'identity' (as sent) for what was queued before it and for the
-- website's mail (a few small messages a day; a pass of an older server's
-- mailer that opened the outbox just before this migration may still
-- claim them without reading `coding`). An emptied body is an empty
-- `message`, whatever the coding.
ALTER TABLE items ADD COLUMN coding TEXT NOT NULL DEFAULT 'identity'
    CHECK (coding IN ('identity', 'zstd'));
