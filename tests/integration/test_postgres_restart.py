"""FAULTS P9: Postgres restarts in the middle of a run. The run fails (or retries) cleanly,
nothing is lost or duplicated, and the next run completes.

The warehouse lives on a private server (`tests.fixtures.restartable_postgres`) that the
test restarts with `pg_ctl restart -m fast`, which cuts every live session, as a failover
or an operator's restart does. The verdict comes from the stores: one hub order per
eligible retailer order (`assert_exactly_once`), every `orderCreate` the hub executed
accounted for, and every ledger link confirmed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from resources.postgres import PostgresResource, apply_migrations
from resources.registry import load_registry
from resources.shopify import ShopifyClient, ShopifyResource
from simulator import Simulator
from tests.fixtures.flows import FlowHarness, demo_scenario
from tests.fixtures.restartable_postgres import (
    RestartablePostgres,
    postgres_bin_dir,
    restartable_postgres_server,
)
from tests.integration.fault_worker import start_worker
from tests.integration.test_exactly_once_faults import (
    assert_exactly_once,
    executed,
    link_states,
    place,
    query,
)

pytestmark = pytest.mark.integration

RETAILER = "test-retail-store"  # sells no hub-less SKU: every placed order is eligible
ORDERS = 10


@pytest.fixture
def server() -> Iterator[RestartablePostgres]:
    """A private server: the shared test server must never restart under other tests."""
    if postgres_bin_dir() is None:
        pytest.skip("no Postgres binaries (initdb, pg_ctl) on this machine")
    with restartable_postgres_server() as started:
        yield started


@pytest.fixture
def flow(server: RestartablePostgres, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlowHarness]:
    """The demo stores in a simulator, the warehouse on the restartable server."""
    scenario = demo_scenario()
    sim = Simulator(scenario, time_scale=50.0)
    monkeypatch.setenv("SHOPSYNC_SHOPIFY_BASE_URL", sim.start())
    for store in scenario["stores"]:
        monkeypatch.setenv(store["token_env"], store["token"])
    url = server.create_database(f"shopsync_p9_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(url) as conn:
        apply_migrations(conn)
    monkeypatch.setenv("SHOPSYNC_DATABASE_URL", url)
    shopify = ShopifyResource(
        api_version="2025-01", retry_base_delay_seconds=0.05, read_timeout_seconds=5.0
    )
    harness = FlowHarness(sim=sim, registry=load_registry(), db_url=url, shopify=shopify)
    yield harness
    harness.close()
    sim.stop()


def restart_after(
    monkeypatch: pytest.MonkeyPatch, server: RestartablePostgres, operation: str, n: int
) -> list[int]:
    """Restart Postgres right after the n-th `operation` mutation returned: Shopify has
    committed it, the ledger has not recorded it yet (the worst moment to lose the
    database). Returns a list that holds n once the restart happened."""
    original, seen, fired = ShopifyClient.mutate, [0], []

    def mutate(self: ShopifyClient, op: str, variables: dict | None = None):
        result = original(self, op, variables)
        if op == operation and not fired:
            seen[0] += 1
            if seen[0] == n:
                server.restart()
                fired.append(n)
        return result

    monkeypatch.setattr(ShopifyClient, "mutate", mutate)
    return fired


def wait_then(
    proc: subprocess.Popen, ready: Callable[[], bool], action: Callable[[], None]
) -> None:
    """Poll `ready` while the worker runs, then `action` (fails if the worker ends first)."""
    deadline = time.monotonic() + 60
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"worker ended before the restart point:\n{out}\n{err[-3000:]}")
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGKILL)
            raise AssertionError("worker never reached the restart point")
        time.sleep(0.01)
    action()


def test_p9_restart_between_order_create_and_ledger_write(flow, server, monkeypatch) -> None:
    """FAULTS P9 (with O1): Postgres restarts after the 3rd hub order was created and
    before the ledger recorded it. The run fails with the database error (no half-state
    passed off as success); the next run finds that order at the hub instead of creating
    it again, imports the other seven, and every link ends confirmed."""
    placed = place(flow, RETAILER, count=ORDERS, seed=91)
    fired = restart_after(monkeypatch, server, "orders_create_hub", 3)
    with pytest.raises(psycopg.OperationalError):
        flow.import_orders(RETAILER, hours=2, reconcile_delay=0.05)
    assert fired == [3]
    assert executed(flow, "hub", "orderCreate") == 3
    assert link_states(flow) == {"confirmed": 2, "claimed": 1}  # the 3rd: made, not recorded

    # The next run (the hook fires once only: from here on it just passes through).
    _, stats = flow.import_orders(RETAILER, hours=2, reconcile_delay=0.05)
    assert (stats.healed, stats.created, stats.pending) == (1, len(placed) - 3, [])
    assert executed(flow, "hub", "orderCreate") == len(placed)  # none created twice
    assert link_states(flow) == {"confirmed": len(placed)}
    assert_exactly_once(flow)


def test_p9_orders_job_fails_cleanly_when_postgres_restarts_mid_run(flow, server) -> None:
    """FAULTS P9: the real `orders_job` in a worker process; Postgres restarts once some hub
    orders exist but not all. That run ends failed (not hung, not reported as a success);
    the next run of the same job, as a retry launches it, completes the partition without
    a duplicate."""
    placed = place(flow, RETAILER, count=ORDERS, seed=92)
    proc = start_worker("--retailer", RETAILER, "--mode", "job", "--slow", "0.15")
    wait_then(proc, lambda: executed(flow, "hub", "orderCreate") >= 3, server.restart)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err[-3000:]
    assert json.loads(out.strip().splitlines()[-1])["success"] is False, "the run must fail"
    before = executed(flow, "hub", "orderCreate")
    assert 3 <= before < len(placed), "the restart must land mid-partition"

    no_hold = {"orders_flow": {"config": {"hold_window_minutes": 0.0}}}
    result = flow.run_job("orders_job", RETAILER, _hours_ago(1), _hours_ago(0), ops=no_hold)
    assert result.success
    assert executed(flow, "hub", "orderCreate") == len(placed)
    assert link_states(flow) == {"confirmed": len(placed)}
    assert_exactly_once(flow)
    # The API-call ledger lost nothing either: the failed run's calls (buffered until the
    # run ends, i.e. written after the restart) are recorded next to the rerun's.
    recorded = query(flow, "SELECT count(*) FROM shopsync.api_calls"
                           " WHERE store = 'hub' AND operation = 'orders_create_hub'")  # fmt: skip
    assert recorded == [(len(placed),)]


def test_p9_pooled_connections_survive_a_restart(server) -> None:
    """FAULTS P9: a `PostgresResource` opened before the restart (a run's pool, shared by
    its retailers' steps and its report; the OAuth service's for its whole life) hands out
    a live connection afterwards instead of the dead sessions the restart left in it."""
    resource = PostgresResource(url=server.create_database(f"shopsync_p9_{uuid.uuid4().hex[:8]}"))
    try:
        with resource.get_connection() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS p9 (n int)")
        server.restart()
        for n in range(3):
            with resource.get_connection() as conn:
                conn.execute("INSERT INTO p9 VALUES (%s)", (n,))
        with resource.get_connection() as conn:
            assert conn.execute("SELECT count(*) FROM p9").fetchone() == (3,)
    finally:
        resource.close()


def _hours_ago(hours: int) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)
