-- Follow-ups of imported orders changed at the retailer (FAULTS O12-O14): one row per
-- retailer order and change (`change_key`: 'cancel', or 'edit:<digest of the target
-- quantities>', so a second edit is a new follow-up and a retry is the same one). The row
-- is written before each Shopify write; every retry re-reads the hub order first, so the
-- row says how far it got and what to tell, the hub says what is left to do.
--   holding -> cancelling -> cancelled        (cancel before the hub shipped)
--   holding -> held_for_review                (cancel after part shipped; an edit that
--                                              cannot be mirrored)
--   editing -> edited                         (edit before the hub shipped)
--   failed                                    (Shopify refused a step: a person decides)
CREATE TABLE shopsync.order_follow_ups (
    retailer            text NOT NULL,
    retailer_order_gid  text NOT NULL,
    change_key          text NOT NULL,
    action              text NOT NULL CHECK (action IN ('cancel', 'hold_for_review', 'edit')),
    state               text NOT NULL CHECK (state IN ('holding', 'cancelling', 'cancelled',
                            'editing', 'edited', 'held_for_review', 'failed')),
    hub_order_gid       text NOT NULL,
    retailer_order_name text NOT NULL,
    detail              text NOT NULL,
    target              jsonb,
    job_id              text,
    -- a write whose response was lost: not resent until the hub is re-read after this
    ambiguous_at        timestamptz,
    attempts            integer NOT NULL DEFAULT 0,
    last_error          text,
    run_id              text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    done_at             timestamptz,
    PRIMARY KEY (retailer, retailer_order_gid, change_key)
);
CREATE INDEX order_follow_ups_open ON shopsync.order_follow_ups (retailer, state)
    WHERE done_at IS NULL;
