-- Accounts, migration 9: when a prosecutor's calendar feed was last
-- fetched, as an applicant's has had since migration 5 (`calendar_feeds.
-- last_used`, written since this migration too). The account page shows it,
-- so that whoever subscribed can see that their calendar reads the feed
-- (and notice one that still does after they stopped using it).
ALTER TABLE prosecutor_calendar_feeds ADD COLUMN last_used TEXT; -- the Taipei day, YYYY-MM-DD
