-- Snapshot schema, version 5: the tables. Version 1's and `hearing_chunks`,
-- which holds what version 4 kept in `hearings` and `extracted`, 64 cases to
-- a row. (Version 2 had one `hearings` row per hearing; 3 packed a case's
-- hearings into one `hearings` row; 4 added `extracted`. Readers treat a
-- version 2 file's hearings as version 1's: derived from the stored entries,
-- or none; a version 3 file gives no digests, so every case's hearings are
-- worked out again the night after it. `schemas::hearing_store` reads each.)
--
-- A snapshot is one immutable SQLite file built by `cpor-etl import` from one
-- nightly batch (plus courts carried over from the snapshot before it). It is
-- written once, verified, published by rename and never modified again; a new
-- schema is a new version number, never an edit of a published one.
-- `PRAGMA user_version` holds the version; `PRAGMA application_id` marks the
-- file as a cpor snapshot. Dates are integers YYYYMMDD (Gregorian) and times
-- YYYYMMDDHHMMSS: compact, sortable, readable in the sqlite3 shell; people see
-- them in ROC form (113/07/02), converted at display time.
--
-- Indexes live in v4-indexes.sql (unchanged since version 3): the ETL creates them after the bulk load,
-- which is much faster than maintaining them row by row.

-- Facts about the snapshot as a whole: 'batch_date' (YYYYMMDD of the batch it
-- was built from), 'schema_version' and, from version 4, 'hearing_rules'
-- (the version of the rules and packing its hearing lists were worked out
-- by, `etl::hearings::RULES`). Written by builds since 2026-12-03 (a key
-- added, no table changed, so no new version: readers ignore keys they do
-- not know, and a file without it names none): 'hearings_corrected', the
-- ids of the cases whose lists differ from the ones of the snapshot the
-- import carried on from in what a calendar holds (a hearing gone, or
-- moved, cancelled, changed), ascending, comma-separated, and, only when
-- that is not the live snapshot this one replaced (it was damaged),
-- 'hearings_corrected_from', that snapshot's file name (empty: none), for
-- the mail stage (`schemas::hearing_store::corrected`, docs/HEARINGS.md).
-- Written by builds since 2026-12-06, when there are any (a key added
-- again): 'cases_carried_over', the cases left out of their court's files
-- that night (a rejected row, or listed twice) whose rows here are the
-- version the snapshot before had, kept for the next night's comparison
-- only (never shown, never reminded of), each as `id:YYYYMMDD` with the
-- export date of that version's data, comma-separated, ascending by id
-- (`schemas::case::carried_cases`). A reader that does not know the key
-- would show such a case: the website and the ETL of the same build know
-- it. And since the forty-fourth session, one row per court the night was
-- published without (`--publish-without`) or still is: 'court_left_off:'
-- and the court's code, its value the date (YYYYMMDD) it left the site,
-- carried from night to night until the court is imported again, so that
-- each night says it is missing (`etl::snapshot::write::LEFT_OFF_KEY`).
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
    as_of        INTEGER NOT NULL,
    carried_over INTEGER NOT NULL CHECK (carried_over IN (0, 1)),
    carry_reason TEXT
) WITHOUT ROWID;

-- Every case of an in-scope court and category. Ids are assigned in key order
-- (court, category, year, word, number), so the same batch always gives the
-- same ids. `queryable` is 0 for a case past the two-month cutoff; such a case
-- keeps its row (administrators can see why it is gone) but has no entries,
-- grants or prosecutors.
--
-- The latest three existing entries, by (posted, seq), are stored in the row
-- itself, newest first: entry 1 is the newest; columns of missing entries are
-- NULL. Everything that reads entries (a case page, the e-mail diff) wants
-- all three of one case at once, and one row instead of four keeps the
-- nightly write and every read cheaper (measured: docs/BENCHMARKS.md).
-- `modifiedN` is the standing version's 異動時間, so a diff can tell a text
-- revised in place.
CREATE TABLE cases (
    id          INTEGER PRIMARY KEY,
    court       TEXT    NOT NULL REFERENCES courts (code),
    category    TEXT    NOT NULL,
    year        INTEGER NOT NULL,
    word        TEXT    NOT NULL,
    number      INTEGER NOT NULL,
    division    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    status_date INTEGER,
    queryable   INTEGER NOT NULL CHECK (queryable IN (0, 1)),
    seq1 INTEGER, posted1 INTEGER, text1 TEXT, modified1 INTEGER,
    seq2 INTEGER, posted2 INTEGER, text2 TEXT, modified2 INTEGER,
    seq3 INTEGER, posted3 INTEGER, text3 TEXT, modified3 INTEGER,
    CHECK ((seq2 IS NULL OR seq1 IS NOT NULL) AND (seq3 IS NULL OR seq2 IS NOT NULL))
);

