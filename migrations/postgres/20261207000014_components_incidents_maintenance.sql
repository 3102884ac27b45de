-- Components of the service, incidents that affect them and announced maintenance windows. A component's status is
-- not stored: it follows from the incidents open at the time (their impacts) and the maintenance windows, so the
-- impact rows are the components' status history, and availability is computed from them.

CREATE TABLE status_components (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT        NOT NULL UNIQUE,
    description TEXT        NOT NULL DEFAULT '',
    position    INTEGER     NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE incidents (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       TEXT        NOT NULL,
    status      TEXT        NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    opened_at   TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ,
    opened_by   BIGINT      NOT NULL REFERENCES users (id),
    version     BIGINT      NOT NULL DEFAULT 1,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX incidents_open ON incidents (opened_at) WHERE resolved_at IS NULL;
CREATE INDEX incidents_resolved ON incidents (resolved_at);

-- What an incident does to a component from `from_at` on (until the incident is resolved or a later row for the
-- same pair); 'operational' takes the component out of the incident.
CREATE TABLE incident_impacts (
    incident_id  BIGINT      NOT NULL REFERENCES incidents (id),
    component_id BIGINT      NOT NULL REFERENCES status_components (id),
    from_at      TIMESTAMPTZ NOT NULL,
    impact       TEXT        NOT NULL CHECK (impact IN ('operational', 'degraded', 'partial_outage', 'major_outage')),
    PRIMARY KEY (incident_id, component_id, from_at)
);
CREATE INDEX incident_impacts_component ON incident_impacts (component_id, from_at);

-- The timestamped messages of an incident, each with the status it moved to.
CREATE TABLE incident_updates (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT      NOT NULL REFERENCES incidents (id),
    status      TEXT        NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    message     TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  BIGINT      NOT NULL REFERENCES users (id)
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);

CREATE TABLE maintenance_windows (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title        TEXT        NOT NULL,
    description  TEXT        NOT NULL,
    starts_at    TIMESTAMPTZ NOT NULL,
    ends_at      TIMESTAMPTZ NOT NULL CHECK (ends_at > starts_at),
    created_by   BIGINT      NOT NULL REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL,
    cancelled_at TIMESTAMPTZ
);
CREATE INDEX maintenance_windows_ends ON maintenance_windows (ends_at);

CREATE TABLE maintenance_components (
    window_id    BIGINT NOT NULL REFERENCES maintenance_windows (id),
    component_id BIGINT NOT NULL REFERENCES status_components (id),
    PRIMARY KEY (window_id, component_id)
);

-- Every Berth process LISTENs on this channel and reloads the status page when the revision moves.
CREATE FUNCTION status_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_status', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER status_notify AFTER INSERT OR UPDATE OF revision ON status_meta
    FOR EACH STATEMENT EXECUTE FUNCTION status_notify();
