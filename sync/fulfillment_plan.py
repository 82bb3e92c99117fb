"""The plan type of the fulfillment push and the allocation of shipped units to FO lines.

Allocation: for each SKU the hub shipped, take units from the retailer's fulfillment order
lines with that SKU at the hub location, on OPEN / IN_PROGRESS fulfillment orders only, up to
each line's `remainingQuantity`. Units that find no room become a `Shortfall` whose reason
says why (the FO line is gone elsewhere, fulfilled, closed, cancelled, on hold, or has less
left than was shipped).

A retailer line serves a hub SKU when its SKU is that SKU exactly or, for a retailer opted
into normalisation (`sku_matching`, O11), equal to it once normalised; exact lines are filled
first. The hub order was made from these lines, so this only finds them again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sync.models import FulfillmentOrder, RetailerOrder, _Model
from sync.sku_matching import EXACT, SkuMatching, same_sku


class PlanStatus(StrEnum):
    CREATE = "create"  # call fulfillments_create_retailer with plan.variables()
    EXISTS = "exists"  # already pushed (F4): record existing_fulfillment_id, create nothing
    TERMINAL = "terminal"  # never pushable as is: record, alert once, do not retry
    WAIT = "wait"  # the hub fulfillment is not final yet: try again next run


class PlanReason(StrEnum):
    READY = "ready"
    ALREADY_PUSHED = "already_pushed"
    HUB_PENDING = "hub_fulfillment_pending"
    HUB_CANCELLED = "hub_fulfillment_cancelled"
    ORDER_CANCELLED = "order_cancelled"
    NOTHING_SHIPPED = "nothing_shipped"
    SKU_MISSING = "hub_line_without_sku"
    ALREADY_FULFILLED = "already_fulfilled"
    FO_CLOSED = "fo_closed"
    FO_CANCELLED = "fo_cancelled"
    FO_ON_HOLD = "fo_on_hold"
    FO_MOVED = "fo_moved"
    OVER_FULFILMENT = "over_fulfilment"


class PlannedLine(_Model):
    fulfillment_order_id: str
    fulfillment_order_line_item_id: str
    sku: str
    quantity: int


class Shortfall(_Model):
    sku: str | None
    wanted: int
    planned: int
    reason: PlanReason
    message: str


class FulfillmentPlan(_Model):
    hub_fulfillment_id: str
    retailer_order_id: str
    status: PlanStatus
    reason: PlanReason
    message: str
    lines: tuple[PlannedLine, ...] = ()
    shortfalls: tuple[Shortfall, ...] = ()
    tracking_input: dict[str, Any] | None = None
    notify_customer: bool = True
    existing_fulfillment_id: str | None = None
    warnings: tuple[str, ...] = ()

    def variables(self) -> dict[str, Any]:
        """Variables for `fulfillments_create_retailer`, lines always explicit."""
        if self.status is not PlanStatus.CREATE:
            raise ValueError(f"plan for {self.hub_fulfillment_id} is {self.status}, not create")
        by_fo: dict[str, list[dict[str, Any]]] = {}
        for line in self.lines:
            by_fo.setdefault(line.fulfillment_order_id, []).append(
                {"id": line.fulfillment_order_line_item_id, "quantity": line.quantity}
            )
        fulfillment: dict[str, Any] = {
            "lineItemsByFulfillmentOrder": [
                {"fulfillmentOrderId": fo, "fulfillmentOrderLineItems": items}
                for fo, items in by_fo.items()
            ],
            "notifyCustomer": self.notify_customer,
        }
        if self.tracking_input:
            fulfillment["trackingInfo"] = self.tracking_input
        return {"fulfillment": fulfillment}


def _why_not(
    sku: str, planned: int, here: list[FulfillmentOrder], order: RetailerOrder, policy
) -> PlanReason:
    """Why units of `sku` found no room at the hub location (`here` = hub-location FOs)."""
    if planned:
        return PlanReason.OVER_FULFILMENT

    def same(line) -> bool:
        return same_sku(line.sku, sku, policy)

    with_sku = [fo for fo in here if any(same(line) for line in fo.lines)]
    elsewhere = any(
        fo.is_open and any(same(line) and line.remaining_quantity for line in fo.lines)
        for fo in order.fulfillment_orders
        if fo not in here
    )
    if not with_sku or (elsewhere and not any(fo.is_open for fo in with_sku)):
        return PlanReason.FO_MOVED
    statuses = {fo.status for fo in with_sku}
    if statuses & {"ON_HOLD", "SCHEDULED"}:
        return PlanReason.FO_ON_HOLD
    if statuses & {"OPEN", "IN_PROGRESS"}:
        return PlanReason.ALREADY_FULFILLED
    left = sum(line.remaining_quantity for fo in with_sku for line in fo.lines if same(line))
    if statuses == {"CANCELLED"}:
        return PlanReason.FO_CANCELLED
    return PlanReason.FO_CLOSED if left else PlanReason.ALREADY_FULFILLED


def _serving(here: list[FulfillmentOrder], sku: str, policy: SkuMatching) -> list:
    """(FO, line) pairs at the hub location that may take units of hub SKU `sku`: open FOs
    only, lines with exactly that SKU first, then lines equal to it under `policy`."""
    open_lines = [(fo, line) for fo in here if fo.is_open for line in fo.lines]
    exact = [(fo, line) for fo, line in open_lines if line.sku == sku]
    loose = [
        (fo, line) for fo, line in open_lines if line.sku != sku and same_sku(line.sku, sku, policy)
    ]
    return exact + loose


def allocate(
    units: dict[str | None, int],
    order: RetailerOrder,
    hub_location_id: str,
    sku_matching: SkuMatching = EXACT,
) -> tuple[list[PlannedLine], list[Shortfall]]:
    """Shipped units per hub SKU -> FO lines at the hub location, and what did not fit."""
    here = order.fulfillment_orders_at(hub_location_id)
    left = {(fo.id, line.id): line.remaining_quantity for fo in here for line in fo.lines}
    lines: list[PlannedLine] = []
    shortfalls: list[Shortfall] = []
    for sku, wanted in units.items():
        if sku is None:
            shortfalls.append(
                Shortfall(
                    sku=None,
                    wanted=wanted,
                    planned=0,
                    reason=PlanReason.SKU_MISSING,
                    message=f"{wanted} unit(s) on hub lines without a SKU",
                )
            )
            continue
        need = wanted
        for fo, line in _serving(here, sku, sku_matching):
            take = min(need, left[(fo.id, line.id)])
            if take > 0:
                lines.append(
                    PlannedLine(
                        fulfillment_order_id=fo.id,
                        fulfillment_order_line_item_id=line.id,
                        sku=sku,
                        quantity=take,
                    )
                )
                left[(fo.id, line.id)] -= take
                need -= take
        if need:
            reason = _why_not(sku, wanted - need, here, order, sku_matching)
            shortfalls.append(
                Shortfall(
                    sku=sku,
                    wanted=wanted,
                    planned=wanted - need,
                    reason=reason,
                    message=f"SKU '{sku}': {need} of {wanted} unit(s) not pushed ({reason})",
                )
            )
    return lines, shortfalls
