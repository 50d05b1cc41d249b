-- Accounts, migration 3: case views are personal data (who looked at which
-- case, when), so the website deletes them after `server.keep_case_views_days`
-- (default a year). What `cpor-server stats` reports of them is kept first,
-- per day and without who.
CREATE TABLE daily_case_views (
    day     TEXT PRIMARY KEY,           -- YYYY-MM-DD, UTC (as stats counts case_views)
    views   INTEGER NOT NULL,
    viewers INTEGER NOT NULL            -- distinct accounts that day
) WITHOUT ROWID;
