"""Actors that make the demo move on its own: a warehouse and shoppers. Both are seeded.

- The **warehouse** fulfils open hub orders: all lines or only some, in one shipment or
  several, each with a carrier, tracking number and URL, notifying the customer once per
  shipment. Only OPEN and IN_PROGRESS fulfillment orders ship: never a held or closed one.
  It writes the store directly (no GraphQL, no cost), as staff in the admin would.
- The **shopper** places new orders at retailers with the scenario's mix: mostly paid, some
  unpaid, cancelled, with SKUs the hub lacks, with lines at another location, or without a
  shipping address.
"""

from __future__ import annotations

import random
from typing import Any

from simulator.context import RequestContext, fo_visible
from simulator.factory import create_order
from simulator.mutations_fulfillment import apply_fulfillment
from simulator.orders_gen import one_order
from simulator.store import Store, utcnow
from simulator.versions import features_for

CARRIERS = {
    "UPS": "https://www.ups.com/track?tracknum={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
}


def _context(sim: Any, store: Store) -> RequestContext:
    return RequestContext(
        store=store,
        ids=sim.ids,
        version="2025-01",
        features=features_for("2025-01"),
        base_url=sim.base_url,
        now=utcnow(),
    )


def _tracking(rng: random.Random) -> list[dict[str, Any]]:
    carrier = rng.choice(sorted(CARRIERS))
    number = f"{carrier[:2].upper()}{rng.randint(10**9, 10**10 - 1)}"
    return [{"company": carrier, "number": number, "url": CARRIERS[carrier].format(number)}]


def run_warehouse(
    sim: Any,
    *,
    domain: str | None = None,
    seed: int = 0,
    fraction: float = 1.0,
    partial_rate: float = 0.2,
    split_rate: float = 0.2,
    max_orders: int | None = None,
    notify: bool = True,
) -> dict[str, Any]:
    """Fulfil open orders of the hub (or ``domain``); returns what shipped."""
    store = sim.store(domain) if domain else sim.hub()
    sim.settle(store)  # a cancel job that is due has happened before anyone ships
    rng = random.Random(seed)
    shipped: list[dict[str, Any]] = []
    with store.lock:
        context = _context(sim, store)
        for order in list(store.orders.values()):
            if max_orders is not None and len({s["order_id"] for s in shipped}) >= max_orders:
                break
            if order.cancelled_at is not None or not fo_visible(order) or rng.random() >= fraction:
                continue
            for fo in order.fulfillment_orders_list:
                items = [
                    (li, li.remaining_quantity)
                    for li in fo.line_items_list
                    if li.remaining_quantity
                ]
                if fo.status not in ("OPEN", "IN_PROGRESS") or not items:
                    continue
                if len(items) > 1 and rng.random() < partial_rate:
                    items = items[: rng.randint(1, len(items) - 1)]
                parts = [items]
                if len(items) > 1 and rng.random() < split_rate:
                    cut = rng.randint(1, len(items) - 1)
                    parts = [items[:cut], items[cut:]]
                for part in parts:
                    made = apply_fulfillment(context, [(fo, part)], _tracking(rng), notify)
                    shipped.append(
                        {
                            "order_id": order.id,
                            "order_name": order.name,
                            "fulfillment_id": made.id,
                            "tracking": [dict(t) for t in made.tracking],
                            "lines": [{"sku": li.line_item.sku, "quantity": q} for li, q in part],
                        }
                    )
    return {
        "store": store.domain,
        "fulfillments": shipped,
        "orders": len({s["order_id"] for s in shipped}),
    }


def commit_order_inventory(store: Store, order: Any) -> None:
    """A shopper's order commits its units at the locations it routed to: ``available``
    drops, ``committed`` rises (what every retailer's stock does on a sale)."""
    now = utcnow()
    for fo in order.fulfillment_orders_list:
        for foli in fo.line_items_list:
            item = foli.variant.inventory_item if foli.variant else None
            level = item.levels.get(fo.location.id) if item and fo.location else None
            if level is not None:
                store.change_level(level, now, committed=foli.total_quantity)
                foli.committed_quantity += foli.total_quantity


def run_shopper(
    sim: Any,
    *,
    domains: list[str] | None = None,
    count: int = 1,
    seed: int = 0,
    mix: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Place ``count`` new orders at each retailer (or each of ``domains``)."""
    rng = random.Random(seed)
    targets = (
        [sim.store(d) for d in domains]
        if domains
        else [s for s in sim.stores.values() if s.role != "hub"]
    )
    placed: list[dict[str, Any]] = []
    for store in targets:
        raw = next((s for s in sim.spec.get("stores") or [] if s["domain"] == store.domain), {})
        gen = {**(raw.get("order_generator") or {}), **({"mix": mix} if mix else {})}
        with store.lock:
            for _ in range(count):
                spec = one_order(store, gen, rng, utcnow())
                if spec is None:
                    continue
                order = create_order(store, sim.ids, spec)
                store.touch(order, "order")
                commit_order_inventory(store, order)
                placed.append(
                    {
                        "store": store.domain,
                        "order_id": order.id,
                        "name": order.name,
                        "financial_status": order.financial_status,
                        "cancelled": order.cancelled_at is not None,
                    }
                )
    return {"orders": placed}


def set_inventory(
    store: Store, sku: str, location: str, *, available: int | None, active: bool | None
) -> list[dict[str, Any]]:
    """See ``Simulator.set_inventory``; returns the changed levels."""
    loc = store.locations.get(location) or next(
        (loc for loc in store.locations.values() if loc.name == location), None
    )
    if loc is None:
        raise KeyError(f"no location {location!r} at {store.domain}")
    changed = []
    with store.lock:
        for item in [i for i in store.inventory_items.values() if i.sku == sku]:
            level = item.levels.get(loc.id)
            if level is None:
                continue
            if active is not None:
                level.is_active = active
            store.change_level(level, utcnow(), available=available)
            changed.append({"level_id": level.id, **level.quantities_map})
    if not changed:
        raise KeyError(f"{store.domain} stocks no {sku!r} at {loc.name}")
    return changed


def set_inventory_many(store: Store, changes: list[dict[str, Any]]) -> int:
    """Many hand changes at once (benchmarks): each ``{sku, location, available}``; SKUs
    are looked up once, not per change. Returns the levels changed."""
    by_sku: dict[str, list[Any]] = {}
    for item in store.inventory_items.values():
        by_sku.setdefault(item.sku, []).append(item)
    changed = 0
    with store.lock:
        now = utcnow()
        for change in changes:
            for item in by_sku.get(change["sku"], []):
                level = item.levels.get(change["location"])
                if level is not None:
                    store.change_level(level, now, available=int(change["available"]))
                    changed += 1
    return changed
