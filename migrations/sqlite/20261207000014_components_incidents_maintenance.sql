-- Components of the service, incidents that affect them and announced maintenance windows. A component's status is
-- not stored: it follows from the incidents open at the time (their impacts) and the maintenance windows, so the
-- impact rows are the components' status history, and availability is computed from them.

CREATE TABLE status_components (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    position    INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    opened_at   TEXT    NOT NULL,
    resolved_at TEXT,
    opened_by   INTEGER NOT NULL REFERENCES users (id),
    version     INTEGER NOT NULL DEFAULT 1,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX incidents_open ON incidents (opened_at) WHERE resolved_at IS NULL;
CREATE INDEX incidents_resolved ON incidents (resolved_at);

-- What an incident does to a component from `from_at` on (until the incident is resolved or a later row for the
-- same pair); 'operational' takes the component out of the incident.
CREATE TABLE incident_impacts (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    component_id INTEGER NOT NULL REFERENCES status_components (id),
    from_at      TEXT    NOT NULL,
    impact       TEXT    NOT NULL CHECK (impact IN ('operational', 'degraded', 'partial_outage', 'major_outage')),
    PRIMARY KEY (incident_id, component_id, from_at)
) WITHOUT ROWID;
CREATE INDEX incident_impacts_component ON incident_impacts (component_id, from_at);

-- The timestamped messages of an incident, each with the status it moved to.
CREATE TABLE incident_updates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    status      TEXT    NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    message     TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    created_by  INTEGER NOT NULL REFERENCES users (id)
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);

CREATE TABLE maintenance_windows (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    starts_at    TEXT    NOT NULL,
    ends_at      TEXT    NOT NULL CHECK (ends_at > starts_at),
    created_by   INTEGER NOT NULL REFERENCES users (id),
    created_at   TEXT    NOT NULL,
    cancelled_at TEXT
);
CREATE INDEX maintenance_windows_ends ON maintenance_windows (ends_at);

CREATE TABLE maintenance_components (
    window_id    INTEGER NOT NULL REFERENCES maintenance_windows (id),
    component_id INTEGER NOT NULL REFERENCES status_components (id),
    PRIMARY KEY (window_id, component_id)
) WITHOUT ROWID;
