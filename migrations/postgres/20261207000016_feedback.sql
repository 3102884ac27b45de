-- Problems reported and suggestions made by signed-in users, with the admins' triage and reply. A report turned into a
-- known issue points at it.
CREATE TABLE feedback (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id      BIGINT      NOT NULL REFERENCES users (id),
    kind           TEXT        NOT NULL CHECK (kind IN ('problem', 'suggestion')),
    body           TEXT        NOT NULL,
    page           TEXT        NOT NULL,
    component_id   BIGINT      REFERENCES status_components (id),
    status         TEXT        NOT NULL DEFAULT 'new'
                               CHECK (status IN ('new', 'acknowledged', 'planned', 'declined', 'done')),
    reply          TEXT,
    replied_at     TIMESTAMPTZ,
    replied_by     BIGINT      REFERENCES users (id),
    known_issue_id BIGINT      REFERENCES known_issues (id),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
-- The user's own list and the rate limit read by author; the admins' queue by status.
CREATE INDEX feedback_author ON feedback (author_id, created_at);
CREATE INDEX feedback_status ON feedback (status, id);
