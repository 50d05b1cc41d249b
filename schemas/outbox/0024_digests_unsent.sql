-- Outbox, migration 24: the digests not sent yet, by address.
--
-- After a relay outage an address's digests went newest night first: an
-- older one had backed off longer, and what is due goes in the order of
-- its next try (the operator's runbook review of the forty-ninth
-- session). A digest now waits while its address's earlier one may still
-- go (`Outbox::due`), looked up here: only what is not sent, a handful on
-- an ordinary night.
CREATE INDEX items_digests_unsent ON items (email, id)
    WHERE kind = 'digest' AND state IN ('queued', 'sending', 'retrying', 'unknown');
