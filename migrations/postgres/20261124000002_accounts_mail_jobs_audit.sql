-- Accounts and their sign-in identities, signed-in sessions, one-time e-mail links, the mail outbox, the job queue
-- and the audit trail.

CREATE TABLE users (
    id                BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email             TEXT        UNIQUE,                  -- lower-cased; where Berth sends mail
    display_name      TEXT,
    organisation      TEXT,
    role              TEXT        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    terms_version     TEXT,                                -- NULL until sign-up is completed
    terms_accepted_at TIMESTAMPTZ,
    disabled_at       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);

-- A way to sign in: (provider, subject) from an OpenID Connect provider, or ('email', address) for e-mail links.
CREATE TABLE identities (
    id              BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider        TEXT        NOT NULL,
    subject         TEXT        NOT NULL,
    email           TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    last_sign_in_at TIMESTAMPTZ NOT NULL,
    UNIQUE (provider, subject)
);
CREATE INDEX identities_user_id ON identities (user_id);

-- Signed-in sessions. The id is kept inside the session record (never the cookie value); deleting the row signs
-- that session out.
CREATE TABLE user_sessions (
    id           TEXT        PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,                     -- the absolute timeout
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX user_sessions_user_id ON user_sessions (user_id);

-- One-time sign-in links: only a hash of the token is stored.
CREATE TABLE sign_in_links (
    token_hash TEXT        PRIMARY KEY,
    email      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX sign_in_links_expires_at ON sign_in_links (expires_at);

-- Rendered mail waiting for (or done with) delivery; a `send_mail` job delivers each message.
CREATE TABLE outbox (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient  TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    text_body  TEXT        NOT NULL,
    html_body  TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at    TIMESTAMPTZ
);

-- Durable background work, enqueued in the same transaction as the change that causes it.
CREATE TABLE jobs (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT        NOT NULL,
    payload      TEXT        NOT NULL,                     -- JSON
    run_at       TIMESTAMPTZ NOT NULL,
    attempts     INTEGER     NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    last_error   TEXT,
    done_at      TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE done_at IS NULL;

-- Who did what and when. Append-only: a trigger refuses updates and deletes.
CREATE TABLE audit_log (
    id       BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       TIMESTAMPTZ NOT NULL,
    actor_id BIGINT      REFERENCES users (id),
    actor    TEXT        NOT NULL,                         -- e-mail at the time, or 'anonymous' / 'system'
    action   TEXT        NOT NULL,
    target   TEXT        NOT NULL,
    ip       TEXT,
    details  TEXT        NOT NULL DEFAULT '{}'             -- JSON
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
CREATE INDEX audit_log_action ON audit_log (action, at);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
