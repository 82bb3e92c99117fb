"""Inventory sync, step by step: read what changed, diff in pandas, write differences.

The hub's `available` at its warehouse location is the truth, read once per cycle for
every retailer (`refresh_hub`, the `hub_inventory` asset). Per retailer:

1. `read_retailer_inventory` lands the retailer's levels at its hub location only:
   what changed since the last read (with an overlap for search lag), or everything
   when the full reconciliation is due (hourly by default, or asked for). It first
   makes sure the hub snapshot is fresh, so one retailer's run from the UI never diffs
   against an old hub.
2. `push_inventory` pairs SKUs exactly once (`sync.inventory`), computes each target
   `max(0, hub − safety − pending)` with pending demand of every retailer, writes only
   the differences through `BatchWriter`, and after a full read records the drift it
   corrected (FAULTS I7).

If a store's `updatedAt` is seen not to move on quantity changes (our own applied
writes missing from the next delta read), its deltas are blind: every later cycle
reads it in full, and the log says so (FACTS §10.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg

from flows.inventory_reads import re_read_items, read_all_items, read_changed_levels
from flows.inventory_writes import BatchWriter
from flows.orders import land_orders_updated_since
from flows.steps import RetailerStep, StepReport
from resources.email_templates import OrderIssue
from resources.ledgers import inventory as ledger
from resources.ledgers.locks import store_lock
from resources.ledgers.states import InventoryPushState as State
from resources.registry import InventorySettings, Registry
from resources.shopify import ShopifyClient
from sync.inventory import (
    ATTENTION,
    Pairing,
    SafetyStock,
    drift_report,
    fix_for,
    levels_frame,
    oversell_exposure,
    pair_skus,
    updated_at_moves,
    with_targets,
    writes_needed,
)
from sync.sku_matching import LOOSE, HubSkus, fold_units

HUB = "hub"
#: A hub snapshot younger than this serves a retailer run without a new read (the cycle
#: is 5 minutes; the hub step of the same run read it seconds ago).
HUB_FRESH_FOR = timedelta(minutes=4)
#: On a retailer's first inventory cycle, orders updated this far back are landed.
FIRST_SALES_LOOKBACK = timedelta(hours=1)
#: Our writes this long before a delta read must be visible to it (search lag margin).
PROBE_MARGIN = timedelta(seconds=30)


@dataclass
class StoreRead:
    levels: list[ledger.Level]
    full: bool
    started: datetime
    since: datetime | None  # lower bound of a delta read
    previous: ledger.ReadState  # the store's read state before this read


def read_store(
    client: ShopifyClient,
    conn: psycopg.Connection,
    store: str,
    location_id: str,
    settings: InventorySettings,
    *,
    full: bool,
    now: datetime,
    size: int,
    state: ledger.ReadState | None = None,
) -> StoreRead:
    """One read of a store's levels at a location: delta, or full when asked or due."""
    state = state or ledger.read_state(conn, store, location_id)
    every = timedelta(minutes=settings.full_reconciliation_minutes)
    full = full or state.delta_from is None or state.full_due(now, every)
    started = datetime.now(UTC)
    if full:
        bulk = size > settings.bulk_threshold
        levels = read_all_items(client, location_id, bulk=bulk)
        return StoreRead(levels, True, started, None, state)
    since = state.delta_from - timedelta(seconds=settings.delta_overlap_seconds)
    levels = read_changed_levels(client, location_id, since)
    return StoreRead(levels, False, started, since, state)


def refresh_hub(
    hub: ShopifyClient,
    conn: psycopg.Connection,
    registry: Registry,
    *,
    full: bool = False,
    now: datetime,
    fresh_for: timedelta = timedelta(0),
) -> StepReport:
    """Land the hub's levels at its warehouse (the snapshot every retailer diffs against),
    unless one younger than `fresh_for` is there. Serialised across runs."""
    location = registry.hub.location_id
    with store_lock(conn, "inventory-read:hub"):
        state = ledger.read_state(conn, HUB, location)
        if _fresh(state, now - fresh_for, full):
            return StepReport(counts={"hub_levels_read": 0, "hub_full_read": 0})
        read = read_store(hub, conn, HUB, location, registry.inventory, full=full, now=now,
                          size=ledger.landed_count(conn, None), state=state)  # fmt: skip
        stocked = [lv for lv in read.levels if lv.stocked]
        ledger.land_hub_levels(conn, stocked, read.started, full=read.full)
        ledger.record_read(conn, HUB, location, read.started, full=read.full)
    return StepReport(counts={"hub_levels_read": len(stocked), "hub_full_read": int(read.full)})


def _fresh(state: ledger.ReadState, after: datetime, full: bool) -> bool:
    newest = state.last_full_at if full else state.last_read_at
    return newest is not None and newest >= after


