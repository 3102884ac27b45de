-- Problems reported and suggestions made by signed-in users, with the admins' triage and reply. A report turned into a
-- known issue points at it.
CREATE TABLE feedback (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id      INTEGER NOT NULL REFERENCES users (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('problem', 'suggestion')),
    body           TEXT    NOT NULL,
    page           TEXT    NOT NULL,
    component_id   INTEGER REFERENCES status_components (id),
    status         TEXT    NOT NULL DEFAULT 'new'
                           CHECK (status IN ('new', 'acknowledged', 'planned', 'declined', 'done')),
    reply          TEXT,
    replied_at     TEXT,
    replied_by     INTEGER REFERENCES users (id),
    known_issue_id INTEGER REFERENCES known_issues (id),
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);
-- The user's own list and the rate limit read by author; the admins' queue by status.
CREATE INDEX feedback_author ON feedback (author_id, created_at);
CREATE INDEX feedback_status ON feedback (status, id);
