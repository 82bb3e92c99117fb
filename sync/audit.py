"""An independent audit of exactly-once, from the stores' own state.

Our ledgers say what we *think* we did; this reads what the stores actually hold
(plain JSON snapshots, e.g. the simulator's `/_sim/stores/{domain}/state`) and
counts duplicates and gaps. The demo, the fault tests and the benchmarks judge
the pipeline by it, never by the ledger alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.inventory import levels_frame, oversell_exposure, pair_skus, with_targets
from sync.order_keys import parse_source_key


@dataclass
class Audit:
    hub_orders: int = 0
    duplicate_hub_orders: int = 0
    duplicate_sources: list[str] = field(default_factory=list)
    hub_fulfillments: int = 0
    retailer_fulfillments_pushed: int = 0
    duplicate_retailer_fulfillments: int = 0
    missing_retailer_fulfillments: int = 0
    problems: list[str] = field(default_factory=list)


def _sources(order: Mapping[str, Any]) -> set[str]:
    attrs = [a.get("value") for a in order.get("custom_attributes") or [] if isinstance(a, dict)]
    candidates = [*order.get("tags", []), order.get("source_identifier") or "", *attrs]
    return {c for c in candidates if c and parse_source_key(c)}


def _tracking_key(fulfillment: Mapping[str, Any]) -> tuple[str, ...]:
    numbers = {t.get("number") for t in fulfillment.get("tracking") or [] if t.get("number")}
    return tuple(sorted(numbers))


def audit_stores(
    hub_state: Mapping[str, Any], retailer_states: Mapping[str, Mapping[str, Any]]
) -> Audit:
    """`retailer_states`: retailer key -> state. Shipments are matched by tracking numbers
    (every simulated and real carrier shipment has one); untracked ones are counted by units."""
    audit = Audit()
    by_source: dict[str, list[Mapping[str, Any]]] = {}
    for order in hub_state.get("orders", []):
        for key in _sources(order):
            by_source.setdefault(key, []).append(order)
    audit.hub_orders = sum(1 for o in hub_state.get("orders", []) if _sources(o))
    for key, orders in sorted(by_source.items()):
        if len(orders) > 1:
            audit.duplicate_hub_orders += len(orders) - 1
            audit.duplicate_sources.append(key)
    retailer_orders = {
        (key, o["id"]): o for key, state in retailer_states.items() for o in state.get("orders", [])
    }
    for source, orders in by_source.items():
        ref = parse_source_key(source)
        retailer_order = retailer_orders.get((ref.retailer_key, ref.order_gid)) if ref else None
        shipped = [f for o in orders for f in o.get("fulfillments", []) if f["status"] == "SUCCESS"]
        audit.hub_fulfillments += len(shipped)
        if retailer_order is None:
            if shipped:
                audit.problems.append(f"{source}: retailer order not found in its store")
            continue
        _compare(audit, source, shipped, retailer_order.get("fulfillments", []))
    return audit


def _compare(audit: Audit, source: str, hub: list, retailer: list) -> None:
    live = [f for f in retailer if f.get("status") != "CANCELLED"]
    audit.retailer_fulfillments_pushed += len(live)
    wanted = Counter(_tracking_key(f) for f in hub)
    have = Counter(_tracking_key(f) for f in live)
    for key in set(wanted) | set(have):
        extra, missing = have[key] - wanted[key], wanted[key] - have[key]
        if extra > 0:
            audit.duplicate_retailer_fulfillments += extra
            audit.problems.append(f"{source}: {extra} extra retailer fulfillment(s) {key}")
        if missing > 0:
            audit.missing_retailer_fulfillments += missing
            audit.problems.append(f"{source}: {missing} hub shipment(s) not pushed {key}")


@dataclass
class InventoryAudit:
    """Stock as the stores hold it, judged against the targets of `sync.inventory`."""

    skus_compared: int = 0
    drift: int = 0  # paired SKUs whose shown stock is not their target
    oversell_exposure: int = 0  # units shown beyond what the hub can ship after pending
    off_target: list[str] = field(default_factory=list)  # "retailer:SKU shown≠target"


def store_levels(state: Mapping[str, Any], location_id: str) -> list[dict[str, Any]]:
    """One store's levels at a location, from its state snapshot (`inventory` rows)."""
    return [
        {"item_id": row["inventory_item_id"], "sku": row["sku"], "available": row["available"]}
        for row in state.get("inventory", [])
        if row["location_id"] == location_id
    ]


def audit_inventory(
    hub_levels: list[dict[str, Any]],
    retailer_levels: Mapping[str, list[dict[str, Any]]],
    pending: Mapping[str, int],
    safety: Mapping[str, Any],
) -> InventoryAudit:
    """Per retailer (key -> its levels at its hub location; `safety` key -> SafetyStock):
    every SKU both stores carry once must show `max(0, hub − safety − pending)`."""
    audit = InventoryAudit()
    hub = levels_frame(hub_levels)
    for key, levels in sorted(retailer_levels.items()):
        pairs = pair_skus(hub, levels_frame(levels)).pairs
        targets = with_targets(pairs, pending, safety[key])
        off = targets[targets["available"] != targets["target"]]
        audit.skus_compared += len(targets)
        audit.drift += len(off)
        audit.off_target += [
            f"{key}:{r.sku} shows {r.available}, target {r.target}" for r in off.itertuples()
        ]
        audit.oversell_exposure += int(oversell_exposure(targets)["exposure"].sum())
    return audit
