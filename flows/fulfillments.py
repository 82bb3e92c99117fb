"""Fulfillment push, step by step: land hub shipments, then push each exactly once.

Plain functions over one `RetailerStep` (the assets in `assets/fulfillments.py` run
them per retailer), so tests can drive and interrupt them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flows.exactly_once import Outcome, WriteOnce
from flows.hub_cancellations import record_hub_cancellations
from flows.steps import RetailerStep, StepReport
from resources.email_templates import OrderIssue
from resources.ledgers import fulfillments as ledger
from resources.ledgers.locks import store_lock
from resources.ledgers.orders import linked_orders
from resources.ledgers.states import FulfillmentLinkState as State
from resources.shopify import (
    MutationResult,
    ShopifyAmbiguousWriteError,
    ShopifyClient,
    ShopifyTransientError,
)
from sync.follow_ups import (
    HUB_ORDER_FULFILLMENTS_FIRST,
    RETAILER_ORDER_FULFILLMENTS_FIRST,
    complete_order,
)
from sync.fulfillments import (
    PlanStatus,
    hub_orders_query,
    plan_retailer_fulfillments,
    tracking_changed,
    tracking_update_variables,
)
from sync.hub_cancel_plan import hub_gave_up
from sync.models import HubFulfillment, HubOrder, RetailerOrder
from sync.windows import lookback_window

PUSH_ATTEMPTS = 3


@dataclass
class PushStats:
    hub_fulfillments: int = 0
    pushed: int = 0
    healed: int = 0
    tracking_updated: int = 0
    terminal: list[OrderIssue] = field(default_factory=list)  # newly terminal: alert once
    pending: list[str] = field(default_factory=list)

    def report(self) -> StepReport:
        counts = {
            "hub_fulfillments": self.hub_fulfillments,
            "fulfillments_pushed": self.pushed,
            "fulfillments_healed": self.healed,
            "tracking_updated": self.tracking_updated,
            "terminal_new": len(self.terminal),
            "left_for_next_run": len(self.pending),
        }
        return StepReport(counts=counts, issues=list(self.terminal), pending=list(self.pending))


def land_hub_fulfillments(step: RetailerStep) -> StepReport:
    """Land every fulfillment of this retailer's hub orders updated in the windows, and
    tell of (or claim the carry-back of) hub orders the hub cancelled or gave up on (O15)."""
    landed, ended = _land(step)
    issues, by_the_hub = record_hub_cancellations(step, ended)
    counts = {"hub_fulfillments_landed": landed, "cancelled_by_the_hub": by_the_hub}
    return StepReport(counts=counts, issues=issues)


def landed_fulfillments(step: RetailerStep) -> int:
    """`land_hub_fulfillments` as a count (tests read it)."""
    return _land(step)[0]


def _land(step: RetailerStep) -> tuple[int, list[tuple[dict, dict]]]:
    """Fulfillments landed, and the (hub order, link) pairs of hub orders the hub cancelled
    or will not finish."""
    retailer, hub = step.retailer, step.hub
    nodes: dict[str, dict[str, Any]] = {}
    for start, end in step.windows:
        since, until = lookback_window(start, end, retailer.lookback_hours.fulfillments)
        query = hub_orders_query(since, until, retailer.key)
        for node in hub.paginate("fulfillments_updated_hub_orders", {"query": query}, ("orders",)):
            nodes[node["id"]] = node
    # Only the links of the hub orders just read: cost does not grow with history.
    links = linked_orders(step.conn, retailer.key, list(nodes))
    landed: dict[str, ledger.LandedFulfillment] = {}
    ended = []
    for node in nodes.values():
        link = links.get(node["id"])
        if link is None:  # a hub order we did not make (or not recorded yet)
            continue
        if node.get("cancelledAt") or hub_gave_up(node):
            ended.append((node, link))
        full = complete_order(node, hub.execute, fulfillments_first=HUB_ORDER_FULFILLMENTS_FIRST)
        for raw, f in zip(
            full.get("fulfillments") or [],
            HubOrder.from_graphql(full).fulfillments,
            strict=True,
        ):
            landed[f.id] = ledger.LandedFulfillment(
                hub_fulfillment_gid=f.id,
                hub_order_gid=node["id"],
                retailer=retailer.key,
                retailer_order_gid=link["retailer_order_gid"],
                status=f.status,
                created_at=f.created_at,
                updated_at=f.updated_at,
                tracking=[t.model_dump() for t in f.tracking],
                lines=[{"sku": ln.sku, "quantity": ln.quantity} for ln in f.lines],
                raw=raw,
            )
    return ledger.land_fulfillments(step.conn, landed.values()), ended


def read_retailer_order(client: ShopifyClient, order_gid: str) -> tuple[RetailerOrder, dict]:
    data = client.execute("fulfillments_retailer_order_fulfillment_orders", {"id": order_gid})
    node = data.get("order")
    if node is None:
        raise LookupError(f"retailer order {order_gid} is gone")
    full = complete_order(
        node, client.execute, fulfillments_first=RETAILER_ORDER_FULFILLMENTS_FIRST
    )
    return RetailerOrder.from_graphql(full), full


def push_retailer_fulfillments(step: RetailerStep) -> StepReport:
    """Create each landed, unpushed hub shipment at the retailer exactly once (F1–F6)."""
    return push_stats(step).report()


def push_stats(step: RetailerStep) -> PushStats:
    """`push_retailer_fulfillments` with the detailed statistics (tests read them)."""
    stats, retailer, conn = PushStats(), step.retailer, step.conn
    since, until = step.span(retailer.lookback_hours.fulfillments)
    with store_lock(conn, f"push:{retailer.key}"):
        todo = ledger.fulfillments_to_push(conn, retailer.key, since, until)
        stats.hub_fulfillments = len(todo)
        for row in todo:
            try:
                _push_one(step, row["retailer_order_gid"], row, stats)
            except ShopifyTransientError as exc:  # retries exhausted: the batch goes on
                ledger.record_attempt_error(conn, row["hub_fulfillment_gid"], str(exc))
                stats.pending.append(f"hub fulfillment {row['hub_fulfillment_gid']}: {exc}")
    return stats


def _push_one(step: RetailerStep, order_gid: str, row, stats: PushStats) -> None:
    hub_f = HubFulfillment.from_graphql(row["raw"])
    if row["state"] == State.CREATED:
        _update_tracking(step.conn, step.client, hub_f, stats)
        return
    link = ledger.claim(step.conn, hub_f.id, step.key, order_gid, step.run_id)
    outcome = WriteOnce(PUSH_ATTEMPTS, step.options.reconcile_delay)(
        _ShipmentWrite(step, order_gid, hub_f, stats)
    )
    if outcome is Outcome.UNCONFIRMED:
        stats.pending.append(
            f"hub fulfillment {hub_f.id}: push not confirmed after {link.attempts}"
        )


class _ShipmentWrite:
    """One hub shipment pushed to the retailer, as a `ClaimedWrite`. Reconciling re-reads
    the retailer order and re-plans: the plan finds the fulfillment if it was made (F4)."""

    def __init__(self, step: RetailerStep, order_gid: str, hub_f: HubFulfillment, stats) -> None:
        self.step, self.order_gid, self.hub_f, self.stats = step, order_gid, hub_f, stats
        self.tracking = [t.model_dump() for t in hub_f.tracking]

    def reconcile(self, attempt: int) -> Outcome | None:
        step, hub_f = self.step, self.hub_f
        self.order, _ = read_retailer_order(step.client, self.order_gid)
        self.plan = plan = plan_retailer_fulfillments(
            hub_f,
            self.order,
            hub_location_id=step.retailer.hub_location_id,
            notify_customer=step.options.notify_customer,
            exclude_ids=ledger.linked_elsewhere(step.conn, self.order_gid, hub_f.id),
            sku_matching=step.retailer.sku_matching,
        )
        self.lines = [{"sku": ln.sku, "quantity": ln.quantity} for ln in plan.lines]
        if plan.status is PlanStatus.EXISTS:
            ledger.record_created(
                step.conn, hub_f.id, plan.existing_fulfillment_id, self.tracking, self.lines
            )
            self.stats.healed += 1
            return Outcome.FOUND
        if plan.status is PlanStatus.TERMINAL:
            self._terminal(str(plan.reason), f"retailer '{step.key}': {plan.message}")
            return Outcome.SETTLED
        if plan.status is PlanStatus.WAIT:
            self.stats.pending.append(plan.message)
            return Outcome.SETTLED
        return None

    def write(self) -> MutationResult:
        return self.step.client.mutate("fulfillments_create_retailer", self.plan.variables())

    def created(self, result: MutationResult) -> None:
        made = (result.data.get("fulfillmentCreate") or {}).get("fulfillment") or {}
        ledger.record_created(self.step.conn, self.hub_f.id, made["id"], self.tracking, self.lines)
        self.stats.pushed += 1

    def refused(self, result: MutationResult) -> None:
        errors = "; ".join(e.message for e in result.user_errors)
        self._terminal(
            "rejected",
            f"retailer '{self.step.key}': hub fulfillment {self.hub_f.id} -> order "
            f"{self.order.name}: {errors}",
        )

    def ambiguous(self, error: ShopifyAmbiguousWriteError) -> None:
        ledger.record_attempt_error(
            self.step.conn, self.hub_f.id, f"{type(error).__name__}: {error}"
        )

    def _terminal(self, reason: str, message: str) -> None:
        if ledger.record_terminal(self.step.conn, self.hub_f.id, reason, message):
            issue = _issue(self.step.retailer, self.hub_f, self.order, reason, message)
            self.stats.terminal.append(issue)


def _issue(retailer, hub_f, order, reason: str, message: str) -> OrderIssue:
    return OrderIssue(f"terminal:fulfillment:{hub_f.id}", retailer.key, order.name, reason, message)


def _update_tracking(conn, client, hub_f: HubFulfillment, stats: PushStats) -> None:
    """F5: tracking added or corrected at the hub is sent as an update, not a new fulfillment."""
    link_gid = ledger.pushed_link(conn, hub_f.id)
    order, _ = read_retailer_order(client, link_gid[1])
    existing = next((f for f in order.fulfillments if f.id == link_gid[0]), None)
    tracking = [t.model_dump() for t in hub_f.tracking]
    wanted = tracking_changed(hub_f, existing) if existing else None
    if wanted:
        result = client.mutate(
            "fulfillments_tracking_update", tracking_update_variables(existing.id, wanted)
        )
        if result.user_errors:
            stats.pending.append(f"tracking update {existing.id}: {result.user_errors[0].message}")
            return
        stats.tracking_updated += 1
    ledger.record_tracking_updated(conn, hub_f.id, tracking)
