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

-- Whatever makes an item *unknown* marks it, a build from before this
-- migration too (a `send` still running while another program upgrades
-- the file): an unknown item may have reached a relay. A later migration
-- that rebuilds `items` (as migrations 2 and 5 did) must create this
-- trigger again.
CREATE TRIGGER items_unknown_may_have_gone
AFTER UPDATE OF state ON items
WHEN NEW.state = 'unknown' AND NEW.may_have_gone = 0
BEGIN
    UPDATE items SET may_have_gone = 1 WHERE id = NEW.id;
END;

-- Items from before: what their attempts and last error can say, erring
-- towards "may have gone" (which `retry` only reports, never sends again
-- unasked). Unknown or sending; more than one attempt (an earlier one's
-- outcome is not kept), sent ones too (a bounce may fail them later); one
-- attempt that was neither failed nor put off (a queued item with one was
-- given back unstarted after being put off), nor accepted; or given up
-- with its last outcome unknown, as `send` words it. (Not one failed
-- from *unknown* because it was too late or unreadable at its next
-- claim: its last error says neither; `retry` leaves an unreadable one
-- anyway, and only reminders are too late.)
UPDATE items SET may_have_gone = 1
WHERE state IN ('unknown', 'sending')
   OR attempts > 1
   OR (attempts = 1 AND state NOT IN ('failed', 'retrying', 'queued', 'sent'))
   OR (state = 'failed' AND last_error LIKE '%; the last outcome unknown: %');
