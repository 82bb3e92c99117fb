"""Order import, step two: one hub order per eligible retailer order, exactly once.

Shopify's `orderCreate` has no idempotency key, so every order goes through the
`order_links` ledger: claimed (committed) before the mutation; a claim left by an
earlier attempt is reconciled against the hub's newest orders, read without a search
filter (the index lags), before anything is created again (FAULTS O1, O2). Writers of
one retailer queue behind a per-store advisory lock (O3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flows.orders import classify, hub_variants_for
from flows.steps import RetailerStep, StepReport
from resources.email_templates import OrderIssue
from resources.ledgers import orders as ledger
from resources.ledgers.locks import store_lock
from resources.ledgers.states import OrderLinkState as State
from resources.shopify import ShopifyAmbiguousWriteError, ShopifyClient, ShopifyTransientError
from sync.models import RetailerOrder
from sync.order_keys import find_existing_hub_order, imported_tags, source_key
from sync.order_payload import build_hub_order_input, order_create_variables

#: How far before a claim the index-free scan of newest hub orders looks.
RECONCILE_MARGIN = timedelta(minutes=10)
#: Attempts at creating one hub order within a run (each after a reconcile scan).
CREATE_ATTEMPTS = 3


@dataclass
class CreationStats:
    created: int = 0
    healed: int = 0  # found already made after a crash or lost response
    confirmed: int = 0
    failed: list[OrderIssue] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # left claimed: next run reconciles

    def report(self) -> StepReport:
        counts = {"hub_orders_created": self.created, "hub_orders_healed": self.healed,
                  "retailer_orders_tagged": self.confirmed, "hub_orders_refused": len(self.failed),
                  "left_for_next_run": len(self.pending)}  # fmt: skip
        return StepReport(counts=counts, issues=list(self.failed), pending=list(self.pending))


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


def create_hub_orders(step: RetailerStep) -> StepReport:
    """Create one hub order per eligible retailer order in the windows, exactly once."""
    return creation_stats(step).report()


def creation_stats(step: RetailerStep) -> CreationStats:
    """`create_hub_orders` with the detailed statistics (tests read them)."""
    stats, retailer = CreationStats(), step.retailer
    since, until = step.span(retailer.lookback_hours.orders)
    with store_lock(step.conn, f"import:{retailer.key}"):
        todo = ledger.orders_to_import(step.conn, retailer.key, since, until)
        if not todo:
            return stats
        orders = {row["order_gid"]: RetailerOrder.from_graphql(row["raw"]) for row in todo}
        variants = hub_variants_for(step.hub, list(orders.values()), retailer.hub_location_id)
        scan = HubOrderScan(step.hub)
        for row in todo:
            order = orders[row["order_gid"]]
            try:
                _import_one(step, order, row, scan, variants, stats)
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


def _import_one(step: RetailerStep, order, row, scan, variants, stats: CreationStats) -> None:
    conn, client, hub, retailer = step.conn, step.client, step.hub, step.retailer
    key = source_key(retailer.key, order.id)
    link = ledger.claim(conn, retailer.key, order.id, key, step.run_id, row["raw"])
    # A claim from an earlier attempt: that attempt may have created it (O1, O2): look first.
    if (
        link.state is State.CLAIMED
        and link.attempts > 1
        and (gid := scan.find(key, link.claimed_at))
    ):
        link = ledger.record_created(conn, link, gid, None, None)
        stats.healed += 1
    if link.state is State.CLAIMED:
        c = classify(order, retailer, variants, step.now, step.hold_window)
        if not c.eligible:  # changed since landing (e.g. a SKU left the hub)
            stats.pending.append(c.message)
            return
        link = _create(conn, hub, retailer, order, c, link, stats, step.options.reconcile_delay)
    if link is not None and link.state is State.CREATED:
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
    lines = [{"sku": line.sku, "quantity": line.quantity} for line in c.lines]
    for attempt in range(CREATE_ATTEMPTS):
        try:
            result = hub.mutate("orders_create_hub", variables)
        except ShopifyAmbiguousWriteError as exc:
            ledger.record_attempt_error(conn, link, f"{type(exc).__name__}: {exc}")
            time.sleep(reconcile_delay * (attempt + 1))
            known = recent_hub_orders(hub, link.claimed_at - RECONCILE_MARGIN)
            if gid := find_existing_hub_order(link.source_key, known):
                stats.healed += 1
                return ledger.record_created(conn, link, gid, None, lines)
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
        stats.created += 1
        return ledger.record_created(conn, link, created["id"], created.get("name"), lines)
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
