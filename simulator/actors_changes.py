"""Actors that change orders after they were placed (FAULTS O12–O15), seeded like the others.

- The **shopper** (at a retailer, through its staff in the admin): cancels an open order,
  edits one (``actors_edits``: a quantity changed, a line removed, a line added) or refunds one.
- The **warehouse** (at the hub): cancels a hub order it will not ship, or (its fulfillment
  service) closes what is left of one as INCOMPLETE without cancelling the order.

They write the store directly, as staff would, with the same rules as the GraphQL mutations
(``simulator.order_changes``, ``simulator.order_edits``): a staff cancel is immediate (no
job), an edit is one committed session, each bumps ``updatedAt`` through the search index.
A chosen order that the rules refuse raises ``ValueError`` (the admin API answers 400).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from simulator.models import Order
from simulator.order_changes import add_refund, apply_cancel, cancel_refusal, close_incomplete
from simulator.order_edits import has_unfulfilled
from simulator.store import Store, utcnow


def store_for(sim: Any, domain: str | None, hub: bool) -> Store:
    if domain:
        return sim.store(domain)
    if hub:
        return sim.hub()
    return next(s for s in sim.stores.values() if s.role != "hub")


def pick_order(store: Store, order_id: str | None, rng: random.Random, ok: Any) -> Order:
    """The chosen order, or a random one for which ``ok(order)`` holds."""
    if order_id is not None:
        found = store.nodes.get(order_id)
        if not isinstance(found, Order):
            raise KeyError(f"no order {order_id!r} at {store.domain}")
        return found
    candidates = [o for o in store.orders.values() if ok(o)]
    if not candidates:
        raise ValueError(f"{store.domain} has no order this actor can change")
    return rng.choice(candidates)


def line_summary(order: Order) -> list[dict[str, Any]]:
    return [
        {"sku": li.sku, "quantity": li.quantity, "current_quantity": li.current_quantity}
        for li in order.line_items_list
    ]


def cancel_order(
    sim: Any,
    store: Store,
    order_id: str | None,
    rng: random.Random,
    work: dict[str, Any],
    ok: Any,
) -> dict[str, Any]:
    sim.settle(store)
    with store.lock:
        order = pick_order(store, order_id, rng, lambda o: cancel_refusal(o) is None and ok(o))
        refusal = cancel_refusal(order)
        if refusal:
            raise ValueError(f"{order.name} at {store.domain}: {refusal}")
        apply_cancel(store, sim.ids, order, work, utcnow())
        return {
            "store": store.domain,
            "order_id": order.id,
            "name": order.name,
            "financial_status": order.financial_status,
            "lines": line_summary(order),
        }


def shopper_cancel(
    sim: Any,
    *,
    domain: str | None = None,
    order_id: str | None = None,
    seed: int = 0,
    reason: str = "CUSTOMER",
    restock: bool = True,
    refund: bool = True,
    notify: bool = True,
) -> dict[str, Any]:
    """A retailer cancels an open order (a chosen one, or a random one not cancelled)."""
    work = {
        "reason": reason,
        "restock": restock,
        "refund": "original" if refund else None,
        "notify": notify,
        "staff_note": "Cancelled at the customer's request",
    }
    store = store_for(sim, domain, hub=False)
    return cancel_order(sim, store, order_id, random.Random(seed), work, has_unfulfilled)


def warehouse_cancel(
    sim: Any,
    *,
    domain: str | None = None,
    order_id: str | None = None,
    seed: int = 0,
    reason: str = "INVENTORY",
    restock: bool = True,
) -> dict[str, Any]:
    """The hub cancels an order it will not ship (a chosen one, or a random unshipped one)."""
    work = {
        "reason": reason,
        "restock": restock,
        "refund": None,
        "notify": False,
        "staff_note": "Cancelled by the warehouse: cannot ship",
    }
    store = store_for(sim, domain, hub=True)
    rng = random.Random(seed)
    return cancel_order(sim, store, order_id, rng, work, lambda o: not o.fulfillments_list)


def warehouse_close_incomplete(
    sim: Any, *, domain: str | None = None, order_id: str | None = None, seed: int = 0
) -> dict[str, Any]:
    """The hub cannot ship the rest of an order (a chosen one, or a random one with units
    left) and closes its open fulfillment orders INCOMPLETE; the order stays open."""
    store = store_for(sim, domain, hub=True)
    sim.settle(store)
    with store.lock:
        order = pick_order(store, order_id, random.Random(seed), _has_open_units)
        if order.cancelled_at is not None or not _has_open_units(order):
            raise ValueError(f"{order.name} at {store.domain} has nothing left to ship")
        units = close_incomplete(store, order, utcnow())
        return {"store": store.domain, "order_id": order.id, "name": order.name,
                "units_not_shipped": units, "lines": line_summary(order)}  # fmt: skip


def _has_open_units(order: Order) -> bool:
    return order.cancelled_at is None and any(
        fo.status in ("OPEN", "IN_PROGRESS") and fo.remaining
        for fo in order.fulfillment_orders_list
    )


def shopper_refund(
    sim: Any,
    *,
    domain: str | None = None,
    order_id: str | None = None,
    seed: int = 0,
    amount: str | float | None = None,
    note: str | None = "Refund requested by the customer",
) -> dict[str, Any]:
    """A retailer refunds money on a paid order (all of what is left when ``amount`` is None)."""
    store = store_for(sim, domain, hub=False)
    sim.settle(store)
    with store.lock:
        paid = ("PAID", "PARTIALLY_REFUNDED")
        order = pick_order(
            store,
            order_id,
            random.Random(seed),
            lambda o: o.financial_status in paid and o.cancelled_at is None,
        )
        owed = order.total_price - order.total_refunded
        value = owed if amount is None else Decimal(str(amount))
        if order.financial_status not in paid or not 0 < value <= owed:
            raise ValueError(f"{order.name} at {store.domain}: cannot refund {value} of {owed}")
        refund = add_refund(store, sim.ids, order, value, note, utcnow())
        return {
            "store": store.domain,
            "order_id": order.id,
            "name": order.name,
            "refund_id": refund.id,
            "amount": str(value),
            "financial_status": order.financial_status,
        }


def set_order(sim: Any, domain: str, order_id: str, **fields: Any) -> dict[str, Any]:
    """Test handle: put an order in a state the rules look at (``pending_authorization``,
    ``return_status``, ``financial_status``), as the payment gateway or a return would."""
    allowed = {"pending_authorization", "return_status", "financial_status"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"unknown order fields {sorted(unknown)}; known: {sorted(allowed)}")
    store = sim.store(domain)
    with store.lock:
        order = store.nodes.get(order_id)
        if not isinstance(order, Order):
            raise KeyError(f"no order {order_id!r} at {domain}")
        for name, value in fields.items():
            setattr(order, name, bool(value) if name == "pending_authorization" else value)
        store.touch(order, "order", utcnow())
        return {"order_id": order.id, **{k: getattr(order, k) for k in sorted(allowed)}}
