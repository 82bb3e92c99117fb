-- Inventory sync: the hub's and each retailer's levels as last read, when each store was
-- last read (the delta watermark), the exactly-once ledger of writes, what is not synced
-- and why, and the drift each full reconciliation corrected.

-- The hub's levels at its warehouse location: one snapshot shared by every retailer.
-- `known_available` is the value before the latest read changed it (for the drift report).
CREATE TABLE shopsync.hub_inventory (
    item_id          text PRIMARY KEY,
    sku              text,
    available        integer NOT NULL,
    known_available  integer,
    updated_at       timestamptz,
    read_at          timestamptz NOT NULL
);
CREATE INDEX hub_inventory_sku ON shopsync.hub_inventory (sku);

-- Each retailer's items at its hub location only (other locations are never read for
-- writing). `stocked` false: the retailer sells the SKU but has no level at the hub
-- location (known from a full read); `active` false: a deactivated level (2026-04+).
CREATE TABLE shopsync.retailer_inventory (
    retailer         text NOT NULL,
    item_id          text NOT NULL,
    location_id      text NOT NULL,
    sku              text,
    stocked          boolean NOT NULL DEFAULT true,
    active           boolean NOT NULL DEFAULT true,
    available        integer,
    known_available  integer,
    updated_at       timestamptz,
    read_at          timestamptz NOT NULL,
    PRIMARY KEY (retailer, item_id)
);

-- When each store's levels at a location were last read, by delta and in full; the next
-- delta reads from `delta_from`. `updated_at_moves` false: the store's updatedAt was seen
-- not to move on quantity changes, so every cycle reads in full (FACTS §10.2).
CREATE TABLE shopsync.inventory_reads (
    store            text NOT NULL,
    location_id      text NOT NULL,
    delta_from       timestamptz,
    last_read_at     timestamptz,
    last_full_at     timestamptz,
    updated_at_moves boolean,
    PRIMARY KEY (store, location_id)
);

-- One row per entry of an inventorySetQuantities call, claimed (committed) before the
-- call. `batch_key` is the call's @idempotent key, reused by every retry of that call.
-- applied: the store has `to_qty`; stale: the compare failed twice (a sale in between),
-- reported; refused: a user error other than stale; superseded: an open claim found not
-- applied by a later run (which re-plans from fresh reads).
CREATE TABLE shopsync.inventory_pushes (
    entry_key    text PRIMARY KEY,
    batch_key    text NOT NULL,
    retailer     text NOT NULL,
    item_id      text NOT NULL,
    location_id  text NOT NULL,
    sku          text,
    from_qty     integer,
    to_qty       integer NOT NULL,
    run_id       text,
    state        text NOT NULL CHECK (state IN ('claimed', 'applied', 'stale', 'refused', 'superseded')),
    reason       text,
    attempts     integer NOT NULL DEFAULT 0,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    settled_at   timestamptz
);
CREATE INDEX inventory_pushes_retailer ON shopsync.inventory_pushes (retailer, state, claimed_at);
CREATE INDEX inventory_pushes_run ON shopsync.inventory_pushes (run_id, retailer);

-- SKUs not synced for a retailer and why (replaced on every cycle).
CREATE TABLE shopsync.inventory_mismatches (
    retailer    text NOT NULL,
    sku         text NOT NULL,
    kind        text NOT NULL,
    detail      text NOT NULL DEFAULT '',
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (retailer, sku, kind)
);

-- What each full reconciliation found off target and corrected (FAULTS I7).
CREATE TABLE shopsync.inventory_drift (
    retailer    text NOT NULL,
    run_id      text,
    sku         text NOT NULL,
    item_id     text NOT NULL,
    known       integer,
    found       integer NOT NULL,
    target      integer NOT NULL,
    cause       text NOT NULL,
    found_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_drift_retailer ON shopsync.inventory_drift (retailer, found_at);
