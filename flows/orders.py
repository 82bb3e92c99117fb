"""Order import, step one: read a retailer's orders for the run's windows, classify, land.

`land_retailer_orders` takes one `RetailerStep`, so tests can drive it directly; the
`retailer_orders` asset in `assets/orders.py` runs it per retailer. Step two, creating
the hub orders exactly once, is `flows/order_creation.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flows.steps import RetailerStep, StepReport
from resources.email_templates import OrderIssue
from resources.ledgers import orders as ledger
from resources.ledgers.follow_ups import hub_cancels_carried
from resources.ledgers.locks import store_lock
from resources.registry import RetailerConfig
from resources.shopify import ShopifyClient
from sync.follow_ups import complete_order
from sync.models import RetailerOrder
from sync.order_changes import detect_post_import_changes, return_opened
from sync.orders import Classification, classify_order, hub_lines
from sync.sku_matching import lookup_candidates
from sync.windows import lookback_window, window_query


@dataclass
class LandingStats:
    read: int = 0
    sku_normalised: int = 0  # lines of newly eligible orders matched by normalisation (O11)
    by_status: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    quarantined: list[OrderIssue] = field(default_factory=list)  # for the alert digest
    flagged: list[OrderIssue] = field(default_factory=list)  # post-import changes, new only

    def report(self) -> StepReport:
        counts = {"orders_read": self.read, "quarantined": len(self.quarantined),
                  "flagged_after_import": len(self.flagged),
                  "sku_normalised_matches": self.sku_normalised}  # fmt: skip
        counts.update({f"status_{k}": v for k, v in sorted(self.by_status.items())})
        counts.update({f"reason_{k}": v for k, v in sorted(self.by_reason.items())})
        # Flags are told by the follow-up step, with what it did about them: one alert each.
        return StepReport(counts=counts, issues=self.quarantined)


def read_window_orders(
    client: ShopifyClient, windows: list[tuple[datetime, datetime]], lookback_hours: int
) -> list[dict[str, Any]]:
    """Every order updated in the windows (widened by the lookback), complete, by GID."""
    found: dict[str, dict[str, Any]] = {}
    for start, end in windows:
        since, until = lookback_window(start, end, lookback_hours)
        pages = client.paginate(
            "orders_updated_in_window", {"query": window_query(since, until)}, ("orders",)
        )
        for node in pages:
            found[node["id"]] = complete_order(node, client.execute)
    return list(found.values())


def hub_variants_for(hub: ShopifyClient, orders: list[RetailerOrder], location: str) -> dict:
    """One batched SKU look-up at the hub for every SKU the hub would ship; a second one,
    only for SKUs not found exactly, for their trimmed and re-cased forms, so a near miss
    is matched (when the retailer opted in) or reported exactly (O11)."""
    skus = sorted(
        {
            line.sku
            for order in orders
            for fo in order.fulfillment_orders_at(location)
            for line in fo.lines
            if line.sku
        }
    )
    return lookup_hub_variants(hub, skus)


def lookup_hub_variants(hub: ShopifyClient, skus: list[str]) -> dict:
    """Hub SKU -> variants for `skus`, exactly, plus the trimmed and re-cased forms of those
    not found exactly (the matching policy then decides whether one of them matches)."""
    if not skus:
        return {}
    found = hub.variants_by_sku(skus)
    missing = [sku for sku in skus if not found.get(sku)]
    others = [form for form in lookup_candidates(missing) if form not in found]
    if others:
        found.update(hub.variants_by_sku(others))
    return found


def classify(
    order: RetailerOrder,
    retailer: RetailerConfig,
    variants: dict,
    now: datetime,
    hold_window: timedelta,
) -> Classification:
    return classify_order(
        order,
        hub_location_id=retailer.hub_location_id,
        hub_variants_by_sku=variants,
        now=now,
        hold_window=hold_window,
        retailer=retailer.key,
        sku_matching=retailer.sku_matching,
    )


def land_retailer_orders(step: RetailerStep) -> StepReport:
    """Read, classify and land a retailer's orders; flag imported ones that changed since."""
    return landing_stats(step).report()


def landing_stats(step: RetailerStep) -> LandingStats:
    """`land_retailer_orders` with the detailed statistics (tests read them)."""
    raw = read_window_orders(step.client, step.windows, step.retailer.lookback_hours.orders)
    return _land(step, raw)


