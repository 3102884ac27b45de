-- Invitations to join a project: the link's token is stored only as its SHA-256 (hex). Resending replaces the hash
-- (the old link stops working) and the expiry. At most one open invitation per project and address.
CREATE TABLE project_invitations (
    id          INTEGER     PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER     NOT NULL REFERENCES projects (id),
    email       TEXT        NOT NULL,                       -- lower-cased
    role        TEXT        NOT NULL CHECK (role IN ('manager', 'member', 'viewer')),
    token_hash  TEXT        NOT NULL UNIQUE,
    invited_by  INTEGER     NOT NULL REFERENCES users (id),
    created_at  TEXT        NOT NULL,
    sent_at     TEXT        NOT NULL,                       -- last (re)sent
    expires_at  TEXT        NOT NULL,
    accepted_at TEXT,
    accepted_by INTEGER     REFERENCES users (id),
    revoked_at  TEXT
);
CREATE UNIQUE INDEX project_invitations_open ON project_invitations (project_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- A project's history: every change to it, who made it and when (the audit trail has the same, across Berth).
CREATE TABLE project_events (
    id         INTEGER     PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER     NOT NULL REFERENCES projects (id),
    at         TEXT        NOT NULL,
    actor_id   INTEGER     REFERENCES users (id),
    kind       TEXT        NOT NULL,
    summary    TEXT        NOT NULL
);
CREATE INDEX project_events_project ON project_events (project_id, id);
