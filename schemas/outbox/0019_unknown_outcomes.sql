-- Outbox, migration 19: `may_have_gone` (migration 17) is recorded when an
-- attempt may have reached a relay, not guessed from `attempts` at a retry.
--
-- Migration 17 had `outbox retry` set it from the attempts it reset: any
-- attempt but a failure at the first. That took an item put off by the
-- relay (4xx, `retrying`) for one that may have gone, and one given up at
-- its first attempt with the outcome unknown (`retry_hours = 0`) for one
-- that surely did not. Now it is set by the outcome itself: an attempt
-- whose message data got no answer (`outcomes.unknown_outcome`, moved onto
-- the item when the outcome is settled), and an attempt left *sending* by
-- a sender that died (made *unknown*). It stays set for the item's life,
-- through any retry.
ALTER TABLE outcomes ADD COLUMN unknown_outcome INTEGER NOT NULL DEFAULT 0
    CHECK (unknown_outcome IN (0, 1));

-- Items from before: what their attempts can say, erring towards "may
-- have gone" (which is only ever reported, never sent again unasked).
-- Unknown, or more than one attempt (an earlier one's outcome is not
-- kept), or one attempt that neither failed (refused, given up, bounced)
-- nor was put off.
UPDATE items SET may_have_gone = 1
WHERE state <> 'sent'
  AND (state = 'unknown'
       OR attempts > 1
       OR (attempts = 1 AND state NOT IN ('failed', 'retrying')));
