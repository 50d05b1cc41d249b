-- Outbox, migration 17: an item that may have gone before it was queued
-- again.
--
-- `cpor-etl outbox retry` queues an item again as new: no attempts, no
-- first try. Following `told_by` from an item it was asked for, it queues
-- the mail that told the item's cases only if that mail surely did not go:
-- never tried, or refused (or bounced) at its one attempt. Judged by
-- `attempts` alone, mail whose attempt's outcome was unknown, queued again
-- by hand and then suppressed for its address's flag before any attempt
-- counted as never tried, and was queued again unasked: its cases might be
-- told twice. `may_have_gone` is 1 once a retry finds the item may have
-- reached a relay (an attempt's outcome unknown, or attempts before the
-- last), and stays 1 through later retries. 0 for every other item, and
-- for items queued again before this migration (their history is lost).
-- (Superseded by migration 19: the marker is set from each attempt's
-- outcome as it is recorded, and a retry only keeps it.)
ALTER TABLE items ADD COLUMN may_have_gone INTEGER NOT NULL DEFAULT 0
    CHECK (may_have_gone IN (0, 1));