def land_orders_updated_since(step: RetailerStep, since: datetime) -> LandingStats:
    """Land the retailer's orders updated since `since`, without lookback: the inventory
    cycle does this every 5 minutes so a sale counts as pending demand at every retailer
    before the next orders tick (FAULTS I10). Landing is idempotent and classifies the
    same way; importing stays the orders flow's."""
    return _land(step, read_window_orders(step.client, [(since, step.now + SALE_MARGIN)], 0))


#: Orders updated up to this far after the run started are read too (clock skew).
SALE_MARGIN = timedelta(minutes=5)


def _land(step: RetailerStep, raw_orders: list[dict]) -> LandingStats:
    retailer = step.retailer
    orders = [RetailerOrder.from_graphql(raw) for raw in raw_orders]
    variants = hub_variants_for(step.hub, orders, retailer.hub_location_id)
    # Overlapping runs read from Shopify in parallel but write one at a time (no deadlock
    # between two upserts of the same rows in different orders).
    with store_lock(step.conn, f"import:{retailer.key}"):
        return _classify_and_land(step, raw_orders, orders, variants)


def _classify_and_land(step: RetailerStep, raw_orders, orders, variants) -> LandingStats:
    conn, retailer = step.conn, step.retailer
    snapshots = ledger.import_snapshots(conn, retailer.key, [o.id for o in orders])
    # Orders we cancel or edit at the retailer because the hub cancelled them (O15): that
    # cancel or edit is ours, not one to flag (a return there still is).
    ours = hub_cancels_carried(conn, retailer.key, list(snapshots)) if snapshots else set()
    stats, landed = LandingStats(read=len(orders)), []
    for raw, order in zip(raw_orders, orders, strict=True):
        if order.id in snapshots:
            status, reason, message = "eligible", "imported", None
            _flag_changes(conn, retailer, order, snapshots[order.id], stats, ours=order.id in ours)
        else:
            c = classify(order, retailer, variants, step.now, step.hold_window)
            status, reason, message = str(c.status), str(c.reason), c.message
            stats.sku_normalised += len(c.normalised)
            if status == "quarantined":
                key = f"quarantined:order:{retailer.key}:{order.id}:{reason}"
                stats.quarantined.append(OrderIssue(key, retailer.key, order.name, reason, message))
        stats.by_status[status] = stats.by_status.get(status, 0) + 1
        stats.by_reason[reason] = stats.by_reason.get(reason, 0) + 1
        landed.append(_landed(retailer, raw, order, status, reason, message))
    ledger.land_orders(conn, landed, step.run_id)
    return stats


def _flag_changes(
    conn, retailer: RetailerConfig, order: RetailerOrder, snapshot, stats, ours: bool
) -> None:
    """Flag, once each, the retailer's own cancel or edit since import (none when `ours`:
    we made it, carrying a hub cancel back) and a return opened there since."""
    before = RetailerOrder.from_graphql(snapshot)
    changes = (
        [] if ours
        else detect_post_import_changes(order, before, hub_location_id=retailer.hub_location_id)
    )  # fmt: skip
    flags = [("cancelled_after_import" if c.kind == "cancelled" else "edited_after_import",
              c.message) for c in changes]  # fmt: skip
    returned = return_opened(order, before)
    if returned:
        flags.append(("returned_after_import", returned))
    for kind, message in flags:
        detail = f"retailer '{retailer.key}': {message}"
        if ledger.flag_order(conn, retailer.key, order.id, kind, detail):
            key = f"{kind}:order:{retailer.key}:{order.id}"
            stats.flagged.append(OrderIssue(key, retailer.key, order.name, kind, detail))


def _landed(
    retailer: RetailerConfig, raw, order: RetailerOrder, status, reason, message
) -> ledger.LandedOrder:
    """The row to land; a line's hub quantity is what remains on live FOs at the hub location."""
    lines = []
    hub_qty = {hl.line_item_id: hl.quantity for hl in hub_lines(order, retailer.hub_location_id)}
    raw_lines = {n["id"]: n for n in (raw.get("lineItems") or {}).get("nodes", [])}
    for line in order.lines:
        lines.append(
            (line.id, line.sku, line.quantity, hub_qty.get(line.id, 0), raw_lines.get(line.id, {}))
        )
    return ledger.LandedOrder(
        retailer=retailer.key,
        order_gid=order.id,
        name=order.name,
        created_at=order.created_at,
        updated_at=order.updated_at,
        cancelled_at=order.cancelled_at,
        financial_status=order.financial_status,
        status=status,
        reason=reason,
        message=message,
        raw=raw,
        lines=lines,
    )
