"""Order edits: a session (``CalculatedOrder``) stages quantity changes and new lines; commit
applies them once (a session is single-use) and is also what the shopper actor's edits run.

On commit, per line: fewer units take remaining units off the line's open fulfillment orders
(``totalQuantity`` and ``remainingQuantity`` drop; an FO left with nothing closes) and release
what they had committed (restocked or not); ``quantity`` keeps counting removed units,
``currentQuantity`` does not. More units, and added lines, go to an OPEN fulfillment order at
the line's location, or a new one when none is OPEN there (a held or started FO is not
changed), and commit inventory there. A line may not go below what is already fulfilled,
checked again at commit since the warehouse may have shipped meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulator.models import FulfillmentOrder, FulfillmentOrderLineItem, LineItem, Location, Order
from simulator.models_changes import CalculatedLineItem, CalculatedOrder
from simulator.order_changes import close_fo, commit_units, release_units
from simulator.store import IdAllocator, Store

#: The order a line's units are taken off its fulfillment orders by an edit.
TAKE_ORDER = {"OPEN": 0, "ON_HOLD": 1, "IN_PROGRESS": 2}


def fulfilled_units(line: LineItem) -> int:
    order = line.order
    fulfillments = order.fulfillments_list if order else []
    return sum(
        f.quantity for ful in fulfillments for f in ful.line_items_list if f.line_item is line
    )


def has_unfulfilled(order: Order) -> bool:
    """Some unit is still to ship (what an edit or a shopper's cancel can act on)."""
    return any(li.current_quantity > fulfilled_units(li) for li in order.line_items_list)


def edit_refusal(order: Order) -> str | None:
    if order.cancelled_at is not None or order.cancel_job_id is not None:
        return "The order has been cancelled and cannot be edited."
    return None


def begin_edit(store: Store, ids: IdAllocator, order: Order) -> CalculatedOrder:
    session = CalculatedOrder(id=ids.gid("CalculatedOrder"), original_order=order)
    for li in order.line_items_list:
        session.lines.append(
            CalculatedLineItem(
                id=f"gid://shopify/CalculatedLineItem/{li.legacy_resource_id}",
                line_item=li,
                quantity=li.current_quantity,
                start_quantity=li.current_quantity,
                fulfilled=fulfilled_units(li),
            )
        )
    store.add(session)
    return session


def default_location(store: Store, variant: Any) -> Location | None:
    """Where an added line goes: the first location stocking the item, else the primary."""
    item = variant.inventory_item if variant else None
    for loc in store.locations.values():
        if item is not None and loc.id in item.levels:
            return loc
    return store.primary_location()


def commit_refusal(session: CalculatedOrder) -> tuple[list[str], str] | None:
    """(field, message) when the session cannot be committed now."""
    order = session.original_order
    if session.committed:
        return ["id"], "The calculated order has already been committed."
    refusal = edit_refusal(order) if order is not None else "The order does not exist."
    if refusal:
        return ["id"], refusal
    for cli in session.lines:
        li = cli.line_item
        if li.current_quantity + cli.quantity - cli.start_quantity < fulfilled_units(li):
            return ["id"], f"Quantity of {li.sku or li.title} cannot be less than the fulfilled."
    return None


def commit_edit(
    store: Store,
    ids: IdAllocator,
    session: CalculatedOrder,
    *,
    staff_note: str | None,
    notify: bool,
    when: datetime,
) -> Order:
    """Apply a checked session (see :func:`commit_refusal`) to its order."""
    order = session.original_order
    assert order is not None
    for cli in session.lines:
        delta = cli.quantity - cli.start_quantity
        if delta < 0:
            _reduce(store, cli.line_item, -delta, cli.restock, when)
            cli.line_item.removed_quantity += -delta
        elif delta > 0:
            cli.line_item.quantity += delta
            _increase(store, ids, cli.line_item, delta, _line_location(store, cli.line_item), when)
    for cli in session.added:
        line = LineItem(
            id=ids.gid("LineItem"),
            sku=cli.variant.sku if cli.variant else None,
            title=cli.title,
            variant_title=cli.variant_title,
            vendor=cli.variant.product.vendor if cli.variant and cli.variant.product else None,
            quantity=cli.quantity,
            price=cli.price,
            variant=cli.variant,
            order=order,
        )
        order.line_items_list.append(line)
        store.add(line)
        _increase(store, ids, line, cli.quantity, cli.location, when)
    session.committed = True
    order.edited = True
    order.edits.append({"calculated_order_id": session.id, "staff_note": staff_note, "at": when})
    if notify:
        order.notifications += 1
    store.touch(order, "order", when)
    return order


def _folis(line: LineItem) -> list[tuple[FulfillmentOrder, FulfillmentOrderLineItem]]:
    order = line.order
    pairs = [
        (fo, foli)
        for fo in (order.fulfillment_orders_list if order else [])
        if fo.status in TAKE_ORDER
        for foli in fo.line_items_list
        if foli.line_item is line
    ]
    return sorted(pairs, key=lambda p: (TAKE_ORDER[p[0].status], -p[0].legacy_resource_id))


def _reduce(store: Store, line: LineItem, units: int, restock: bool, when: datetime) -> None:
    for fo, foli in _folis(line):
        take = min(units, foli.remaining_quantity)
        if take <= 0:
            continue
        release_units(store, fo, foli, take, restock, when)
        foli.remaining_quantity -= take
        foli.total_quantity -= take
        units -= take
        if foli.total_quantity == 0:
            fo.line_items_list.remove(foli)
            store.nodes.pop(foli.id, None)
        fo.updated_at = when
        if fo.remaining == 0:
            close_fo(fo, when)
        if units == 0:
            return


def _line_location(store: Store, line: LineItem) -> Location | None:
    order = line.order
    for fo in order.fulfillment_orders_list if order else []:
        if any(foli.line_item is line for foli in fo.line_items_list):
            return fo.location
    return default_location(store, line.variant)


def _increase(
    store: Store,
    ids: IdAllocator,
    line: LineItem,
    units: int,
    location: Location | None,
    when: datetime,
) -> None:
    order = line.order
    assert order is not None
    here = [fo for fo in order.fulfillment_orders_list if fo.location is location]
    fo = next((f for f in here if f.status == "OPEN"), None)
    if fo is None:
        fo = FulfillmentOrder(
            id=ids.gid("FulfillmentOrder"),
            order=order,
            location=location,
            created_at=when,
            updated_at=when,
        )
        order.fulfillment_orders_list.append(fo)
        store.add(fo)
    foli = next((x for x in fo.line_items_list if x.line_item is line), None)
    if foli is None:
        foli = FulfillmentOrderLineItem(id=ids.gid("FulfillmentOrderLineItem"), line_item=line)
        fo.line_items_list.append(foli)
        store.add(foli)
    foli.total_quantity += units
    foli.remaining_quantity += units
    fo.updated_at = when
    commit_units(store, fo, foli, units, when)
