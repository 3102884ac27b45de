-- Invitations to join a project: the link's token is stored only as its SHA-256 (hex). Resending replaces the hash
-- (the old link stops working) and the expiry. At most one open invitation per project and address.
CREATE TABLE project_invitations (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  BIGINT      NOT NULL REFERENCES projects (id),
    email       TEXT        NOT NULL,                       -- lower-cased
    role        TEXT        NOT NULL CHECK (role IN ('manager', 'member', 'viewer')),
    token_hash  TEXT        NOT NULL UNIQUE,
    invited_by  BIGINT      NOT NULL REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ NOT NULL,                       -- last (re)sent
    expires_at  TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    accepted_by BIGINT      REFERENCES users (id),
    revoked_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX project_invitations_open ON project_invitations (project_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- A project's history: every change to it, who made it and when (the audit trail has the same, across Berth).
CREATE TABLE project_events (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT      NOT NULL REFERENCES projects (id),
    at         TIMESTAMPTZ NOT NULL,
    actor_id   BIGINT      REFERENCES users (id),
    kind       TEXT        NOT NULL,
    summary    TEXT        NOT NULL
);
CREATE INDEX project_events_project ON project_events (project_id, id);
