-- Accounts, migration 10: the subject (the provider's `sub`) each client of
-- the provider first signed a prosecutor's account in with, bound: the
-- website's and the app's apart, since a provider may give one person a
-- subject per client (pairwise subjects). A sign-in by another subject
-- through the same client is refused (an identity the provider gives the
-- same account claim is not let take the account over). NULL until that
-- client's first sign-in since this migration: `subject` (the last seen)
-- binds nothing, since it may be either client's.
ALTER TABLE prosecutor_accounts ADD COLUMN web_subject TEXT;
ALTER TABLE prosecutor_accounts ADD COLUMN app_subject TEXT;
