"""The ``Simulator``: scenario state, the GraphQL gateway and the Python-side test handles."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from simulator import engine
from simulator.context import RequestContext
from simulator.scenario import build_stores, load_spec
from simulator.snapshot import state as state_view
from simulator.store import IdAllocator, Store, utcnow
from simulator.versions import served_version


class Simulator:
    """A local Shopify Admin GraphQL API serving every store of a scenario.

    ``Simulator(scenario).start()`` returns the base URL; each store answers at
    ``{base}/{shop-domain}/admin/api/{version}/graphql.json``.
    """

    def __init__(
        self,
        scenario: str | Path | dict[str, Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        search_lag_seconds: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.spec = load_spec(scenario)
        self.host, self.port = host, port
        self.time_scale = time_scale
        self.search_lag_seconds = search_lag_seconds
        self.seed = seed
        self.base_url = f"http://{host}:{port}"
        self.stopping = threading.Event()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._build()

    # -- lifecycle ---------------------------------------------------------------------------

    def _build(self) -> None:
        start = int((self.spec.get("settings") or {}).get("id_start", 100_001))
        self.ids = IdAllocator(start)
        self.stores: dict[str, Store] = build_stores(
            self.spec,
            ids=self.ids,
            time_scale=self.time_scale,
            search_lag=self.search_lag_seconds,
            seed=self.seed,
        )
        for store in self.stores.values():
            store.seed_index()
        from simulator.bulk import BulkRunner

        self.bulk = BulkRunner(self)

    def start(self) -> str:
        from simulator.server import make_server

        self.stopping.clear()
        self._server = make_server(self, self.host, self.port)
        self.port = self._server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="shopify-simulator", daemon=True
        )
        self._thread.start()
        return self.base_url

    def serve_forever(self) -> None:
        """Run in the calling thread (the CLI)."""
        from simulator.server import make_server

        self._server = make_server(self, self.host, self.port)
        self.port = self._server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the scenario's initial state (same GIDs: the counter restarts)."""
        self._build()

    # -- gateway -----------------------------------------------------------------------------

    def url(self, domain: str, version: str = "2025-01") -> str:
        return f"{self.base_url}/{domain}/admin/api/{version}/graphql.json"

    def prepare(self, version: str, body: dict[str, Any]) -> tuple[engine.Prepared, str]:
        """Parse and validate a request for the version that serves ``version``."""
        served = served_version(version)
        return engine.prepare(served, body), served

    def execute(self, store: Store, prepared: Any, served: str) -> dict[str, Any]:
        self.settle(store)
        context = RequestContext(
            store=store,
            ids=self.ids,
            version=served,
            features=prepared.features,
            base_url=self.base_url,
            now=utcnow(),
            bulk_runner=self.bulk,
        )
        return engine.run(prepared, context)

    def settle(self, store: Store | None = None) -> int:
        """Run the asynchronous work that is due (orderCancel jobs) in ``store`` or in every
        store; the gateway does it before each request, the state views before reading."""
        from simulator.order_changes import run_due_jobs

        ran = 0
        for one in [store] if store is not None else list(self.stores.values()):
            with one.lock:
                ran += run_due_jobs(one, self.ids)
        return ran

    # -- Python-side handles for tests -------------------------------------------------------

    def store(self, domain: str) -> Store:
        try:
            return self.stores[domain]
        except KeyError:
            raise KeyError(
                f"no store {domain!r} in this scenario; have {sorted(self.stores)}"
            ) from None

    def set_faults(self, domain: str, **rates: Any) -> dict[str, Any]:
        plan = self.store(domain).faults
        plan.update(**rates)
        return plan.as_dict()

    def clear_faults(self, domain: str | None = None) -> None:
        for store in [self.store(domain)] if domain else self.stores.values():
            store.faults.clear()

    def counters(self, domain: str) -> dict[str, Any]:
        return self.store(domain).counters_dict()

    def state(self, domain: str) -> dict[str, Any]:
        self.settle(self.store(domain))
        return state_view(self.store(domain))

    def hub(self) -> Store:
        for store in self.stores.values():
            if store.role == "hub":
                return store
        raise KeyError("this scenario has no store with role: hub")

    def run_warehouse(self, **options: Any) -> dict[str, Any]:
        from simulator.actors import run_warehouse

        return run_warehouse(self, **options)

    def run_shopper(self, **options: Any) -> dict[str, Any]:
        from simulator.actors import run_shopper

        return run_shopper(self, **options)

    # -- order changes after import (FAULTS O12–O15; simulator/actors_changes.py) ----------

    def shopper_cancel(self, **options: Any) -> dict[str, Any]:
        """A retailer cancels an open order: ``domain``, ``order_id`` (else random), ``seed``,
        ``reason``, ``restock``, ``refund``, ``notify``."""
        from simulator.actors_changes import shopper_cancel

        return shopper_cancel(self, **options)

    def shopper_edit(self, **options: Any) -> dict[str, Any]:
        """A retailer edits an order: ``action`` quantity|remove|add, ``sku``, ``quantity``."""
        from simulator.actors_edits import shopper_edit

        return shopper_edit(self, **options)

    def shopper_refund(self, **options: Any) -> dict[str, Any]:
        """A retailer refunds money on a paid order (``amount``, default what is left)."""
        from simulator.actors_changes import shopper_refund

        return shopper_refund(self, **options)

    def warehouse_cancel(self, **options: Any) -> dict[str, Any]:
        """The hub cancels an order without shipping it (``order_id`` else a random one)."""
        from simulator.actors_changes import warehouse_cancel

        return warehouse_cancel(self, **options)

    def warehouse_close_incomplete(self, **options: Any) -> dict[str, Any]:
        """The hub closes what is left of an order INCOMPLETE, not cancelling it (O15)."""
        from simulator.actors_changes import warehouse_close_incomplete

        return warehouse_close_incomplete(self, **options)

    def set_order(self, domain: str, order_id: str, **fields: Any) -> dict[str, Any]:
        """Put an order in a state the cancel rules look at: ``pending_authorization``,
        ``return_status`` (OrderReturnStatus), ``financial_status``."""
        from simulator.actors_changes import set_order

        return set_order(self, domain, order_id, **fields)

    def set_inventory(
        self,
        domain: str,
        sku: str,
        location: str,
        *,
        available: int | None = None,
        active: bool | None = None,
    ) -> list[dict[str, Any]]:
        """A merchant's hand change in the admin: set ``available`` and/or (de)activate the
        level of every item with ``sku`` at ``location`` (a GID or a name)."""
        from simulator.actors import set_inventory

        return set_inventory(self.store(domain), sku, location, available=available, active=active)
