-- Outbox, migration 11: the SEQUENCE a hearing's calendar files must stay
-- above, where what was mailed is above what the snapshot now says.
--
-- A snapshot's SEQUENCE of a hearing never falls from one night to the
-- next (etl::hearings::carry_on), but it can fall below what calendars
-- hold when the snapshot no longer has what they took: a hearing whose
-- withdrawn entry the court restores starts again from what its entries
-- show, below the CANCEL that was mailed when it was withdrawn; after a
-- rollback, or a night carried on from a snapshot standing in for a
-- damaged live one, the older snapshot's SEQUENCEs are below what the
-- newer one's mail carried. Calendar apps ignore an update with a lower SEQUENCE than
-- they hold (RFC 5546 §2.1.5). So a row here says: this UID was mailed at
-- `sequence`, saying `content` (a 64-bit digest of the method, start,
-- courtroom, kind and state, `etl::notify::floors`); a later file of the
-- UID whose own SEQUENCE is not above it is sent at `sequence` if it says
-- the same, else at `sequence` + 1, and recorded so. Written with the mail
-- that needs it (the digest of a CANCEL for a withdrawn hearing, any file
-- raised above its own SEQUENCE), and at a rollback for every hearing the
-- snapshot rolled back from had higher; a few hundred rows a night, not
-- one per hearing mailed. `starts` (YYYYMMDDHHMMSS, Asia/Taipei) of the
-- file recorded.
CREATE TABLE calendar_floors (
    uid      TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL CHECK (sequence >= 0),
    content  INTEGER NOT NULL,
    starts   INTEGER NOT NULL
) WITHOUT ROWID;
