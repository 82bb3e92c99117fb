"""Order import, step by step: read and classify, then create hub orders exactly once.

The Dagster assets in `assets/orders.py` are thin wrappers over the two entry
points here, `land_retailer_orders` and `create_hub_orders`, which take plain
clients and a connection so that tests can drive them (and kill them) directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from resources.email_templates import OrderIssue
from resources.ledgers import orders as ledger
from resources.registry import RetailerConfig
from resources.shopify import ShopifyAmbiguousWriteError, ShopifyClient, ShopifyTransientError
from sync.follow_ups import complete_order
from sync.models import RetailerOrder
from sync.order_changes import detect_post_import_changes
from sync.order_keys import find_existing_hub_order, imported_tags, source_key
from sync.order_payload import build_hub_order_input, order_create_variables
from sync.orders import DEFAULT_HOLD_WINDOW, Classification, classify_order, hub_lines
from sync.windows import lookback_window, window_query

log = logging.getLogger(__name__)

#: How far before a claim the index-free scan of newest hub orders looks.
RECONCILE_MARGIN = timedelta(minutes=10)
#: Attempts at creating one hub order within a run (each after a reconcile scan).
CREATE_ATTEMPTS = 3


@dataclass
class LandingStats:
    read: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    quarantined: list[OrderIssue] = field(default_factory=list)  # for the alert digest
    flagged: list[OrderIssue] = field(default_factory=list)  # post-import changes, new only


@dataclass
class CreationStats:
    created: int = 0
    healed: int = 0  # found already made after a crash or lost response
    confirmed: int = 0
    failed: list[OrderIssue] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # left claimed: next run reconciles


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
    """One batched SKU look-up at the hub for every SKU the hub would ship."""
    skus = {
        line.sku
        for order in orders
        for fo in order.fulfillment_orders_at(location)
        for line in fo.lines
        if line.sku
    }
    return hub.variants_by_sku(sorted(skus)) if skus else {}


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
    )


def land_retailer_orders(
    *,
    retailer: RetailerConfig,
    client: ShopifyClient,
    hub: ShopifyClient,
    conn: psycopg.Connection,
    windows: list[tuple[datetime, datetime]],
    now: datetime,
    run_id: str | None,
    hold_window: timedelta = DEFAULT_HOLD_WINDOW,
) -> LandingStats:
    """Read, classify and land a retailer's orders; flag imported ones that changed since."""
    raw_orders = read_window_orders(client, windows, retailer.lookback_hours.orders)
    orders = [RetailerOrder.from_graphql(raw) for raw in raw_orders]
    variants = hub_variants_for(hub, orders, retailer.hub_location_id)
    snapshots = ledger.import_snapshots(conn, retailer.key, [o.id for o in orders])
    stats, landed = LandingStats(read=len(orders)), []
    for raw, order in zip(raw_orders, orders, strict=True):
        if order.id in snapshots:
            status, reason, message = "eligible", "imported", None
            _flag_changes(conn, retailer, order, snapshots[order.id], stats)
        else:
            c = classify(order, retailer, variants, now, hold_window)
            status, reason, message = str(c.status), str(c.reason), c.message
            if status == "quarantined":
                key = f"quarantined:order:{retailer.key}:{order.id}:{reason}"
                stats.quarantined.append(OrderIssue(key, retailer.key, order.name, reason, message))
        stats.by_status[status] = stats.by_status.get(status, 0) + 1
        stats.by_reason[reason] = stats.by_reason.get(reason, 0) + 1
        landed.append(_landed(retailer, raw, order, status, reason, message))
    ledger.land_orders(conn, landed, run_id)
    return stats


def _flag_changes(conn, retailer: RetailerConfig, order: RetailerOrder, snapshot, stats) -> None:
    before = RetailerOrder.from_graphql(snapshot)
    changes = detect_post_import_changes(order, before, hub_location_id=retailer.hub_location_id)
    for change in changes:
        kind = "cancelled_after_import" if change.kind == "cancelled" else "edited_after_import"
        detail = f"retailer '{retailer.key}': {change.message}"
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


@contextmanager
def store_lock(conn: psycopg.Connection, store_key: str) -> Iterator[None]:
    """Serialise writers of one store across processes (FAULTS O3, P6).

    A session-level advisory lock on a dedicated connection: a schedule tick and a
    backfill of the same retailer queue behind each other instead of racing.
    """
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"shopsync-store:{store_key}",))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"shopsync-store:{store_key}",))


def recent_hub_orders(hub: ShopifyClient, since: datetime) -> list[dict[str, Any]]:
    """Hub orders created since `since`, newest first, read without a search filter
    (the index lags; the database does not)."""
    found = []
    for node in hub.paginate("orders_recent_hub", {}, ("orders",)):
        created = datetime.fromisoformat(node["createdAt"].replace("Z", "+00:00"))
        if created < since:
            break
        found.append(node)
    return found


