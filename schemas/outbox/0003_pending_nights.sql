-- Outbox, migration 3: nights whose mail is not queued yet.
--
-- An import records its night here (the snapshot it will publish and the
-- one it replaces) before publishing, in this database's own durable
-- commit; the transaction that queues the night's mail removes the record.
-- So whatever moment an import dies, the next import or send finds the
-- night and queues its mail, exactly once. A record whose snapshot was never
-- published is dropped. (This replaces the file <data>/notify.pending.)
CREATE TABLE pending_nights (
    seq           INTEGER PRIMARY KEY,    -- the order nights are finished in
    to_snapshot   TEXT NOT NULL UNIQUE,   -- 20261124-1.sqlite
    from_snapshot TEXT,                   -- the one it replaced; NULL: a first load
    recorded_at   TEXT NOT NULL
);
