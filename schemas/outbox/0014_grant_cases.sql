-- Outbox, migration 14: the cases a grant's mail names.
--
-- An activation, approval or expiry warning lists cases granted to its
-- address. If it has not gone out when a later snapshot no longer grants
-- the address one of them (a clerk's grant withdrawn, a case past its
-- cutoff), it must not go out: it would show that case to someone no
-- longer allowed to see it. Nor may the cases still granted be lost with
-- it. So the mail records its cases (`case_keys`: CaseRef ids,
-- TPD|民事|113|訴|100, one per line; NULL for other kinds and for items
-- queued before this migration). The next night's mail withholds such an
-- item and tells the cases still granted again, in the same transaction;
-- `cpor-etl send` withholds one the live snapshot no longer grants before
-- that night's mail is queued, and leaves its cases in `untold` for that
-- night's mail to tell (NULL once told, or when there is nothing to tell).
-- `withheld_at` says when it was withheld so: such an item is not queued
-- again by `outbox retry` (it would show the case; and the cases still
-- granted, told again, would be told twice). A grant the court restores is
-- a new grant, mailed with its night.
ALTER TABLE items ADD COLUMN case_keys TEXT;
ALTER TABLE items ADD COLUMN untold TEXT;
ALTER TABLE items ADD COLUMN withheld_at TEXT;

-- What a night's mail looks up (a national outbox holds millions of sent
-- items; these hold only what is not sent: a handful on an ordinary night,
-- a first load's activations while a relay is down): the grant mail not
-- sent yet, by the
-- address of a grant gone tonight; and the mail `send` withheld whose
-- cases are still to be told.
CREATE INDEX items_grant_mail ON items (email)
    WHERE case_keys IS NOT NULL AND state IN ('queued', 'retrying', 'unknown');
CREATE INDEX items_untold ON items (night) WHERE untold IS NOT NULL;