def read_retailer_inventory(step: RetailerStep) -> StepReport:
    """Land the retailer's levels at its hub location (delta, or full when due)."""
    registry, conn = step.settings, step.conn
    full = step.options.full_reconciliation
    hub = refresh_hub(step.hub, conn, registry, full=full, now=step.now, fresh_for=HUB_FRESH_FOR)
    location = step.retailer.hub_location_id
    with store_lock(conn, f"inventory-read:{step.key}"):
        read = read_store(step.client, conn, step.key, location, registry.inventory,
                          full=full, now=step.now,
                          size=ledger.landed_count(conn, step.key))  # fmt: skip
        ledger.land_retailer_levels(conn, step.key, location, read.levels, read.started,
                                    full=read.full)  # fmt: skip
        ledger.record_read(conn, step.key, location, read.started, full=read.full)
        pending = [] if read.full else _probe(step, read)
    sales = _land_recent_sales(step, read)
    counts = {
        **hub.counts,
        "levels_read": len(read.levels),
        "full_read": int(read.full),
        "not_stocked_items": sum(1 for lv in read.levels if not lv.stocked),
        "orders_landed": sales.read if sales else 0,
    }
    return StepReport(counts=counts, pending=pending, issues=sales.report().issues if sales else [])


def _land_recent_sales(step: RetailerStep, read: StoreRead):
    """Land the retailer's orders updated since its previous inventory read, so a sale
    counts as pending demand at every retailer within this cycle (FAULTS I10)."""
    if not step.retailer.flows.orders:
        return None
    overlap = timedelta(seconds=step.settings.inventory.delta_overlap_seconds)
    last = read.previous.last_read_at
    since = last - overlap if last else step.now - FIRST_SALES_LOOKBACK
    return land_orders_updated_since(step, since)


def _probe(step: RetailerStep, read: StoreRead) -> list[str]:
    """Judge from our own applied writes whether this store's delta reads see changes."""
    location = step.retailer.hub_location_id
    probe = ledger.applied_items_between(
        step.conn, step.key, read.since, read.started - PROBE_MARGIN
    )
    moves = updated_at_moves(probe, {lv.item_id for lv in read.levels})
    if moves is None:
        return []
    ledger.record_updated_at_moves(step.conn, step.key, location, moves)
    if moves:
        return []
    return [
        f"retailer '{step.key}': InventoryLevel.updatedAt did not move on {len(probe)} "
        "quantity changes we made, so delta reads would miss changes; every cycle now "
        "reads this store in full (FACTS §10.2)"
    ]


@dataclass
class InventoryPlan:
    """What one retailer should show, from the landed snapshots."""

    pairing: Pairing
    targets: pd.DataFrame  # pairs + safety, pending, target
    retailer: pd.DataFrame  # the landed retailer rows
    hub: pd.DataFrame  # the landed hub rows

    @property
    def allowed(self) -> set[str]:
        """Items a write may target: read at the hub location, stocked and active."""
        rows = self.retailer
        return set(rows.loc[rows["stocked"] & rows["active"], "item_id"])


def plan_inventory(step: RetailerStep) -> InventoryPlan:
    """Pair the landed hub and retailer levels and compute every target."""
    conn, registry, retailer = step.conn, step.settings, step.retailer
    hub, pending = _shared(step, "inventory:hub", lambda: _hub_and_pending(conn, registry))
    rows = ledger.retailer_levels(conn, step.key, retailer.hub_location_id)
    stocked = rows[rows["stocked"]]
    pairing = pair_skus(
        levels_frame(hub[["item_id", "sku", "available"]].to_dict("records")),
        levels_frame(
            stocked[["item_id", "sku", "available", "active"]].to_dict("records"),
            with_active=True,
        ),
        not_stocked=set(rows.loc[~rows["stocked"], "sku"].dropna()),
        sku_matching=retailer.sku_matching,
    )
    safety = SafetyStock(retailer.safety_stock, retailer.safety_stock_overrides)
    targets = with_targets(pairing.pairs, pending, safety)
    return InventoryPlan(pairing=pairing, targets=targets, retailer=rows, hub=hub)


def _shared(step: RetailerStep, name: str, read):
    """One read for every retailer of the run's phase when the runner shares them."""
    return step.shared.once(name, read) if step.shared is not None else read()


