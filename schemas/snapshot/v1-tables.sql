-- Snapshot schema, version 1: the tables.
--
-- A snapshot is one immutable SQLite file built by `cpor-etl import` from one
-- nightly batch (plus courts carried over from the snapshot before it). It is
-- written once, verified, published by rename and never modified again; a new
-- schema is a new version number, never an edit of a published one.
-- `PRAGMA user_version` holds the version; `PRAGMA application_id` marks the
-- file as a cpor snapshot. Dates are ISO-8601 text (YYYY-MM-DD, Gregorian);
-- people see them in ROC form, converted at display time.
--
-- Indexes live in v1-indexes.sql: the ETL creates them after the bulk load,
-- which is much faster than maintaining them row by row.

-- Facts about the snapshot as a whole: 'batch_date' (YYYYMMDD of the batch it
-- was built from) and 'schema_version'.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per court whose data is in the snapshot. `as_of` is the export date
-- of the batch that court's data came from: tonight's for an imported court,
-- an earlier one for a court carried over because its files were missing or
-- unusable (`carry_reason` says why).
CREATE TABLE courts (
    code         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    as_of        TEXT NOT NULL,
    carried_over INTEGER NOT NULL CHECK (carried_over IN (0, 1)),
    carry_reason TEXT
) WITHOUT ROWID;

-- Every case of an in-scope court and category. Ids are assigned in key order
-- (court, category, year, word, number), so the same batch always gives the
-- same ids. `queryable` is 0 for a case past the two-month cutoff; such a case
-- keeps its row (administrators can see why it is gone) but has no entries,
-- grants or prosecutors.
CREATE TABLE cases (
    id          INTEGER PRIMARY KEY,
    court       TEXT    NOT NULL REFERENCES courts (code),
    category    TEXT    NOT NULL,
    year        INTEGER NOT NULL,
    word        TEXT    NOT NULL,
    number      INTEGER NOT NULL,
    division    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    status_date TEXT,
    queryable   INTEGER NOT NULL CHECK (queryable IN (0, 1))
);

-- The latest three existing entries of each queryable case. `rank` 1 is the
-- newest by (posted, seq). `modified` is the winning version's 異動時間
-- (YYYY-MM-DD HH:MM:SS), kept so a later diff can tell a revised text.
CREATE TABLE entries (
    case_id  INTEGER NOT NULL REFERENCES cases (id),
    rank     INTEGER NOT NULL CHECK (rank BETWEEN 1 AND 3),
    seq      INTEGER NOT NULL,
    posted   TEXT    NOT NULL,
    text     TEXT    NOT NULL,
    modified TEXT    NOT NULL,
    PRIMARY KEY (case_id, rank)
) WITHOUT ROWID;

-- Active grants: a clerk approved the address for the case and did not revoke
-- it. Addresses are stored lower-cased.
CREATE TABLE grants (
    case_id  INTEGER NOT NULL REFERENCES cases (id),
    email    TEXT    NOT NULL,
    role     TEXT    NOT NULL,
    approved TEXT    NOT NULL,
    PRIMARY KEY (case_id, email)
) WITHOUT ROWID;

-- Prosecutors (MOJ single sign-on account ids) assigned to a case.
CREATE TABLE prosecutors (
    case_id INTEGER NOT NULL REFERENCES cases (id),
    account TEXT    NOT NULL,
    PRIMARY KEY (case_id, account)
) WITHOUT ROWID;
