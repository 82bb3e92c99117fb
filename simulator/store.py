"""One simulated shop: its records, its bucket, its faults, its counters.

Every request to a store runs under ``store.lock``: Shopify is consistent per request from
the client's point of view, and serializing here keeps the simulator simple and race-free.
"""

from __future__ import annotations

import itertools
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator.faults import FaultPlan
from simulator.indexing import ATTRS
from simulator.models import (
    BulkOperation,
    InventoryItem,
    InventoryLevel,
    Location,
    Order,
    Product,
    ProductVariant,
    Record,
    gid,
)
from simulator.search_index import LaggedIndex

DEFAULT_SCOPES = [
    "read_orders",
    "write_orders",
    "read_all_orders",
    "read_products",
    "read_inventory",
    "write_inventory",
    "read_locations",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
    "read_fulfillments",
    "write_fulfillments",
]


class IdAllocator:
    """One counter for the whole simulator, so a GID never repeats across stores."""

    def __init__(self, start: int = 100_001) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._counter)

    def gid(self, typename: str) -> str:
        return gid(typename, self.next())


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(eq=False)
class Store:
    domain: str
    name: str
    plan: str
    token: str
    token_env: str
    ids: IdAllocator
    bucket: Any  # simulator.throttle.LeakyBucket
    index: LaggedIndex
    faults: FaultPlan
    currency: str = "USD"
    timezone: str = "America/Denver"
    email: str = ""
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    order_number: int = 1001
    fo_delay_seconds: float = 0.2
    #: Simulated seconds an ``orderCancel`` job takes (divided by the simulator's time scale).
    cancel_job_seconds: float = 1.0
    #: Whether ``InventoryLevel.updatedAt`` moves when only a quantity changes (FACTS §10.2
    #: leaves it unverified; a scenario can turn it off to exercise the full-read fallback).
    inventory_updated_at_moves: bool = True
    role: str = "retailer"
    locations: dict[str, Location] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    variants: dict[str, ProductVariant] = field(default_factory=dict)
    inventory_items: dict[str, InventoryItem] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    bulk_operations: dict[str, BulkOperation] = field(default_factory=dict)
    nodes: dict[str, Record] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, Any]] = field(default_factory=dict)
    failed_keys: set[str] = field(default_factory=set)  # IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED
    jobs: dict[str, Any] = field(default_factory=dict)  # models_changes.Job by GID
    counters: Counter = field(default_factory=Counter)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def shop_id(self) -> str:
        return gid("Shop", zlib.crc32(self.domain.encode()) % 10**8)

    def add(self, record: Record) -> Record:
        self.nodes[record.id] = record
        return record

    def next_order_name(self) -> str:
        name = f"#{self.order_number}"
        self.order_number += 1
        return name

    def primary_location(self) -> Location | None:
        for loc in self.locations.values():
            if loc.is_primary:
                return loc
        return next(iter(self.locations.values()), None)

    def touch(self, record: Record, kind: str, when: datetime | None = None) -> None:
        """Record a write: bump ``updated_at`` and feed the (lagging) search index."""
        if when is not None and hasattr(record, "updated_at"):
            record.updated_at = when  # type: ignore[attr-defined]
        attrs_fn, _fields = ATTRS[kind]
        self.index.record(kind, record.id, attrs_fn(record), time.monotonic())

    def seed_index(self) -> None:
        """Index every record as already searchable (records loaded from the scenario)."""
        groups = {
            "order": self.orders,
            "variant": self.variants,
            "item": self.inventory_items,
            "location": self.locations,
            "level": {lv.id: lv for loc in self.locations.values() for lv in loc.levels.values()},
        }
        for kind, records in groups.items():
            attrs_fn, _fields = ATTRS[kind]
            for record in records.values():
                self.index.seed(kind, record.id, attrs_fn(record))

    def change_level(
        self,
        level: InventoryLevel,
        when: datetime,
        *,
        available: int | None = None,
        committed: int = 0,
    ) -> int:
        """Change one level as Shopify does: set ``available`` (``on_hand`` follows) and/or
        move ``committed`` units out of ``available`` (a sale); returns the ``available``
        delta. ``updatedAt`` and the search index follow unless the store says they don't."""
        quantities = level.quantities_map
        before = quantities.get("available", 0)
        if available is not None:
            quantities["on_hand"] = quantities.get("on_hand", 0) + available - before
            quantities["available"] = available
        if committed:
            quantities["available"] = quantities.get("available", 0) - committed
            quantities["committed"] = quantities.get("committed", 0) + committed
        if self.inventory_updated_at_moves:
            self.touch(level, "level", when)
        if level.item is not None:
            self.touch(level.item, "item", when)
        return quantities["available"] - before

    def count(self, key: str, n: float = 1) -> None:
        self.counters[key] += n

    def counters_dict(self) -> dict[str, Any]:
        faults = {k.split(":", 1)[1]: v for k, v in self.counters.items() if k.startswith("fault:")}
        plain = {k: v for k, v in self.counters.items() if not k.startswith("fault:")}
        plain.setdefault("requests", 0)
        plain.setdefault("throttled", 0)
        plain.setdefault("cost_points", 0)
        plain["faults"] = faults
        plain["notifications"] = sum(
            f.notifications for o in self.orders.values() for f in o.fulfillments_list
        )
        return plain
