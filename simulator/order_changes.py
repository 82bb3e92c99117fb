"""What happens to an order after it was placed: cancellation (a job), refunds, holds.

Shared by the GraphQL mutations (``mutations_order_changes``) and the actors
(``actors_changes``), so a staff action in the admin and an API call change a store the same
way. Every change bumps the order's ``updatedAt`` and feeds the (lagging) search index.

- **Cancel** (FACTS §10.4): refused while the order is already cancelled (or a cancel job is
  running), while a payment authorization is still pending, or while a return is active.
  ``orderCancel`` only queues a :class:`Job`; the order changes when the job runs,
  ``store.cancel_job_seconds / time_scale`` later (:func:`run_due_jobs`, called before every
  request). Open fulfillment orders close with nothing left; committed units of what was not
  fulfilled are released: back to ``available`` with ``restock``, else out of ``on_hand``.
  An authorized payment is voided; a paid one is refunded when asked.
Holds live in ``simulator.order_holds``, edits in ``simulator.order_edits``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulator.models import FulfillmentOrder, FulfillmentOrderLineItem, Order
from simulator.models_changes import Job, Refund
from simulator.store import IdAllocator, Store

ACTIVE_RETURNS = ("RETURN_REQUESTED", "IN_PROGRESS")
OPEN_FO = ("OPEN", "IN_PROGRESS", "ON_HOLD")
PAID = ("PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED")


# -- inventory ---------------------------------------------------------------------------------


def _level(fo: FulfillmentOrder, foli: FulfillmentOrderLineItem) -> Any:
    item = foli.variant.inventory_item if foli.variant else None
    return item.levels.get(fo.location.id) if item and fo.location else None


def commit_units(
    store: Store, fo: FulfillmentOrder, foli: FulfillmentOrderLineItem, units: int, when: datetime
) -> None:
    """Commit ``units`` more of a line at its FO's location (``available`` → ``committed``)."""
    level = _level(fo, foli)
    if level is not None and units > 0:
        store.change_level(level, when, committed=units)
        foli.committed_quantity += units


def release_units(
    store: Store,
    fo: FulfillmentOrder,
    foli: FulfillmentOrderLineItem,
    units: int,
    restock: bool,
    when: datetime,
) -> int:
    """Release up to ``units`` committed units of a line that will not ship: back to
    ``available`` when restocked, else gone from ``on_hand``. Returns the units released."""
    units = min(units, foli.committed_quantity)
    level = _level(fo, foli)
    if units <= 0 or level is None:
        return 0
    foli.committed_quantity -= units
    quantities = level.quantities_map
    quantities["committed"] = quantities.get("committed", 0) - units
    if restock:
        quantities["available"] = quantities.get("available", 0) + units
    else:
        quantities["on_hand"] = quantities.get("on_hand", 0) - units
    store.change_level(level, when)  # updatedAt and the index follow
    return units


def close_fo(fo: FulfillmentOrder, when: datetime) -> None:
    """Nothing left to do: CLOSED (a cancelled order's FOs too; the exact status Shopify gives
    those is UNVERIFIED, the existing scenario cancel uses CLOSED as well)."""
    fo.status = "CLOSED"
    fo.holds.clear()
    fo.held_from = None
    fo.updated_at = when


def close_incomplete(store: Store, order: Order, when: datetime) -> int:
    """The hub's fulfillment service gives up on what is left (`fulfillmentOrderClose`):
    each open fulfillment order with units left becomes INCOMPLETE, its remaining units
    stay on it (never shipped) and their stock goes back to available. Returns the units."""
    units = 0
    for fo in order.fulfillment_orders_list:
        if fo.status not in ("OPEN", "IN_PROGRESS") or not fo.remaining:
            continue
        for foli in fo.line_items_list:
            release_units(store, fo, foli, foli.remaining_quantity, True, when)
            units += foli.remaining_quantity
        fo.status = "INCOMPLETE"
        fo.updated_at = when
    store.touch(order, "order", when)
    return units


# -- refunds -----------------------------------------------------------------------------------


def add_refund(
    store: Store, ids: IdAllocator, order: Order, amount: Decimal, note: str | None, when: datetime
) -> Refund:
    """Record a refund of money (no line items) and recompute the financial status."""
    refund = Refund(
        id=ids.gid("Refund"),
        order=order,
        amount=amount,
        note=note,
        created_at=when,
        updated_at=when,
    )
    order.refunds_list.append(refund)
    store.add(refund)
    full = order.total_refunded >= order.total_price
    order.financial_status = "REFUNDED" if full else "PARTIALLY_REFUNDED"
    store.touch(order, "order", when)
    return refund


# -- cancel ------------------------------------------------------------------------------------


def cancel_refusal(order: Order) -> str | None:
    """Why ``order`` cannot be cancelled now (Shopify's documented criteria), or None."""
    if order.cancelled_at is not None:
        return "Order has already been cancelled."
    if order.cancel_job_id is not None:
        return "Order is already being cancelled."
    if order.pending_authorization:
        return "Order has a pending payment authorization and cannot be cancelled."
    if order.return_status in ACTIVE_RETURNS:
        return "Order has an active return and cannot be cancelled."
    return None


def start_cancel(store: Store, ids: IdAllocator, order: Order, work: dict[str, Any]) -> Job:
    """Queue the cancel of a cancellable order; ``work`` holds the mutation's arguments."""
    delay = store.cancel_job_seconds / store.bucket.time_scale
    job = Job(id=ids.gid("Job"), ready_at=time.monotonic() + delay, order=order, work=work)
    store.jobs[job.id] = job
    order.cancel_job_id = job.id
    return job


def run_due_jobs(store: Store, ids: IdAllocator) -> int:
    """Run every job whose time has come (call under ``store.lock``); returns how many."""
    now = time.monotonic()
    due = [j for j in store.jobs.values() if not j.finished and j.ready_at <= now]
    for job in sorted(due, key=lambda j: j.ready_at):
        # the work "happened" when it was due, not when someone next looked
        when = (datetime.now(UTC) - timedelta(seconds=now - job.ready_at)).replace(microsecond=0)
        if job.order is not None:
            apply_cancel(store, ids, job.order, job.work, when)
        job.finished = True
    return len(due)


def apply_cancel(
    store: Store, ids: IdAllocator, order: Order, work: dict[str, Any], when: datetime
) -> None:
    """Cancel now. ``work``: reason, restock, refund (None, "original" or "store_credit"),
    notify, staff_note."""
    for fo in order.fulfillment_orders_list:
        if fo.status not in OPEN_FO:
            continue
        for foli in fo.line_items_list:
            release_units(store, fo, foli, foli.remaining_quantity, bool(work["restock"]), when)
            foli.remaining_quantity = 0
        close_fo(fo, when)
    order.cancelled_at = when
    order.cancel_reason = work.get("reason") or "OTHER"
    order.cancel_staff_note = work.get("staff_note")
    order.cancel_job_id = None
    if work.get("notify"):
        order.notifications += 1
    if order.financial_status == "AUTHORIZED":  # "authorized payments will be voided"
        order.financial_status = "VOIDED"
    elif work.get("refund") and order.financial_status in PAID:
        owed = order.total_price - order.total_refunded
        if owed > 0:
            note = "Refunded to store credit" if work["refund"] == "store_credit" else None
            add_refund(store, ids, order, owed, note, when)
    store.touch(order, "order", when)
