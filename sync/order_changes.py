"""What changed at the retailer after its order was imported (O8, O9), and returns opened
there after import (`return_opened`: recorded and queued for a person, never pushed).

Compared on `LineItem.currentQuantity`, which order edits and refunds change but shipping does
not: after our own fulfillment push the remaining quantities drop, and that is not an edit.
A removed line keeps its id with `currentQuantity` 0. Nothing here is silent: every change is
returned with a message, and the asset flags and alerts (the hub order must be held or edited,
removed lines must never ship).
"""

from __future__ import annotations

from enum import StrEnum

from sync.models import RetailerOrder, _Model


class ChangeKind(StrEnum):
    CANCELLED = "cancelled"
    LINE_REMOVED = "line_removed"
    QUANTITY_CHANGED = "quantity_changed"
    LINE_ADDED = "line_added"


class Change(_Model):
    kind: ChangeKind
    order_id: str
    message: str
    line_item_id: str | None = None
    sku: str | None = None
    before: int | None = None
    after: int | None = None


def _hub_line_ids(order: RetailerOrder, hub_location_id: str | None) -> set[str] | None:
    if hub_location_id is None:
        return None
    return {
        fo_line.line_item_id
        for fo in order.fulfillment_orders_at(hub_location_id)
        for fo_line in fo.lines
        if fo_line.line_item_id
    }


def detect_post_import_changes(
    order_now: RetailerOrder,
    order_at_import: RetailerOrder,
    *,
    hub_location_id: str | None = None,
) -> list[Change]:
    """Changes between the order as imported (raw JSON kept in Postgres) and as read now.

    With `hub_location_id`, only lines that were (or now are) on a fulfillment order at the
    hub location count: an edit to a line another location ships is not the hub's business.
    """
    who = f"order {order_now.name} ({order_now.id})"
    changes: list[Change] = []
    if order_now.cancelled_at and not order_at_import.cancelled_at:
        changes.append(
            Change(
                kind=ChangeKind.CANCELLED,
                order_id=order_now.id,
                message=f"{who} was cancelled at {order_now.cancelled_at.isoformat()} after "
                "import: cancel or hold the hub order, push no fulfillment",
            )
        )
    before = {line.id: line for line in order_at_import.lines}
    scope_then = _hub_line_ids(order_at_import, hub_location_id)
    scope_now = _hub_line_ids(order_now, hub_location_id)
    for line in order_now.lines:
        old = before.get(line.id)
        in_scope = scope_then is None or line.id in scope_then or line.id in (scope_now or ())
        if not in_scope:
            continue
        common = {"order_id": order_now.id, "line_item_id": line.id, "sku": line.sku}
        if old is None:
            changes.append(
                Change(
                    kind=ChangeKind.LINE_ADDED,
                    after=line.current_quantity,
                    message=f"{who}: line {line.sku!r} x{line.current_quantity} added after "
                    "import; it is not on the hub order",
                    **common,
                )
            )
        elif line.current_quantity != old.current_quantity:
            removed = line.current_quantity == 0
            kind = ChangeKind.LINE_REMOVED if removed else ChangeKind.QUANTITY_CHANGED
            what = "removed" if removed else f"changed to {line.current_quantity}"
            changes.append(
                Change(
                    kind=kind,
                    before=old.current_quantity,
                    after=line.current_quantity,
                    message=f"{who}: line {line.sku!r} (was {old.current_quantity}) {what} "
                    "after import: edit or hold the hub order so it never ships",
                    **common,
                )
            )
    present = {line.id for line in order_now.lines}
    for line_id, old in before.items():
        if line_id in present or (scope_then is not None and line_id not in scope_then):
            continue
        changes.append(
            Change(
                kind=ChangeKind.LINE_REMOVED,
                order_id=order_now.id,
                line_item_id=line_id,
                sku=old.sku,
                before=old.current_quantity,
                after=0,
                message=f"{who}: line {old.sku!r} is gone after import: edit or hold the hub order",
            )
        )
    return changes


#: `Order.returnStatus` of an order with no return; anything else is a return in some state.
NO_RETURN = "NO_RETURN"


def return_opened(order_now: RetailerOrder, order_at_import: RetailerOrder) -> str | None:
    """A message when the order has a return it did not have at import, else None (also
    when the read does not carry the status: no guess)."""
    status = order_now.return_status
    if status in (None, NO_RETURN) or order_at_import.return_status not in (None, NO_RETURN):
        return None
    said = status.lower().replace("_", " ")
    return (
        f"order {order_now.name} ({order_now.id}): a return was opened after import ({said}); "
        "settle the returned goods with the hub, nothing is pushed for a return"
    )
