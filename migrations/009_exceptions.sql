-- Exceptions an operator handled outside shopsync (a hub order cancelled by hand after the
-- retailer cancelled, a shipment's tracking entered at the retailer by hand): the exception
-- queue no longer lists them. Keys are the queue's item keys (sync/exceptions.py); a
-- quarantine's key names its reason, so the same order quarantined for a new reason shows
-- again. Escalations are claims in shopsync.email_alerted (`escalated:<item key>`).
CREATE TABLE shopsync.exception_resolutions (
    item_key     text PRIMARY KEY,
    kind         text NOT NULL,
    retailer     text NOT NULL,
    resolved_at  timestamptz NOT NULL DEFAULT now(),
    run_id       text,
    note         text NOT NULL DEFAULT ''
);
CREATE INDEX exception_resolutions_retailer ON shopsync.exception_resolutions (retailer, resolved_at);
