-- Snapshot schema, version 3: the indexes, created after the bulk load.
-- The same as version 1: a case's hearings are found by its id.

-- Case lookup by key (administrators' `case` command, the website's case page).
CREATE UNIQUE INDEX cases_key ON cases (court, category, year, word, number);

-- "Which cases may this address see?" (the website, the e-mail diff).
CREATE INDEX grants_email ON grants (email, case_id);

-- "Which cases does this prosecutor handle?"
CREATE INDEX prosecutors_account ON prosecutors (account, case_id);