def _hub_and_pending(conn: psycopg.Connection, registry: Registry):
    """The hub snapshot and every retailer's pending demand as of it, per hub SKU.

    Demand is landed under each retailer's SKU verbatim; a SKU that differs from one hub
    SKU only by whitespace or letter case is counted against that hub SKU whatever the
    retailer's `sku_matching` (O11): such an order is quarantined or imported as that SKU,
    and under-counting demand oversells while over-counting only shows less for a while.
    One mapping for all retailers, because the demand is summed across them."""
    hub_state = ledger.read_state(conn, HUB, registry.hub.location_id)
    overlap = timedelta(seconds=registry.inventory.delta_overlap_seconds)
    pending = ledger.pending_units(
        conn,
        include_unpaid=registry.inventory.pending_includes_unpaid,
        hub_as_of=hub_state.last_read_at - overlap if hub_state.last_read_at else None,
    )
    hub = ledger.hub_levels(conn)
    return hub, fold_units(pending, HubSkus(hub["sku"].dropna()), LOOSE)


def push_inventory(step: RetailerStep) -> StepReport:
    """Write every difference between the retailer and its target, exactly once."""
    conn = step.conn
    with store_lock(conn, f"inventory-push:{step.key}"):
        settle_open_claims(step)
        plan = plan_inventory(step)
        writes = writes_needed(plan.targets)
        drift = _drift(step, plan, writes)
        ledger.replace_mismatches(conn, step.key, plan.pairing.mismatches)
        tally = BatchWriter(step, plan.allowed, step.settings.inventory.batch_size).write(writes)
    mismatch_counts = plan.pairing.counts()
    counts = {
        "skus_compared": len(plan.targets),
        "writes_needed": len(writes),
        **tally.counts(),
        "drift_corrected": len(drift),
        "pending_units": int(plan.targets["pending"].sum()) if len(plan.targets) else 0,
        "oversell_exposure_before": int(oversell_exposure(plan.targets)["exposure"].sum()),
        "mismatches_needing_attention": plan.pairing.attention(),
        "sku_normalised_pairs": len(plan.pairing.normalised),
        **{f"mismatch_{kind}": n for kind, n in mismatch_counts.items()},
    }
    issues = _issues(step, plan.pairing, tally)
    return StepReport(counts=counts, issues=issues, pending=tally.left)


def _drift(step: RetailerStep, plan: InventoryPlan, writes: pd.DataFrame) -> pd.DataFrame:
    """After a full read of the retailer: the SKUs it found off target, and why."""
    state = ledger.read_state(step.conn, step.key, step.retailer.hub_location_id)
    if state.last_full_at is None or state.last_full_at < step.now:
        return writes.iloc[0:0]
    drift = drift_report(writes, _known(plan.retailer), _known(plan.hub))
    ledger.record_drift(step.conn, step.key, step.run_id, drift)
    return drift


def _known(rows: pd.DataFrame) -> dict[str, int]:
    known = rows.dropna(subset=["known_available"])
    return dict(zip(known["item_id"], known["known_available"].astype(int), strict=True))


def settle_open_claims(step: RetailerStep) -> None:
    """Writes an earlier attempt claimed and never settled (a crash, a lost response):
    applied if the store has their value, else superseded (this run re-plans them)."""
    claims = ledger.open_claims(step.conn, step.key)
    if not claims:
        return
    location = step.retailer.hub_location_id
    current = re_read_items(step.client, location, [item for _, item, _ in claims])
    applied, superseded = [], []
    for key, item, to_qty in claims:
        level = current.get(item)
        found = level.available if level is not None and level.stocked else None
        (applied if found == to_qty else superseded).append((key, item, to_qty))
    ledger.settle(step.conn, [k for k, _, _ in applied], State.APPLIED, "found applied later")
    ledger.settle(step.conn, [k for k, _, _ in superseded], State.SUPERSEDED,
                  "claimed by an interrupted attempt and not applied")  # fmt: skip
    ledger.set_retailer_available(
        step.conn, step.key, [(i, lv.available) for i, lv in current.items() if lv.stocked]
    )


#: Mismatches whose detail already says exactly what differs and what to do (O11).
_EXPLAINED = frozenset({"sku_near_miss", "sku_normalised_ambiguous"})


def _issues(step: RetailerStep, pairing: Pairing, tally) -> list[OrderIssue]:
    """Mismatches a person should fix, and writes Shopify refused: alerted once each."""
    issues = [
        OrderIssue(
            f"inventory:{step.key}:{row.kind}:{row.sku}",
            step.key,
            f"SKU {row.sku}",
            row.kind,
            f"retailer '{step.key}', SKU {row.sku}: "
            + (f"{row.detail}" if row.kind in _EXPLAINED else fix_for(row.kind)),
        )
        for row in pairing.mismatches.itertuples()
        if row.kind in ATTENTION
    ]
    issues += [
        OrderIssue(f"inventory:{step.key}:refused:{sku}", step.key, f"SKU {sku}", "refused",
                   f"retailer '{step.key}', SKU {sku}: Shopify refused the write: {message}")
        for sku, message in tally.refused
    ]  # fmt: skip
    return issues
