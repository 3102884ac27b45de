-- Sign-in hardening: where a role came from, identities keyed by issuer, e-mail links that prove an address before
-- a provider identity joins its account, and mail whose secret body is erased.

-- Who last set the role: NULL (never set), 'config' (admin_emails, for a proven address), 'admin' or 'cli'. A role
-- set or taken away by a person is never changed again by admin_emails.
ALTER TABLE users ADD COLUMN role_source TEXT CHECK (role_source IN ('config', 'admin', 'cli'));

-- Identities are keyed by (provider id, issuer, subject): re-pointing a provider id at another issuer cannot let its
-- subjects collide with the old ones. Rows from before this migration have the issuer '' until their next sign-in.
ALTER TABLE identities ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE identities DROP CONSTRAINT identities_provider_subject_key;
ALTER TABLE identities ADD CONSTRAINT identities_provider_issuer_subject_key UNIQUE (provider, issuer, subject);

-- A link that also joins a provider identity to the account of its address (the identity waits in the browser
-- session that started it; the link proves the address).
ALTER TABLE sign_in_links ADD COLUMN join_provider TEXT;
ALTER TABLE sign_in_links ADD COLUMN join_issuer TEXT;
ALTER TABLE sign_in_links ADD COLUMN join_subject TEXT;
CREATE INDEX sign_in_links_email ON sign_in_links (email) WHERE used_at IS NULL;

-- Mail whose body carries a secret (a sign-in link) has the time the secret stops working; its body is erased once
-- delivered, or at that time if it was never delivered.
ALTER TABLE outbox ADD COLUMN secret_expires_at TIMESTAMPTZ;
CREATE INDEX outbox_secret_expires_at ON outbox (secret_expires_at) WHERE secret_expires_at IS NOT NULL;
-- Links sent before this migration are in the outbox in plain text: erase them.
UPDATE outbox SET text_body = '', html_body = '' WHERE subject = 'Your sign-in link for Berth';
