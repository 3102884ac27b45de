-- Provisioning: the job queue grows a dedupe key, an outcome and wake-ups across processes; projects get a
-- generation (bumped by every change that affects the cluster) and the history of each provisioning attempt.

-- A job whose dedupe key is already waiting or running is not queued again (one provision_project per project).
ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;
-- NULL while waiting or running; how it ended otherwise.
ALTER TABLE jobs ADD COLUMN outcome TEXT CHECK (outcome IN ('done', 'failed', 'cancelled'));
UPDATE jobs SET outcome = CASE WHEN last_error IS NULL THEN 'done' ELSE 'failed' END WHERE done_at IS NOT NULL;
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE done_at IS NULL;
CREATE INDEX jobs_kind ON jobs (kind, id);
CREATE INDEX jobs_outcome ON jobs (outcome, id);

-- Every Berth process LISTENs on this channel: a job queued by one starts at once in another. NOTIFY is sent when
-- the inserting transaction commits, so a runner never wakes for a job it cannot see yet.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_jobs', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF run_at ON jobs FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify();

ALTER TABLE projects DROP CONSTRAINT projects_state_check;
ALTER TABLE projects ADD CONSTRAINT projects_state_check
    CHECK (state IN ('provisioning', 'active', 'provisioning_failed', 'suspended', 'closed'));
-- `generation` grows with each change the cluster must follow; `provisioned_generation` is the last one applied.
ALTER TABLE projects ADD COLUMN generation BIGINT NOT NULL DEFAULT 1;
ALTER TABLE projects ADD COLUMN provisioned_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN activated_at TIMESTAMPTZ;          -- first time it became active
ALTER TABLE projects ADD COLUMN provision_error TEXT;              -- why the last attempt failed, if it did
ALTER TABLE projects ADD COLUMN drift TEXT;                        -- JSON: the last drift check's findings
ALTER TABLE projects ADD COLUMN drift_checked_at TIMESTAMPTZ;

-- One row per provisioning attempt: when, through which backend, and how it ended.
CREATE TABLE provisioning_attempts (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  BIGINT      NOT NULL REFERENCES projects (id),
    job_id      BIGINT      NOT NULL,
    generation  BIGINT      NOT NULL,
    action      TEXT        NOT NULL CHECK (action IN ('provision', 'deprovision')),
    backend     TEXT        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    -- 'running' until it ends; 'interrupted' when its runner died and another attempt took over.
    outcome     TEXT        NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted')),
    error       TEXT
);
CREATE INDEX provisioning_attempts_project ON provisioning_attempts (project_id, id);
CREATE INDEX provisioning_attempts_job ON provisioning_attempts (job_id, outcome);
