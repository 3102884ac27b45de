-- Provisioning: the job queue grows a dedupe key and an outcome; projects get a generation (bumped by every change
-- that affects the cluster) and the history of each provisioning attempt. (Wake-ups across processes are a
-- PostgreSQL feature; SQLite runs in one process, which wakes its runner itself.)

-- A job whose dedupe key is already waiting or running is not queued again (one provision_project per project).
ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;
-- NULL while waiting or running; how it ended otherwise.
ALTER TABLE jobs ADD COLUMN outcome TEXT CHECK (outcome IN ('done', 'failed', 'cancelled'));
UPDATE jobs SET outcome = CASE WHEN last_error IS NULL THEN 'done' ELSE 'failed' END WHERE done_at IS NOT NULL;
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE done_at IS NULL;
CREATE INDEX jobs_kind ON jobs (kind, id);
CREATE INDEX jobs_outcome ON jobs (outcome, id);

-- SQLite cannot change a CHECK constraint in place: the projects table (and project_members, which refers to it)
-- are copied into new tables. The members' copy first refers to the new projects table, so that dropping the old
-- one leaves no reference behind; renaming the new projects table then carries the reference along.
CREATE TABLE projects_new (
    id                     INTEGER     PRIMARY KEY AUTOINCREMENT,
    name                   TEXT        NOT NULL UNIQUE,
    application_id         INTEGER     NOT NULL UNIQUE REFERENCES applications (id),
    owner_id               INTEGER     NOT NULL REFERENCES users (id),
    title                  TEXT        NOT NULL,
    organisation           TEXT        NOT NULL,
    end_date               TEXT        NOT NULL,
    cpu_cores              INTEGER     NOT NULL,                   -- the granted quota
    memory_gib             INTEGER     NOT NULL,
    storage_gib            INTEGER     NOT NULL,
    pods                   INTEGER     NOT NULL,
    gpus                   INTEGER     NOT NULL,
    billing_account_id     INTEGER,
    state                  TEXT        NOT NULL CHECK (state IN
                               ('provisioning', 'active', 'provisioning_failed', 'suspended', 'closed')),
    created_at             TEXT        NOT NULL,
    updated_at             TEXT        NOT NULL,
    -- `generation` grows with each change the cluster must follow; `provisioned_generation` is the last applied.
    generation             INTEGER     NOT NULL DEFAULT 1,
    provisioned_generation INTEGER     NOT NULL DEFAULT 0,
    activated_at           TEXT,                                   -- first time it became active
    provision_error        TEXT,                                   -- why the last attempt failed, if it did
    drift                  TEXT,                                   -- JSON: the last drift check's findings
    drift_checked_at       TEXT
);
INSERT INTO projects_new (id, name, application_id, owner_id, title, organisation, end_date, cpu_cores, memory_gib,
    storage_gib, pods, gpus, billing_account_id, state, created_at, updated_at)
SELECT id, name, application_id, owner_id, title, organisation, end_date, cpu_cores, memory_gib, storage_gib, pods,
    gpus, billing_account_id, state, created_at, updated_at FROM projects;
CREATE TABLE project_members_new (
    project_id INTEGER    NOT NULL REFERENCES projects_new (id),
    user_id    INTEGER    NOT NULL REFERENCES users (id),
    role       TEXT        NOT NULL CHECK (role IN ('manager', 'member', 'viewer')),
    created_at TEXT      NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
INSERT INTO project_members_new SELECT project_id, user_id, role, created_at FROM project_members;
DROP TABLE project_members;
DROP TABLE projects;
ALTER TABLE projects_new RENAME TO projects;
ALTER TABLE project_members_new RENAME TO project_members;
CREATE INDEX projects_owner ON projects (owner_id);
CREATE INDEX project_members_user ON project_members (user_id);

-- One row per provisioning attempt: when, through which backend, and how it ended.
CREATE TABLE provisioning_attempts (
    id          INTEGER     PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER     NOT NULL REFERENCES projects (id),
    job_id      INTEGER     NOT NULL,
    generation  INTEGER     NOT NULL,
    action      TEXT        NOT NULL CHECK (action IN ('provision', 'deprovision')),
    backend     TEXT        NOT NULL,
    started_at  TEXT        NOT NULL,
    finished_at TEXT,
    -- 'running' until it ends; 'interrupted' when its runner died and another attempt took over.
    outcome     TEXT        NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted')),
    error       TEXT
);
CREATE INDEX provisioning_attempts_project ON provisioning_attempts (project_id, id);
CREATE INDEX provisioning_attempts_job ON provisioning_attempts (job_id, outcome);
