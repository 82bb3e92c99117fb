"""Order import, step two: one hub order per eligible retailer order, exactly once.

Shopify's `orderCreate` has no idempotency key, so every order goes through the
`order_links` ledger: claimed (committed) before the mutation; a claim left by an
earlier attempt is reconciled against the hub's newest orders, read without a search
filter (the index lags), before anything is created again (FAULTS O1, O2). Writers of
one retailer queue behind a per-store advisory lock (O3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flows.exactly_once import Outcome, WriteOnce
from flows.orders import classify, hub_variants_for
from flows.steps import RetailerStep, StepReport, order_created_at
from resources.email_templates import OrderIssue
from resources.ledgers import orders as ledger
from resources.ledgers.locks import store_lock
from resources.ledgers.states import OrderLinkState as State
from resources.shopify import (
    MutationResult,
    ShopifyAmbiguousWriteError,
    ShopifyClient,
    ShopifyTransientError,
)
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
        if order_created_at(node) < since:
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
    conn, client, retailer = step.conn, step.client, step.retailer
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
        link = _create(step, order, c, link, stats)
    if link is not None and link.state is State.CREATED:
        _confirm(conn, client, link, stats)


def _create(step: RetailerStep, order, c, link, stats: CreationStats):
    """`orderCreate` for one claimed order, exactly once; returns the link as it ends."""
    hub_order = _HubOrderWrite(step, order, c, link, stats)
    outcome = WriteOnce(CREATE_ATTEMPTS, step.options.reconcile_delay)(hub_order)
    if outcome is Outcome.UNCONFIRMED:
        stats.pending.append(f"order {order.name} ({order.id}): hub order not confirmed yet")
    return hub_order.link if outcome in (Outcome.CREATED, Outcome.FOUND) else None


class _HubOrderWrite:
    """The hub order of one retailer order, as a `ClaimedWrite`."""

    def __init__(self, step: RetailerStep, order, c, link, stats: CreationStats) -> None:
        self.step, self.order, self.link, self.stats = step, order, link, stats
        retailer = step.retailer
        self.variables = order_create_variables(
            build_hub_order_input(
                order, c, retailer_key=retailer.key, retailer_name=retailer.name,
                billing_address=retailer.billing_address.as_mailing_address_input(),
            )
        )  # fmt: skip
        # The retailer's SKU verbatim and the hub SKU it matched (they differ only for a
        # normalised match, which the data-quality report lists, O11).
        self.lines = [
            {"sku": line.sku, "hub_sku": line.variant.sku if line.variant else None,
             "quantity": line.quantity}
            for line in c.lines
        ]  # fmt: skip

    def reconcile(self, attempt: int) -> Outcome | None:
        if attempt == 0:  # a fresh claim, or one `_import_one` just looked for
            return None
        known = recent_hub_orders(self.step.hub, self.link.claimed_at - RECONCILE_MARGIN)
        gid = find_existing_hub_order(self.link.source_key, known)
        if gid is None:
            return None
        self.link = ledger.record_created(self.step.conn, self.link, gid, None, self.lines)
        self.stats.healed += 1
        return Outcome.FOUND

    def write(self) -> MutationResult:
        return self.step.hub.mutate("orders_create_hub", self.variables)

    def created(self, result: MutationResult) -> None:
        made = (result.data.get("orderCreate") or {}).get("order") or {}
        self.link = ledger.record_created(
            self.step.conn, self.link, made["id"], made.get("name"), self.lines
        )
        self.stats.created += 1

    def refused(self, result: MutationResult) -> None:
        key, order = self.step.key, self.order
        message = (
            f"retailer '{key}' order {order.name} ({order.id}): the hub refused "
            f"the order: {'; '.join(e.message for e in result.user_errors)}; fix and re-run"
        )
        ledger.record_failed(self.step.conn, self.link, message)
        issue = OrderIssue(
            f"refused:order:{key}:{order.id}", key, order.name, "hub_refused", message
        )
        self.stats.failed.append(issue)

    def ambiguous(self, error: ShopifyAmbiguousWriteError) -> None:
        ledger.record_attempt_error(self.step.conn, self.link, f"{type(error).__name__}: {error}")


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
