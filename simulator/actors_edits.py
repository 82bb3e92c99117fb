"""The shopper's order edits at a retailer (FAULTS O14): a quantity changed, a line removed or
a line added, committed as one edit session exactly as ``orderEditCommit`` would commit it
(``simulator.order_edits``), with the customer notified once."""

from __future__ import annotations

import random
from typing import Any

from simulator.actors_changes import line_summary, pick_order, store_for
from simulator.models import Order
from simulator.models_changes import CalculatedLineItem, CalculatedOrder
from simulator.order_edits import (
    begin_edit,
    commit_edit,
    commit_refusal,
    default_location,
    edit_refusal,
    has_unfulfilled,
)
from simulator.store import IdAllocator, Store, utcnow

EDIT_ACTIONS = ("quantity", "remove", "add")


def shopper_edit(
    sim: Any,
    *,
    domain: str | None = None,
    order_id: str | None = None,
    seed: int = 0,
    action: str | None = None,
    sku: str | None = None,
    quantity: int | None = None,
    restock: bool = True,
) -> dict[str, Any]:
    """Edit a chosen (else a random editable) order: ``quantity`` sets a line (of ``sku``, else
    a random unfulfilled one) to ``quantity`` units (else a random other number), ``remove``
    takes off its unfulfilled units, ``add`` adds ``quantity`` units of ``sku`` (else of a
    random variant not on the order). Lines may not go below what was fulfilled."""
    store = store_for(sim, domain, hub=False)
    rng = random.Random(seed)
    action = action or rng.choice(EDIT_ACTIONS)
    if action not in EDIT_ACTIONS:
        raise ValueError(f"unknown edit action {action!r}; known: {EDIT_ACTIONS}")
    sim.settle(store)
    with store.lock:
        order = pick_order(
            store, order_id, rng, lambda o: edit_refusal(o) is None and has_unfulfilled(o)
        )
        refusal = edit_refusal(order)
        if refusal:
            raise ValueError(f"{order.name} at {store.domain}: {refusal}")
        session = begin_edit(store, sim.ids, order)
        if action == "add":
            _stage_add(store, sim.ids, session, rng, sku, quantity)
        else:
            _stage_change(session, action == "remove", rng, sku, quantity, restock)
        refused = commit_refusal(session)
        if refused:
            raise ValueError(f"{order.name} at {store.domain}: {refused[1]}")
        note = f"shopper edit: {action}"
        commit_edit(store, sim.ids, session, staff_note=note, notify=True, when=utcnow())
        return {
            "store": store.domain,
            "order_id": order.id,
            "name": order.name,
            "action": action,
            "lines": line_summary(order),
        }


def _stage_change(
    session: CalculatedOrder,
    remove: bool,
    rng: random.Random,
    sku: str | None,
    quantity: int | None,
    restock: bool,
) -> None:
    lines = [c for c in session.lines if c.quantity > c.fulfilled and (sku is None or c.sku == sku)]
    if not lines:
        raise ValueError(f"no unfulfilled line{f' with SKU {sku}' if sku else ''} to edit")
    line = rng.choice(lines)
    if remove:
        line.quantity = line.fulfilled
    elif quantity is not None:
        line.quantity = int(quantity)
    else:
        others = range(max(1, line.fulfilled), line.quantity + 3)
        line.quantity = rng.choice([n for n in others if n != line.quantity])
    line.restock = restock


def _stage_add(
    store: Store,
    ids: IdAllocator,
    session: CalculatedOrder,
    rng: random.Random,
    sku: str | None,
    quantity: int | None,
) -> None:
    order: Order = session.original_order  # type: ignore[assignment]
    have = {li.variant for li in order.line_items_list if li.current_quantity > 0}
    variants = sorted(
        (v for v in store.variants.values() if v not in have and v.sku),
        key=lambda v: v.legacy_resource_id,
    )
    variants = [v for v in variants if sku is None or v.sku == sku]
    if not variants:
        raise ValueError(f"no variant{f' with SKU {sku}' if sku else ''} to add to {order.name}")
    variant = rng.choice(variants)
    first = next(iter(order.fulfillment_orders_list), None)  # the lines' location (the hub's)
    added = CalculatedLineItem(
        id=ids.gid("CalculatedLineItem"),
        variant=variant,
        location=first.location if first else default_location(store, variant),
        quantity=int(quantity) if quantity else rng.randint(1, 2),
    )
    session.added.append(added)
