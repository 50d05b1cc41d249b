-- Outbox, migration 23: the site addresses this data directory's mail
-- was made with.
--
-- A mail's links are made when it is queued, from `mail.site_url`. A run
-- by hand without the configuration (OPERATIONS writes its commands bare;
-- only the units set `CPOR_CONFIG`) took the built-in address,
-- `http://localhost:8080`, and queued activation links and reminders that
-- lead nowhere. A command that makes mail with a configured address
-- records it here; one with the built-in address then refuses, naming it
-- (the operator's runbook review of the forty-ninth session). Nothing
-- before this migration is known: an address is recorded at its next use.
CREATE TABLE site_urls (
    site_url TEXT PRIMARY KEY,           -- as configured, no trailing slash
    first_at TEXT NOT NULL,              -- RFC 3339 UTC
    last_at  TEXT NOT NULL
) WITHOUT ROWID;
