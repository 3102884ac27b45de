-- Revisions of the status page's edited content (summary, maturity matrix, work remaining, known issues). The live
-- tables keep serving the page; each edit also stores the whole content as it stands after it, so a revision can be
-- compared with the one before it and restored. `content_revision` is the latest revision's number: an edit moves it
-- with a conditional update, which is what refuses a second writer that read the same revision.

ALTER TABLE status_meta ADD COLUMN content_revision INTEGER NOT NULL DEFAULT 0;

CREATE TABLE status_revisions (
    revision      INTEGER PRIMARY KEY,
    content       TEXT    NOT NULL,
    summary       TEXT    NOT NULL,
    author_id     INTEGER REFERENCES users (id),
    restored_from INTEGER REFERENCES status_revisions (revision),
    created_at    TEXT    NOT NULL
);

-- A removed known issue keeps its row (and id, which feeds and links use) so that restoring a revision brings it back.
ALTER TABLE known_issues ADD COLUMN removed_at TEXT;

CREATE TABLE known_issue_components (
    issue_id     INTEGER NOT NULL REFERENCES known_issues (id),
    component_id INTEGER NOT NULL REFERENCES status_components (id),
    PRIMARY KEY (issue_id, component_id)
);
