-- Order import and fulfillment push: landed Shopify records and the
-- exactly-once ledgers (a row is claimed BEFORE the Shopify mutation).

-- Retailer orders as last read (raw JSON kept), with their classification.
CREATE TABLE shopsync.retailer_orders (
    retailer        text NOT NULL,
    order_gid       text NOT NULL,
    name            text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    cancelled_at    timestamptz,
    financial_status text,
    status          text NOT NULL CHECK (status IN ('eligible', 'waiting', 'quarantined', 'ignored')),
    reason          text,
    message         text,
    raw             jsonb NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_run_id     text,
    PRIMARY KEY (retailer, order_gid)
);
CREATE INDEX retailer_orders_updated ON shopsync.retailer_orders (retailer, updated_at);
CREATE INDEX retailer_orders_status ON shopsync.retailer_orders (retailer, status);

-- Their lines; hub_quantity = remaining quantity on fulfillment orders at the hub location.
CREATE TABLE shopsync.retailer_order_lines (
    retailer        text NOT NULL,
    order_gid       text NOT NULL,
    line_gid        text NOT NULL,
    sku             text,
    quantity        integer NOT NULL,
    hub_quantity    integer NOT NULL,
    raw             jsonb NOT NULL,
    PRIMARY KEY (retailer, order_gid, line_gid),
    FOREIGN KEY (retailer, order_gid) REFERENCES shopsync.retailer_orders ON DELETE CASCADE
);

-- Retailer order -> hub order. claimed -> created -> confirmed (retailer tagged),
-- or failed (Shopify refused the order: a user error, alerted, not retried blindly).
CREATE TABLE shopsync.order_links (
    retailer            text NOT NULL,
    retailer_order_gid  text NOT NULL,
    source_key          text NOT NULL UNIQUE,
    state               text NOT NULL CHECK (state IN ('claimed', 'created', 'confirmed', 'failed')),
    hub_order_gid       text UNIQUE,
    hub_order_name      text,
    hub_lines           jsonb,
    -- the retailer order as it was imported, to detect later cancels and edits (O8, O9)
    source_snapshot     jsonb,
    claimed_at          timestamptz NOT NULL DEFAULT now(),
    claim_run_id        text,
    created_at          timestamptz,
    confirmed_at        timestamptz,
    attempts            integer NOT NULL DEFAULT 0,
    last_error          text,
    PRIMARY KEY (retailer, retailer_order_gid)
);
CREATE INDEX order_links_state ON shopsync.order_links (retailer, state);

-- Hub fulfillments of linked orders, as last read.
CREATE TABLE shopsync.hub_fulfillments (
    hub_fulfillment_gid text PRIMARY KEY,
    hub_order_gid       text NOT NULL,
    retailer            text NOT NULL,
    retailer_order_gid  text NOT NULL,
    status              text NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    tracking            jsonb NOT NULL,
    lines               jsonb NOT NULL,
    raw                 jsonb NOT NULL,
    last_seen_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hub_fulfillments_retailer ON shopsync.hub_fulfillments (retailer, updated_at);

-- Hub fulfillment -> retailer fulfillment. claimed -> created, or terminal with a reason.
CREATE TABLE shopsync.fulfillment_links (
    hub_fulfillment_gid      text PRIMARY KEY,
    retailer                 text NOT NULL,
    retailer_order_gid       text NOT NULL,
    state                    text NOT NULL CHECK (state IN ('claimed', 'created', 'terminal')),
    retailer_fulfillment_gid text UNIQUE,
    tracking                 jsonb,
    lines                    jsonb,
    terminal_reason          text,
    message                  text,
    claimed_at               timestamptz NOT NULL DEFAULT now(),
    claim_run_id             text,
    created_at               timestamptz,
    tracking_updated_at      timestamptz,
    attempts                 integer NOT NULL DEFAULT 0,
    last_error               text
);
CREATE INDEX fulfillment_links_retailer ON shopsync.fulfillment_links (retailer, state);

-- Retailer orders changed after import (cancelled, edited): flagged once, alerted once.
CREATE TABLE shopsync.order_flags (
    retailer            text NOT NULL,
    retailer_order_gid  text NOT NULL,
    kind                text NOT NULL,
    detail              text NOT NULL,
    flagged_at          timestamptz NOT NULL DEFAULT now(),
    resolved_at         timestamptz,
    PRIMARY KEY (retailer, retailer_order_gid, kind)
);
