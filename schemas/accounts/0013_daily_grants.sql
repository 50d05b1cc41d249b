-- Accounts, migration 13 (the original-service review of the
-- forty-eighth session): `cpor-server stats` counted grants approved per
-- day from the live snapshot, which keeps no grant of a case past its last
-- day or revoked: a month's approvals fell, or vanished, once published.
-- Each night's import records here what its snapshot holds approved on
-- each day (a re-run of the night replaces its rows, a rollback deletes
-- the rows of the nights after the one rolled back to); `stats` counts,
-- for each day, the most any night held (a grant comes with the night
-- after its approval and leaves months later). Rows of nights older than
-- the oldest kept snapshot are folded into one per day (`night` '').
CREATE TABLE daily_grants (
    day    TEXT NOT NULL,                 -- YYYY-MM-DD, the clerk's approval day
    night  TEXT NOT NULL,                 -- YYYYMMDD of the snapshot, '' folded
    grants INTEGER NOT NULL,
    PRIMARY KEY (day, night)
) WITHOUT ROWID;
