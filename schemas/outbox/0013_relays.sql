-- Outbox, migration 13: the relays this data directory's mail went
-- through.
--
-- With no relay configured, `cpor-etl send` writes each message as an
-- .eml file and marks it sent: right on a laptop, mail lost in a data
-- directory whose mail goes out through a relay (a forgotten --config, a
-- hand run from a directory without ./cpor.toml). A send through a relay
-- that took mail records it here; a send without one then refuses,
-- naming it, unless told to write files (`send --to-files`). Nothing before this migration
-- is known: a relay used only before it is recorded at its next use.
CREATE TABLE relays (
    relay    TEXT PRIMARY KEY,           -- host:port, as configured
    first_at TEXT NOT NULL,              -- RFC 3339 UTC
    last_at  TEXT NOT NULL
) WITHOUT ROWID;
