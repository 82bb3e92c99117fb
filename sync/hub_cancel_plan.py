"""What to do at the retailer when the hub cancelled a hub order itself, or gave up on what
is left of it (FAULTS O15, with the registry's `on_hub_cancel: cancel_at_retailer`).

The hub gives up without cancelling when its fulfillment service closes a fulfillment
order INCOMPLETE (`fulfillmentOrderClose`): the order stays open but none of its
fulfillment orders can still ship, and not all of it shipped (`hub_gave_up`); the units
left on those fulfillment orders never ship (`never_shipping`).

Decided from one read of the retailer order now, taken once every shipment of the hub
order was pushed, so the units still waiting on fulfillment orders at the hub location are
exactly the ones that will never ship:

- none waiting there: nothing to do (the order is cancelled or edited already: by our
  earlier write whose response was lost, or by the retailer);
- nothing of the order shipped and nothing waits at another location: cancel the retailer
  order (restock, refund: what Shopify Collective does when a supplier cancels);
- otherwise an order edit takes those units off their lines (each set to its current
  quantity less its units at the hub location); the rest of the order stands.

The plan is absolute, so a repeat after a lost response plans nothing: the re-read
retailer order already is as asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sync.follow_up_plan import LIVE_FO_STATUSES
from sync.follow_up_plan import HubOrder as OrderState
from sync.models import nodes

#: Display statuses of an order with nothing left to ship (FULFILLMENT_NOT_REQUIRED: 2026-10).
ALL_SHIPPED = frozenset({"FULFILLED", "RESTOCKED", "FULFILLMENT_NOT_REQUIRED"})


def hub_gave_up(node: Mapping[str, Any]) -> bool:
    """A hub order (as the fulfillments page reads it) that is not cancelled, has
    fulfillment orders none of which can still ship, and is not all shipped."""
    if node.get("cancelledAt"):
        return False
    statuses = [fo.get("status") for fo in nodes(node.get("fulfillmentOrders"))]
    if not statuses or any(status in LIVE_FO_STATUSES for status in statuses):
        return False
    return node.get("displayFulfillmentStatus") not in ALL_SHIPPED


def never_shipping(hub: OrderState) -> dict[str, int]:
    """SKU (else line id) -> units the hub will never ship: those left on fulfillment
    orders that can no longer ship, when none can (else the hub may still ship them)."""
    if hub.cancelled or any(fo.status in LIVE_FO_STATUSES for fo in hub.fulfillment_orders):
        return {}
    sku_of = {line.id: line.sku or line.id for line in hub.lines}
    units: dict[str, int] = {}
    for fo in hub.fulfillment_orders:
        for line_id, left in fo.remaining.items():
            if left:
                key = sku_of.get(line_id, line_id)
                units[key] = units.get(key, 0) + left
    return units


class RetailerAction(StrEnum):
    CANCEL = "cancel"  # cancel the whole retailer order
    EDIT = "edit"  # take the hub location's units off its lines
    NONE = "none"  # the retailer order waits for nothing from the hub


@dataclass(frozen=True)
class RemovedLine:
    """A retailer line losing the `removed` units the hub will not ship; `quantity` is the
    line's current quantity after the change."""

    line_id: str
    sku: str | None
    quantity: int
    removed: int


@dataclass(frozen=True)
class RetailerCancelPlan:
    action: RetailerAction
    reason: str
    lines: tuple[RemovedLine, ...] = ()

    def describe_lines(self) -> str:
        return ", ".join(f"{line.sku or line.line_id} x{line.removed}" for line in self.lines)


def waiting_at(order: OrderState, location_id: str) -> dict[str, int]:
    """Line item id -> units still to ship from fulfillment orders at `location_id`."""
    waiting: dict[str, int] = {}
    for fo in order.fulfillment_orders:
        if fo.location_id != location_id or fo.status not in LIVE_FO_STATUSES:
            continue
        for line_id, units in fo.remaining.items():
            if units:
                waiting[line_id] = waiting.get(line_id, 0) + units
    return waiting


def plan_retailer_cancel(order: OrderState, hub_location_id: str) -> RetailerCancelPlan:
    """The change that leaves the retailer order waiting for nothing from the hub."""
    if order.cancelled:
        return RetailerCancelPlan(RetailerAction.NONE, "the retailer order is cancelled")
    at_hub = waiting_at(order, hub_location_id)
    if not at_hub:
        return RetailerCancelPlan(RetailerAction.NONE, "nothing of it waits on the hub")
    lines = tuple(
        RemovedLine(
            line.id, line.sku, max(0, line.current_quantity - at_hub[line.id]), at_hub[line.id]
        )  # fmt: skip
        for line in order.lines
        if at_hub.get(line.id)
    )
    elsewhere = sum(
        units
        for fo in order.fulfillment_orders
        if fo.location_id != hub_location_id and fo.status in LIVE_FO_STATUSES
        for units in fo.remaining.values()
    )
    if not order.any_shipped and not elsewhere:
        return RetailerCancelPlan(
            RetailerAction.CANCEL, "nothing of it shipped and all of it was the hub's", lines
        )
    why = "part of it shipped" if order.any_shipped else "other lines ship from elsewhere"
    return RetailerCancelPlan(RetailerAction.EDIT, f"{why}: only the hub's units go", lines)
