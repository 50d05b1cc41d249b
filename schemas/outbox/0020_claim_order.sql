-- Outbox, migration 20: where a nightly sender's claimed item stood in the
-- order its connections take them, so that the run after a crash can tell
-- the items no relay can have seen.
--
-- `send` claims a batch (up to 256 items, *sending*, one commit), then its
-- connections take them one at a time in the claim's order, each
-- recording its item's outcome (or withholding it) before taking the next.
-- A sender that dies (SIGKILL, power, a full disk that stops even the
-- give-back) left the whole batch *sending*, and the next run made every
-- item *unknown*, "may have gone" for life (migration 19), though at most
-- one per connection was with a relay. Now the claim records its
-- connections (`claims`) and each item's place (`claim_pos`, from 0) and
-- state before (`claimed_from`). Taken items form a prefix of the order,
-- and each taken one without an outcome that is still *sending* holds a
-- connection; so past the last item with an outcome or no longer
-- *sending*, plus the connections not held before it, no item was taken.
-- The next run gives those back as they were (queued, or unknown if they
-- were), their attempt uncounted, and makes only the rest unknown, one per
-- connection at most. Nightly claims only: one sender at a time
-- (send.lock), so no item of a dead run's claim is claimed again before
-- the next run recovers it. `claim_id` stays on an item after its claim
-- (its state then says it was taken); a later claim replaces it. NULL:
-- claimed by a build before this migration, a website mailer, or a test,
-- recovered as before. `boot`: the machine's boot id at the claim; a
-- sender's commits survive its kill but not a power failure (it does not
-- fsync each outcome), so a claim from another boot is recovered as
-- before.
CREATE TABLE claims (
    id          INTEGER PRIMARY KEY,
    connections INTEGER NOT NULL CHECK (connections > 0),
    at          TEXT NOT NULL,
    boot        TEXT
);
ALTER TABLE items ADD COLUMN claim_id INTEGER;
ALTER TABLE items ADD COLUMN claim_pos INTEGER;
ALTER TABLE items ADD COLUMN claimed_from TEXT;
CREATE INDEX items_claim ON items (claim_id, claim_pos) WHERE claim_id IS NOT NULL;
