-- Telling people about incidents and maintenance: each change is an event row, written in the transaction of the
-- change with a job that fans it out to confirmed e-mail subscribers (through the outbox, in batches) and to the
-- registered webhooks (one delivery job each, retried with backoff, every attempt logged).

ALTER TABLE outbox ADD COLUMN list_unsubscribe TEXT;

CREATE TABLE status_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL CHECK (kind IN ('incident.opened', 'incident.updated', 'incident.resolved',
                                                   'maintenance.scheduled', 'maintenance.cancelled')),
    subject_id    INTEGER NOT NULL,
    status        TEXT,
    message       TEXT    NOT NULL,
    component_ids TEXT    NOT NULL DEFAULT '',  -- comma-separated
    created_at    TEXT    NOT NULL
);

-- A subscriber: confirmed once the link in the first message is followed; `components` narrows what they hear of
-- (comma-separated ids; empty: everything). The token is in every message's unsubscribe link.
CREATE TABLE status_subscribers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL UNIQUE,
    token           TEXT    NOT NULL UNIQUE,
    components      TEXT    NOT NULL DEFAULT '',
    confirm_sent_at TEXT,
    confirmed_at    TEXT,
    unsubscribed_at TEXT,
    created_at      TEXT    NOT NULL
);

-- Which subscriber was mailed about which event: a fan-out run again after a crash skips them.
CREATE TABLE status_event_mails (
    event_id      INTEGER NOT NULL REFERENCES status_events (id),
    subscriber_id INTEGER NOT NULL REFERENCES status_subscribers (id),
    PRIMARY KEY (event_id, subscriber_id)
);

CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    url         TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_by  INTEGER REFERENCES users (id),
    created_at  TEXT    NOT NULL,
    removed_at  TEXT
);

CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id   INTEGER NOT NULL REFERENCES webhooks (id),
    event_id     INTEGER NOT NULL REFERENCES status_events (id),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_status  INTEGER,
    last_error   TEXT,
    delivered_at TEXT,
    created_at   TEXT    NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id),
    at          TEXT    NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
