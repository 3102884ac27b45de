-- Access applications, their timeline, and the projects approval creates.

-- How an admin hears of new and resubmitted applications: a message for each, or one daily digest.
ALTER TABLE users ADD COLUMN application_mail TEXT NOT NULL DEFAULT 'each' CHECK (application_mail IN ('each', 'daily'));

-- One row per application; `version` grows with every change, so that a form made on an older version is refused.
CREATE TABLE applications (
    id                    INTEGER     PRIMARY KEY AUTOINCREMENT,
    applicant_id          INTEGER    NOT NULL REFERENCES users (id),
    draft_key             TEXT        NOT NULL,                -- from the form that created it: one draft per form
    state                 TEXT        NOT NULL CHECK (state IN
                              ('draft', 'submitted', 'changes_requested', 'approved', 'rejected', 'withdrawn')),
    version               INTEGER    NOT NULL DEFAULT 1,
    project_name          TEXT        NOT NULL DEFAULT '',     -- '' only in a draft
    title                 TEXT        NOT NULL DEFAULT '',
    purpose               TEXT        NOT NULL DEFAULT '',
    organisation          TEXT        NOT NULL DEFAULT '',
    end_date              TEXT,
    cpu_cores             INTEGER     NOT NULL,
    memory_gib            INTEGER     NOT NULL,
    storage_gib           INTEGER     NOT NULL,
    pods                  INTEGER     NOT NULL,
    gpus                  INTEGER     NOT NULL,
    quota_justification   TEXT        NOT NULL DEFAULT '',
    billing_account_id    INTEGER,                            -- an existing account of the applicant's, or
    billing_justification TEXT,                                -- a new one asked for (NULL: not chosen yet)
    terms_version         TEXT,                                -- the terms accepted at the last submission
    assigned_to           INTEGER    REFERENCES users (id),   -- the admin who took it
    decided_by            INTEGER    REFERENCES users (id),
    decided_at            TEXT,
    decision_reason       TEXT,
    created_at            TEXT      NOT NULL,
    updated_at            TEXT      NOT NULL,
    submitted_at          TEXT,                              -- the last (re)submission: the queue's age
    UNIQUE (applicant_id, draft_key)
);
-- A name is held from submission until the decision; a project holds it afterwards (projects.name is unique).
CREATE UNIQUE INDEX applications_open_name ON applications (project_name)
    WHERE state IN ('submitted', 'changes_requested');
CREATE INDEX applications_applicant ON applications (applicant_id, updated_at);
CREATE INDEX applications_queue_age ON applications (state, submitted_at, id);
CREATE INDEX applications_queue_name ON applications (state, project_name, id);
CREATE INDEX applications_queue_organisation ON applications (organisation, state, submitted_at, id);

-- The timeline of an application: every change, decision and comment, in the transaction that made it.
CREATE TABLE application_events (
    id             INTEGER     PRIMARY KEY AUTOINCREMENT,
    application_id INTEGER    NOT NULL REFERENCES applications (id),
    at             TEXT      NOT NULL,
    actor_id       INTEGER    REFERENCES users (id),
    actor          TEXT        NOT NULL,                       -- who, as shown at the time
    kind           TEXT        NOT NULL,                       -- created, saved, a transition, comment, take
    from_state     TEXT,
    to_state       TEXT,
    message        TEXT        NOT NULL DEFAULT '',
    details        TEXT        NOT NULL DEFAULT '{}'           -- JSON
);
CREATE INDEX application_events_application ON application_events (application_id, id);

-- A project on the cluster, created by approving an application.
CREATE TABLE projects (
    id                 INTEGER     PRIMARY KEY AUTOINCREMENT,
    name               TEXT        NOT NULL UNIQUE,
    application_id     INTEGER    NOT NULL UNIQUE REFERENCES applications (id),
    owner_id           INTEGER    NOT NULL REFERENCES users (id),
    title              TEXT        NOT NULL,
    organisation       TEXT        NOT NULL,
    end_date           TEXT      NOT NULL,
    cpu_cores          INTEGER     NOT NULL,                   -- the granted quota
    memory_gib         INTEGER     NOT NULL,
    storage_gib        INTEGER     NOT NULL,
    pods               INTEGER     NOT NULL,
    gpus               INTEGER     NOT NULL,
    billing_account_id INTEGER,
    state              TEXT        NOT NULL CHECK (state IN ('provisioning', 'active', 'suspended', 'closed')),
    created_at         TEXT      NOT NULL,
    updated_at         TEXT      NOT NULL
);
CREATE INDEX projects_owner ON projects (owner_id);

CREATE TABLE project_members (
    project_id INTEGER    NOT NULL REFERENCES projects (id),
    user_id    INTEGER    NOT NULL REFERENCES users (id),
    role       TEXT        NOT NULL CHECK (role IN ('manager', 'member', 'viewer')),
    created_at TEXT      NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);
