"""The one typed parameter object every flow step takes, and what a step reports back.

A step works for one retailer over the run's windows: its clients, a warehouse
connection of its own (steps of different retailers run in parallel threads), the
run it belongs to and the moment the run started. Flow options (hold window,
customer notification, reconcile delay) ride along so a step never takes ten
positional arguments.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import psycopg

from resources.email_templates import OrderIssue
from resources.registry import Registry, RetailerConfig
from resources.shopify import ShopifyClient

Window = tuple[datetime, datetime]
T = TypeVar("T")


@dataclass(frozen=True)
class FlowOptions:
    """Knobs of the order and fulfillment steps (asset config in production)."""

    #: Override of the retailers' `hold_window_minutes` (None: each retailer's own).
    hold_window: timedelta | None = None
    notify_customer: bool = True
    #: Seconds to wait before re-reading after an ambiguous write (search and reads lag).
    reconcile_delay: float = 1.0
    #: Inventory: read both stores in full this run, whatever the cadence says.
    full_reconciliation: bool = False


class RunReads:
    """Store reads the retailers of one run share, made once per run (thread-safe).

    The hub's newest orders, read index-free, serve every retailer's store-side order
    checks: the hub's rate budget is shared, so one scan per run, not one per retailer.
    A scan starts before the run's earliest window less its lookback (`floor`), or
    earlier if a retailer needs older orders, and is extended only then."""

    def __init__(self, floor: datetime) -> None:
        self.floor = floor
        self._lock = threading.Lock()
        self._since: datetime | None = None
        self._hub_orders: list[dict] = []
        self._once: dict[str, object] = {}

    def once(self, name: str, read: Callable[[], T]) -> T:
        """`read()` the first time `name` is asked for in this phase of the run, then its
        result (the inventory flow's hub snapshot and pending demand: the same for every
        retailer once the previous phase has finished)."""
        with self._lock:
            if name not in self._once:
                self._once[name] = read()
            return self._once[name]  # type: ignore[return-value]

    def hub_orders_since(
        self, since: datetime, scan: Callable[[datetime], list[dict]]
    ) -> list[dict]:
        """Hub orders created since `since`, newest first, from one shared scan."""
        with self._lock:
            if self._since is None or since < self._since:
                self._since = min(since, self.floor - SHARED_SCAN_MARGIN)
                self._hub_orders = scan(self._since)
            return [o for o in self._hub_orders if order_created_at(o) >= since]


#: How far before `floor` the shared hub scan starts (claims a little older than the window).
SHARED_SCAN_MARGIN = timedelta(hours=1)


def order_created_at(order: dict) -> datetime:
    """`createdAt` of an order node as an aware datetime."""
    return datetime.fromisoformat(order["createdAt"].replace("Z", "+00:00"))


@dataclass
class RetailerStep:
    """One retailer's share of a run: config, clients, connection, windows, run."""

    retailer: RetailerConfig
    client: ShopifyClient  # the retailer's store
    hub: ShopifyClient
    conn: psycopg.Connection
    windows: list[Window]
    run_id: str | None
    now: datetime
    options: FlowOptions = field(default_factory=FlowOptions)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("shopsync.flows"))
    shared: RunReads | None = None  # the run's shared reads (set for the checks phase)
    registry: Registry | None = None  # the hub and the flows' settings

    @property
    def settings(self) -> Registry:
        if self.registry is None:
            raise RuntimeError("this step needs the registry (the runner sets it)")
        return self.registry

    @property
    def key(self) -> str:
        return self.retailer.key

    @property
    def hold_window(self) -> timedelta:
        """How long a new order waits before import (edits and cancels come in that time)."""
        if self.options.hold_window is not None:
            return self.options.hold_window
        return timedelta(minutes=self.retailer.hold_window_minutes)

    def span(self, lookback_hours: int = 0) -> Window:
        """[first start − lookback, last end) of the run's windows."""
        start = min(s for s, _ in self.windows) - timedelta(hours=lookback_hours)
        return start, max(e for _, e in self.windows)

    def at_step(self, name: str) -> RetailerStep:
        """Label the clients' next calls with the step (per-step cost in `api_calls`)."""
        for client in (self.client, self.hub):
            client.step, client.on_behalf_of = name, self.key
        return self


@dataclass
class StepReport:
    """What one step did for one retailer: counts for metadata, issues to alert on once,
    and messages about work left for the next run."""

    counts: dict[str, int] = field(default_factory=dict)
    issues: list[OrderIssue] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
