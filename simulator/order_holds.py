"""Fulfillment holds: several per fulfillment order, at most one per handle and ten per app.

The FO is ON_HOLD while any hold is left and returns to the status it had (OPEN or
IN_PROGRESS) when the last one is released; a held FO cannot be fulfilled (fulfillmentCreate
refuses it, the warehouse skips it). A hold on some line items splits the FO first: the held
units stay on it, the rest moves to a new OPEN FO (``remainingFulfillmentOrder``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulator.models import FulfillmentOrder, FulfillmentOrderLineItem
from simulator.models_changes import FulfillmentHold
from simulator.order_changes import OPEN_FO
from simulator.store import IdAllocator, Store

MAX_HOLDS_PER_APP = 10
MAX_HANDLE_LENGTH = 64


def hold_refusal(fo: FulfillmentOrder, handle: str) -> tuple[str | None, list[str], str] | None:
    """(code, field, message) when a hold with ``handle`` cannot be placed on ``fo``."""
    where = ["fulfillmentHold", "handle"]
    if fo.status not in OPEN_FO:
        return None, ["id"], f"Fulfillment order cannot be held in status {fo.status.lower()}."
    if len(handle) > MAX_HANDLE_LENGTH:
        return None, where, f"Handle is too long (maximum is {MAX_HANDLE_LENGTH} characters)."
    mine = [h for h in fo.holds if h.held_by_requesting_app]
    if any(h.handle == handle for h in mine):
        return (
            "DUPLICATE_FULFILLMENT_HOLD_HANDLE",
            where,
            "The handle provided for the fulfillment hold is already in use by this app "
            "for another hold on this fulfillment order.",
        )
    if len(mine) >= MAX_HOLDS_PER_APP:
        return (
            "FULFILLMENT_ORDER_HOLD_LIMIT_REACHED",
            ["id"],
            "The maximum number of fulfillment holds for this fulfillment order has been "
            "reached for this app.",
        )
    return None


def place_hold(
    store: Store, ids: IdAllocator, fo: FulfillmentOrder, spec: dict[str, Any], when: datetime
) -> FulfillmentHold:
    """Put a (checked) hold on ``fo``: ON_HOLD, remembering the status to return to."""
    hold = FulfillmentHold(
        id=ids.gid("FulfillmentHold"),
        handle=spec.get("handle") or "",
        reason=spec["reason"],
        reason_notes=spec.get("reasonNotes"),
        external_id=spec.get("externalId"),
        created_at=when,
    )
    if fo.status != "ON_HOLD":
        fo.held_from = fo.status
        fo.status = "ON_HOLD"
    fo.holds.append(hold)
    fo.updated_at = when
    store.add(hold)
    if spec.get("notifyMerchant"):
        store.count("merchant_hold_notifications")
    if fo.order is not None:
        store.touch(fo.order, "order", when)
    return hold


def release_holds(
    store: Store, fo: FulfillmentOrder, hold_ids: list[str] | None, when: datetime
) -> list[FulfillmentHold]:
    """Release the named holds of ``fo`` (all when ``hold_ids`` is None: Shopify warns that
    this releases the FO prematurely); ids of other FOs' holds are ignored."""
    wanted = [h for h in fo.holds if hold_ids is None or h.id in hold_ids]
    for hold in wanted:
        fo.holds.remove(hold)
    if not fo.holds and fo.status == "ON_HOLD":
        fo.status = fo.held_from or "OPEN"
        fo.held_from = None
    fo.updated_at = when
    if fo.order is not None:
        store.touch(fo.order, "order", when)
    return wanted


def split_refusal(fo: FulfillmentOrder, wanted: list[dict[str, Any]]) -> tuple[Any, ...] | None:
    """(code, field, message) when the line items of a partial hold are not acceptable."""
    base = ["fulfillmentHold", "fulfillmentOrderLineItems"]
    if fo.status != "OPEN":
        return (
            "FULFILLMENT_ORDER_NOT_SPLITTABLE",
            base,
            "The fulfillment order is not in a splittable state.",
        )
    by_id = {li.id: li for li in fo.line_items_list}
    for i, want in enumerate(wanted):
        li = by_id.get(want["id"])
        if li is None:
            return None, [*base, str(i), "id"], "Fulfillment order line item does not exist."
        if want["quantity"] <= 0:
            return (
                "GREATER_THAN_ZERO",
                [*base, str(i), "quantity"],
                "The fulfillment order line item quantity must be greater than 0.",
            )
        if want["quantity"] > li.remaining_quantity:
            return (
                "INVALID_LINE_ITEM_QUANTITY",
                [*base, str(i), "quantity"],
                "The fulfillment order line item quantity is invalid.",
            )
    return None


def split_for_hold(
    store: Store,
    ids: IdAllocator,
    fo: FulfillmentOrder,
    wanted: list[dict[str, Any]],
    when: datetime,
) -> FulfillmentOrder | None:
    """Keep only the ``wanted`` (checked) units on ``fo``; the rest moves to a new OPEN FO
    at the same location, which is returned (None when everything is held)."""
    held = {w["id"]: w["quantity"] for w in wanted}
    moving = [(li, li.remaining_quantity - held.get(li.id, 0)) for li in fo.line_items_list]
    moving = [(li, n) for li, n in moving if n > 0]
    if not moving:
        return None
    rest = FulfillmentOrder(
        id=ids.gid("FulfillmentOrder"),
        order=fo.order,
        location=fo.location,
        created_at=when,
        updated_at=when,
    )
    for li, units in moving:
        committed = min(li.committed_quantity, units)
        moved = FulfillmentOrderLineItem(
            id=ids.gid("FulfillmentOrderLineItem"),
            line_item=li.line_item,
            total_quantity=units,
            remaining_quantity=units,
            committed_quantity=committed,
        )
        li.committed_quantity -= committed
        li.total_quantity -= units
        li.remaining_quantity -= units
        rest.line_items_list.append(moved)
        store.add(moved)
        if li.total_quantity == 0:
            fo.line_items_list.remove(li)
            store.nodes.pop(li.id, None)
    if fo.order is not None:
        fo.order.fulfillment_orders_list.append(rest)
    store.add(rest)
    return rest
