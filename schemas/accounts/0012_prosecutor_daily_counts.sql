-- Accounts, migration 12 (the privacy review of the forty-seventh
-- session): a prosecutor's case views and sign-ins (who looked at which
-- case, when) were kept for ever, where an applicant's views go after
-- `server.keep_case_views_days` (their daily counts kept in
-- `daily_case_views`, migration 3). Both go now, day by day, each day's
-- counts kept here for `cpor-server stats`.
CREATE TABLE daily_prosecutor_activity (
    day      TEXT PRIMARY KEY,            -- YYYY-MM-DD, Asia/Taipei
    sign_ins INTEGER NOT NULL DEFAULT 0,
    views    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
