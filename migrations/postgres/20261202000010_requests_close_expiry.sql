-- Change requests of a project (a quota change or a renewal), closing with a grace period, and expiry.

-- When the quota last went up (the auto-approval rules look at it).
ALTER TABLE projects ADD COLUMN last_increase_at TIMESTAMPTZ;
-- Closed: when, and from when its namespace may be deleted; `deleted_at` once the backend removed it.
ALTER TABLE projects ADD COLUMN closed_at TIMESTAMPTZ;
ALTER TABLE projects ADD COLUMN delete_after TIMESTAMPTZ;
ALTER TABLE projects ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE projects ADD COLUMN close_reason TEXT;
-- Suspended by the daily sweep because its end date passed (a renewal resumes it).
ALTER TABLE projects ADD COLUMN expired_at TIMESTAMPTZ;
-- The end date each expiry reminder was sent for: a renewal moves the end date, and the reminders come again.
ALTER TABLE projects ADD COLUMN reminded_30_for DATE;
ALTER TABLE projects ADD COLUMN reminded_7_for DATE;

-- Quotas are JSON objects of the five resources: {"cpu_cores":4,"memory_gib":16,...}.
CREATE TABLE project_requests (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id       BIGINT  NOT NULL REFERENCES projects (id),
    kind             TEXT    NOT NULL CHECK (kind IN ('quota', 'renewal')),
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'withdrawn')),
    requested_by     BIGINT  NOT NULL REFERENCES users (id),
    reason           TEXT    NOT NULL,
    from_quota       TEXT,                  -- quota changes: the quota when asked
    quota            TEXT,                  -- and the quota asked for
    from_end_date    DATE,                  -- renewals: the end date when asked
    end_date         DATE,                  -- and the end date asked for
    granted_quota    TEXT,
    granted_end_date DATE,
    rule             TEXT,                  -- which auto-approval rule decided, or why none did
    decided_by       BIGINT REFERENCES users (id),
    decided_at       TIMESTAMPTZ,
    decision_reason  TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
-- One waiting request of each kind per project.
CREATE UNIQUE INDEX project_requests_pending ON project_requests (project_id, kind) WHERE state = 'pending';
CREATE INDEX project_requests_queue ON project_requests (state, created_at, id);
CREATE INDEX project_requests_project ON project_requests (project_id, id);

-- A request's timeline is the project's events that name it.
ALTER TABLE project_events ADD COLUMN request_id BIGINT REFERENCES project_requests (id);

-- The daily sweep finds projects by their end date, and closed ones by their deletion date.
CREATE INDEX projects_end_date ON projects (state, end_date);
CREATE INDEX projects_delete_after ON projects (state, delete_after);
