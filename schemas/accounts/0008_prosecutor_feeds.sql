-- Accounts, migration 8 (issue 14 for prosecutors): hearing reminders and
-- the private calendar feed of prosecutors signed in through the MOJ single
-- sign-on (migration 4). (Numbered 0008: 0007 is another branch's
-- migration of the same database. The runner records each migration by
-- its number, `schema_migrations`, so either may be applied first.)

-- Reminders by e-mail 7 and 1 days before a hearing of a case assigned to
-- the prosecutor, to the address the provider last vouched for: off until
-- the prosecutor turns them on, as the digest (docs/HEARINGS.md says why);
-- a sign-in without a verified address turns them off.
ALTER TABLE prosecutor_accounts ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0
    CHECK (reminders IN (0, 1));

-- A prosecutor's private calendar feed, as an applicant's (`calendar_feeds`,
-- migration 5): /calendar/<token>.ics, only the SHA-256 of the 256-bit
-- token stored; renewing replaces the row, revoking deletes it. Its own
-- table: an account row is an applicant's or a prosecutor's, never both.
CREATE TABLE prosecutor_calendar_feeds (
    prosecutor_id INTEGER PRIMARY KEY REFERENCES prosecutor_accounts (id) ON DELETE CASCADE,
    hash          BLOB NOT NULL UNIQUE,
    created_at    TEXT NOT NULL
);
