-- Accounts, migration 0005 (issue 14): hearing reminders and the private
-- calendar feed. (0003 and 0004 are other branches'; this file keeps its
-- number whatever order they are merged in.)

-- Reminders by e-mail 7 and 1 days before a hearing (mail.reminder_days):
-- on unless the account page turns them off.
ALTER TABLE accounts ADD COLUMN reminders INTEGER NOT NULL DEFAULT 1
    CHECK (reminders IN (0, 1));

-- An account's private calendar feed: /calendar/<token>.ics. Only the
-- SHA-256 of the 256-bit token is stored; renewing replaces the row (the
-- old URL stops working at once), revoking deletes it.
CREATE TABLE calendar_feeds (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used  TEXT                    -- the Taipei day it was last fetched, YYYY-MM-DD
);
