-- Outbox, migration 21: the delivery reports `cpor-etl bounces` has read,
-- per item, so that a report is applied once; and the addresses still to
-- flag in the accounts database.
--
-- A report fails the item it is about (`sent` → `failed`) and flags its
-- address. `bounces --all` reads every report again (after a change of
-- `mail.bounce_address`, say); an item an administrator retried and that
-- went since is `sent` again, and the old report, about the attempt
-- before, failed it again and flagged its address again: its later mail
-- suppressed, the clerks told the address is bad, and a retry of the
-- failed mail would send it twice. Now each report read is recorded
-- against its item (`report`: 16 bytes of the SHA-256 of the message as
-- delivered), in the same commit as what it did (but not while the item
-- is being sent: the report may be about that attempt, and is read again
-- later), and a report read before does nothing. A report
-- about a later attempt is another message, and still fails the item.
-- Reports read before this migration are not recorded: read again, they
-- are applied as before.
CREATE TABLE bounce_reports (
    item_id INTEGER NOT NULL,
    report  BLOB NOT NULL CHECK (length(report) = 16),
    at      TEXT NOT NULL,
    PRIMARY KEY (item_id, report)
) WITHOUT ROWID;

-- A 5xx at sending, or a report that fails an item, flags its address in
-- the accounts database, and `outbox retry` clears the flag: another file,
-- another commit. The flag was written after the outbox's (a stop between
-- them lost it: the item failed, the address never flagged, its later
-- mail bouncing on and the clerks never told; or the item retried and
-- then suppressed for the flag the retry meant to clear), and writing it
-- before left an item *sending* when the outbox's write then failed. Now
-- the flag to write (`reason`; NULL: to clear) is recorded here in the
-- outbox's commit, written to the accounts database, then removed, under
-- the outbox's write lock; the nightly `send` and `bounces` write what a
-- stopped run left here, and report the flags.
CREATE TABLE flags_to_write (
    email  TEXT PRIMARY KEY,
    reason TEXT,
    at     TEXT NOT NULL
) WITHOUT ROWID;
