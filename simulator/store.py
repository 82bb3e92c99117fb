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
from collections.abc import Iterator
from contextlib import contextmanager
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
from simulator.oauth import AppCredentials, OAuthSettings, OAuthState
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
    "write_order_edits",
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
    #: What the app was granted in this store (``scopes`` reads the request's token instead
    #: while a request authenticated with an OAuth token runs: see ``acting_with``).
    granted_scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
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
    #: Set by the scenario; a store built by hand gets the legacy static token only.
    oauth: OAuthState = field(default=None, repr=False)  # type: ignore[assignment]
    _request: threading.local = field(default_factory=threading.local, repr=False)

    def __post_init__(self) -> None:
        if self.oauth is None:
            app = AppCredentials.from_spec({})
            self.oauth = OAuthState(self.domain, app, OAuthSettings())

    # -- authentication (simulator/oauth.py holds the rules) ---------------------------------

    @property
    def scopes(self) -> list[str]:
        override = getattr(self._request, "scopes", None)
        return list(self.granted_scopes if override is None else override)

    @scopes.setter
    def scopes(self, value: list[str]) -> None:
        self.granted_scopes = list(value)

    def authenticate(self, presented: str | None) -> tuple[bool, list[str] | None]:
        """Is ``X-Shopify-Access-Token`` good here? Also the token's scopes (None: static)."""
        return self.oauth.authenticate(presented, self.token)

    @contextmanager
    def acting_with(self, scopes: list[str] | None) -> Iterator[None]:
        """Serve this thread's request with the scopes of the token it presented."""
        previous = getattr(self._request, "scopes", None)
        self._request.scopes = scopes
        try:
            yield
        finally:
            self._request.scopes = previous

    def expire_access_tokens(self, *, refresh: bool = False) -> int:
        """Every issued access token (and refresh token with ``refresh``) expires now."""
        return self.oauth.expire_access_tokens(refresh=refresh)

    def revoke_tokens(self) -> int:
        """Revoke every access and refresh token and the static token (app uninstalled)."""
        return self.oauth.revoke_all()

    def set_token_ttl(self, **ttls: float | None) -> dict[str, Any]:
        """``access_token_ttl_seconds``, ``refresh_token_ttl_seconds``, ``code_ttl_seconds``
        of tokens issued from now on."""
        return self.oauth.set_ttl(**ttls)

    def oauth_status(self) -> dict[str, Any]:
        """Grant, lifetimes, token states and OAuth counters (no token values)."""
        return {**self.oauth.status(), "unauthorized_total": self.counters["unauthorized"]}

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
        plain["oauth"] = self.oauth.status()["counters"]
        plain["notifications"] = sum(
            f.notifications for o in self.orders.values() for f in o.fulfillments_list
        )
        return plain
