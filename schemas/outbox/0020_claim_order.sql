-- Outbox, migration 20: the order a nightly sender's connections take a
-- claimed batch in, so that the run after a crash can tell the items no
-- relay can have seen.
--
-- `send` claims a batch (up to 256 items, *sending*, one commit), then its
-- connections take them one at a time in the claim's order, each
-- recording its item's outcome (or withholding it) before taking the next.
-- A sender that dies (SIGKILL, the OOM killer, a full disk that stops
-- even the give-back) left the whole batch *sending*, and the next run made every
-- item *unknown*, "may have gone" for life (migration 19), though at most
-- one per connection was with a relay. Now the claim records its
-- connections and its items in order, each with its state before
-- (`items`: one line each, `<id> <state>`). Taken items form a prefix of
-- the order, and each taken one without an outcome that is still
-- *sending* holds a connection; so past the last item with an outcome or
-- no longer *sending*, plus the connections not held before it, no item
-- was taken. The next run gives those back as they were (queued, or
-- unknown if they were), their attempt uncounted, and makes only the rest
-- unknown, one per connection at most.
--
-- Nightly claims only: one sender at a time (send.lock), each batch
-- settled before the next is claimed, and the next run recovers before it
-- claims; so one row at most, replaced by each claim (removed by a
-- nightly claim without an order) and removed by each recovery. `boot`: the machine's boot id at the claim. A sender's
-- commits survive its kill but not a power failure (it does not fsync
-- each outcome), so a claim from another boot is recovered as before.
CREATE TABLE claims (
    id          INTEGER PRIMARY KEY,
    connections INTEGER NOT NULL CHECK (connections > 0),
    boot        TEXT,
    at          TEXT NOT NULL,
    items       TEXT NOT NULL
);