-- Active grants: a clerk approved the address for the case and did not revoke
-- it. Addresses are stored lower-cased.
CREATE TABLE grants (
    case_id  INTEGER NOT NULL REFERENCES cases (id),
    email    TEXT    NOT NULL,
    role     TEXT    NOT NULL,
    approved INTEGER NOT NULL,
    PRIMARY KEY (case_id, email)
) WITHOUT ROWID;

-- Prosecutors (MOJ single sign-on account ids) assigned to a case.
CREATE TABLE prosecutors (
    case_id INTEGER NOT NULL REFERENCES cases (id),
    account TEXT    NOT NULL,
    PRIMARY KEY (case_id, account)
) WITHOUT ROWID;

-- Hearings (庭期) that a queryable case's entries schedule, past and to
-- come. The export is full, so every existing entry of the case is read each
-- night, not only the latest three: a hearing stays known after its entry
-- leaves the latest three, for as long as the case is queryable (a case
-- past the cutoff has none). Everything here is derived from the entries
-- alone by the rules of docs/HEARINGS.md (`etl::hearings`): a night copies a
-- list from the snapshot before it only where the case's entries are those
-- it was worked out from (below), so it is what working it out gives.
--
-- A case's hearing list holds its hearings,
-- one record per entry that schedules one, packed by `schemas::hearing_list`
-- (the format is documented there; `cpor-etl case` and `cpor-etl dump` show
-- them as text). Each record has the entry that schedules it (序號, 登載日期),
-- when (Asia/Taipei wall-clock time) and where (the courtroom as written, or
-- none), the kind (言詞辯論, 準備程序, 宣判, 調解, 訊問, ...; 開庭 when the text
-- names none), its state (scheduled, moved, cancelled, uncertain) and the
-- later entry that changed it, and the hearing it is a date of (its origin:
-- the kind and 序號 of the entry that first announced it, from which the
-- calendar UID is derived). `sequence` counts the changes the entries show,
-- up to and including what happened to that record, so a hearing's current
-- event is its record with the greatest `sequence` (a calendar's SEQUENCE).
--
-- Why packed: a national night has about 3.35 million hearings; as rows
-- (version 2) inserting, indexing and verifying them cost the import
-- several CPU-seconds, and every reader wants a case's hearings together.
--
-- A case's digest is what its hearings were worked out from: a 64-bit digest
-- (XXH3) of the existing entries the rules read, oldest first, each as its
-- 序號, 登載日期 and text (`etl::hearings::digest`). The next night reads
-- again only the cases whose entries changed: a case's list is copied from
-- this snapshot when tonight's digest equals the one here and
-- `meta.hearing_rules` names tonight's rules. A case without one (carried
-- over, or written by a build that does not work out hearings) is worked out
-- again.
--
-- `hearing_chunks` holds the lists and digests of 64 consecutive case ids to
-- a row: chunk k those of cases 64k + 1 to 64k + 64, one row per chunk with
-- any, its `data` laid out as `schemas::hearing_store` documents (which of
-- the 64 have a list and a digest, the digests, where each list ends, the
-- lists). Why chunks (version 5): a national night has about 705,000 lists
-- and 810,000 digests, and as rows of their own (versions 3 and 4) they cost
-- the import's writer about 3.2 CPU-seconds to insert, index and verify; as
-- about 13,800 chunks, nothing it measures (docs/BENCHMARKS.md, ninth
-- measurement). A case's list is found by its chunk's rowid, as it was by
-- the case's, though a case page now reads the chunk (6.5 KB on average).
CREATE TABLE hearing_chunks (
    chunk INTEGER PRIMARY KEY CHECK (chunk >= 0),
    data  BLOB    NOT NULL CHECK (length(data) >= 16)
);