def create_hub_orders(
    *,
    retailer: RetailerConfig,
    client: ShopifyClient,
    hub: ShopifyClient,
    conn: psycopg.Connection,
    windows: list[tuple[datetime, datetime]],
    now: datetime,
    run_id: str | None,
    hold_window: timedelta = DEFAULT_HOLD_WINDOW,
    reconcile_delay: float = 1.0,
) -> CreationStats:
    """Create one hub order per eligible retailer order in the windows, exactly once."""
    stats = CreationStats()
    since = min(s for s, _ in windows) - timedelta(hours=retailer.lookback_hours.orders)
    until = max(e for _, e in windows)
    with store_lock(conn, f"import:{retailer.key}"):
        todo = ledger.orders_to_import(conn, retailer.key, since, until)
        if not todo:
            return stats
        orders = {row["order_gid"]: RetailerOrder.from_graphql(row["raw"]) for row in todo}
        variants = hub_variants_for(hub, list(orders.values()), retailer.hub_location_id)
        scan = HubOrderScan(hub)
        for row in todo:
            order = orders[row["order_gid"]]
            try:
                _import_one(conn, client, hub, retailer, order, row, scan, variants, stats,
                            now=now, hold_window=hold_window, run_id=run_id,
                            reconcile_delay=reconcile_delay)  # fmt: skip
            except ShopifyTransientError as exc:  # retries exhausted: the batch goes on
                stats.pending.append(f"retailer '{retailer.key}' order {order.name}: {exc}")
    return stats


class HubOrderScan:
    """The hub's newest orders, read index-free once per run and extended when an older
    claim needs an older horizon."""

    def __init__(self, hub: ShopifyClient) -> None:
        self.hub, self.since, self.orders = hub, None, []

    def find(self, source: str, claimed_at: datetime) -> str | None:
        since = claimed_at - RECONCILE_MARGIN
        if self.since is None or since < self.since:
            self.orders, self.since = recent_hub_orders(self.hub, since), since
        return find_existing_hub_order(source, self.orders)


def _import_one(conn, client, hub, retailer, order, row, scan, variants, stats, *, now,
                hold_window, run_id, reconcile_delay) -> None:  # fmt: skip
    key = source_key(retailer.key, order.id)
    link = ledger.claim(conn, retailer.key, order.id, key, run_id, row["raw"])
    # A claim from an earlier attempt: that attempt may have created it (O1, O2): look first.
    if link.state == "claimed" and link.attempts > 1 and (gid := scan.find(key, link.claimed_at)):
        ledger.record_created(conn, link, gid, None, None)
        stats.healed += 1
        link = ledger.get_link(conn, retailer.key, order.id)
    if link.state == "claimed":
        c = classify(order, retailer, variants, now, hold_window)
        if not c.eligible:  # changed since landing (e.g. a SKU left the hub)
            stats.pending.append(c.message)
            return
        link = _create(conn, hub, retailer, order, c, link, stats, reconcile_delay)
    if link is not None and link.state == "created":
        _confirm(conn, client, link, stats)


def _create(conn, hub, retailer, order, c, link, stats, reconcile_delay):
    order_input = build_hub_order_input(
        order,
        c,
        retailer_key=retailer.key,
        retailer_name=retailer.name,
        billing_address=retailer.billing_address.as_mailing_address_input(),
    )
    variables = order_create_variables(order_input)
    for attempt in range(CREATE_ATTEMPTS):
        try:
            result = hub.mutate("orders_create_hub", variables)
        except ShopifyAmbiguousWriteError as exc:
            ledger.record_attempt_error(conn, link, f"{type(exc).__name__}: {exc}")
            time.sleep(reconcile_delay * (attempt + 1))
            known = recent_hub_orders(hub, link.claimed_at - RECONCILE_MARGIN)
            if gid := find_existing_hub_order(link.source_key, known):
                ledger.record_created(conn, link, gid, None, None)
                stats.healed += 1
                return ledger.get_link(conn, link.retailer, order.id)
            continue
        if result.user_errors:
            message = (
                f"retailer '{retailer.key}' order {order.name} ({order.id}): the hub refused "
                f"the order: {'; '.join(e.message for e in result.user_errors)}; fix and re-run"
            )
            ledger.record_failed(conn, link, message)
            key = f"refused:order:{retailer.key}:{order.id}"
            stats.failed.append(OrderIssue(key, retailer.key, order.name, "hub_refused", message))
            return None
        created = (result.data.get("orderCreate") or {}).get("order") or {}
        lines = [{"sku": line.sku, "quantity": line.quantity} for line in c.lines]
        ledger.record_created(conn, link, created["id"], created.get("name"), lines)
        stats.created += 1
        return ledger.get_link(conn, link.retailer, order.id)
    stats.pending.append(f"order {order.name} ({order.id}): hub order not confirmed yet")
    return None


def _confirm(conn, client: ShopifyClient, link: ledger.OrderLink, stats: CreationStats) -> None:
    """Tag the retailer order as imported (idempotent), then mark the link confirmed."""
    result = client.mutate(
        "orders_tags_add", {"id": link.retailer_order_gid, "tags": imported_tags()}
    )
    if result.user_errors:
        stats.pending.append(f"tagging {link.retailer_order_gid}: {result.user_errors[0].message}")
        return
    ledger.record_confirmed(conn, link)
    stats.confirmed += 1
