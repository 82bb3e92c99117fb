-- Email outbox: every alert is a row first, delivered later by a sensor, so an
-- email provider outage never fails a sync run (FAULTS A1).

CREATE TABLE shopsync.email_outbox (
    id                  bigserial PRIMARY KEY,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- "alerted once": the same key is queued at most once; a time bucket in the
    -- key rate-limits a family of alerts (P5: one auth alert per store per hour).
    dedupe_key          text NOT NULL UNIQUE,
    kind                text NOT NULL,
    recipients          text[] NOT NULL CHECK (cardinality(recipients) > 0),
    sender              text NOT NULL,
    -- No CR/LF: a subject can never start another header.
    subject             text NOT NULL CHECK (subject !~ '[\r\n]'),
    html                text NOT NULL,
    text                text NOT NULL,
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'sent', 'failed')),
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_error          text,  -- redacted: never holds a key or token
    sent_at             timestamptz,
    provider_message_id text
);
CREATE INDEX email_outbox_due ON shopsync.email_outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX email_outbox_kind ON shopsync.email_outbox (kind, created_at);

-- Items (a terminal fulfillment, a quarantined order) already included in a
-- digest: each is alerted once even when digests group them differently.
CREATE TABLE shopsync.email_alerted (
    alert_key   text PRIMARY KEY,
    outbox_id   bigint REFERENCES shopsync.email_outbox (id) ON DELETE SET NULL,
    alerted_at  timestamptz NOT NULL DEFAULT now()
);
