-- Accounts, migration 13 (the original-service review of the
-- forty-eighth session): `cpor-server stats` counted grants approved per
-- day from the live snapshot, which keeps no grant of a case past its last
-- day or revoked: a month's approvals fell, or vanished, once published.
-- Each night's import records here what its snapshot holds approved on
-- each day, the largest count any night saw (a grant comes with the night
-- after its approval; it leaves months later).
CREATE TABLE daily_grants (
    day    TEXT PRIMARY KEY,              -- YYYY-MM-DD, the clerk's approval day
    grants INTEGER NOT NULL
) WITHOUT ROWID;
