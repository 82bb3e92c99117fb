-- The outbox's alert policy (sync/alert_policy.py, applied by resources/email.py):
-- repeats of one alert key grouped on one email, quiet hours holding non-critical
-- mail until morning, critical mail at once; and inline images (charts) per email.

ALTER TABLE shopsync.email_outbox
    -- The kind of trouble (say `check:hub_orders:hub_orders_are_unique:epic-gardening`):
    -- repeats of it within the group window are counted on one email, not sent again.
    ADD COLUMN alert_key      text,
    -- Critical mail is never held for quiet hours nor grouped into another email.
    ADD COLUMN critical       boolean NOT NULL DEFAULT false,
    ADD COLUMN repeats        integer NOT NULL DEFAULT 0 CHECK (repeats >= 0),
    ADD COLUMN last_repeat_at timestamptz,
    -- Set when the email was queued inside quiet hours: next_attempt_at starts here.
    ADD COLUMN held_until     timestamptz,
    ADD CONSTRAINT email_outbox_repeat_time CHECK ((repeats = 0) = (last_repeat_at IS NULL));

-- The open group of an alert key is its newest email.
CREATE INDEX email_outbox_alert_group ON shopsync.email_outbox (alert_key, created_at DESC, id DESC)
    WHERE alert_key IS NOT NULL;

-- The dedupe key of each repeat counted on an email: "this exact event once" holds
-- for repeats too (a re-evaluated sensor tick is not a second repeat).
CREATE TABLE shopsync.email_outbox_repeats (
    dedupe_key  text PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES shopsync.email_outbox (id) ON DELETE CASCADE,
    repeated_at timestamptz NOT NULL
);
CREATE INDEX email_outbox_repeats_outbox ON shopsync.email_outbox_repeats (outbox_id);

-- Pictures shown inside an email's HTML part (`<img src="cid:{content_id}">`), sent
-- as inline attachments.
CREATE TABLE shopsync.email_outbox_images (
    outbox_id  bigint NOT NULL REFERENCES shopsync.email_outbox (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    content_id text NOT NULL CHECK (content_id ~ '^[A-Za-z0-9._-]+$'),
    filename   text NOT NULL CHECK (filename <> ''),
    mime_type  text NOT NULL,
    data       bytea NOT NULL,
    PRIMARY KEY (outbox_id, position),
    UNIQUE (outbox_id, content_id)
);
