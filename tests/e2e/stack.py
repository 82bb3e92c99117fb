"""Start and stop what the browser test drives: the Shopify simulator and `dagster dev`.

Both run as real processes (`processes.py`) on free ports, against two scratch databases
on the test server (`SHOPSYNC_TEST_DATABASE_URL`, else the embedded one): the warehouse
and Dagster's instance storage. SHOPSYNC_HOME and DAGSTER_HOME are temporary folders, the
developer's `dagster` database is never touched, and processes and databases are removed
at the end, so the test runs the same on a laptop and on a fresh CI machine.

`dagster dev` is started the way `shopsync ui` starts it (same workspace, host and
Postgres `dagster.yaml` from `pipelines.instance`), but with a DAGSTER_HOME and
database of the test's own: `shopsync ui` always uses the server's `dagster` database.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

from pipelines.instance import dagster_config, sqlalchemy_psycopg2_url
from resources.paths import PROJECT_ROOT
from resources.postgres import apply_migrations
from resources.registry import DEFAULT_REGISTRY_PATH
from simulator.cli import env_lines
from tests.e2e.processes import Process, free_port, wait_until
from tests.fixtures.db import create_scratch_database, drop_database

SCENARIO = PROJECT_ROOT / "config" / "demo.yaml"
#: Two retailers keep the partition grid small (retailer × ~24-48 hours) and still show
#: one retailer failing while the other succeeds.
RETAILERS = ("epic-gardening", "nationwide-plants")
STARTUP_SECONDS = 150.0


def write_registry(path: Path, ui_url: str, now: datetime) -> Path:
    """The example registry cut to `RETAILERS`, partitions from yesterday (UTC) so the hour
    dimension is short, no hold window (a backfill run takes no run config)."""
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    raw["retailers"] = [r for r in raw["retailers"] if r["key"] in RETAILERS]
    for retailer in raw["retailers"]:
        retailer["hold_window_minutes"] = 0
    raw["partitions_start"] = (now - timedelta(days=1)).date()
    raw["notifications"]["ui_url"] = ui_url
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@dataclass
class Stack:
    """A running simulator + Dagster UI and how to reach them."""

    out: Path
    sim_url: str = ""
    ui_url: str = ""
    registry: Path = Path()
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    databases: list[tuple[str, str]] = field(default_factory=list)  # (admin url, url)

    @property
    def graphql_url(self) -> str:
        return f"{self.ui_url}/graphql"

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """Dagster's GraphQL API: for waiting on runs and cross-checking the UI."""
        response = httpx.post(
            self.graphql_url, json={"query": query, "variables": variables or {}}, timeout=30
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def sim_admin(self, path: str, payload: dict | None = None) -> Any:
        """The simulator's loopback admin API (`/_sim/...`), e.g. to inject faults."""
        url = f"{self.sim_url}/_sim/{path}"
        response = httpx.post(url, json=payload) if payload is not None else httpx.get(url)
        response.raise_for_status()
        return response.json()

    def spawn(self, name: str, argv: list[str], stop_signal: int = signal.SIGINT) -> Process:
        log = self.out / f"{name}.log"
        handle = log.open("w")
        popen = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        handle.close()
        process = Process(name, popen, log, stop_signal)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        for admin, url in self.databases:
            with contextlib.suppress(psycopg.Error):
                drop_database(admin, url)
        self.databases.clear()


def _scratch(stack: Stack, prefix: str) -> str:
    url, admin = create_scratch_database(prefix)
    stack.databases.append((admin, url))
    return url


def start_stack(out: Path, work: Path) -> Stack:
    """Databases, registry, simulator, then `dagster dev`; returns once the code location
    is loaded and the daemon is up. Stops what it started if anything fails."""
    stack = Stack(out=out)
    try:
        _start(stack, work)
    except BaseException:
        stack.stop()
        raise
    return stack


def _start(stack: Stack, work: Path) -> None:
    sim_port, ui_port = free_port(), free_port()
    stack.sim_url = f"http://127.0.0.1:{sim_port}"
    stack.ui_url = f"http://127.0.0.1:{ui_port}"
    warehouse = _scratch(stack, "shopsync_e2e")
    with psycopg.connect(warehouse) as conn:
        apply_migrations(conn)
    storage = _scratch(stack, "shopsync_e2e_dagster")
    home = work / "dagster_home"
    home.mkdir(parents=True)
    config = dagster_config(sqlalchemy_psycopg2_url(storage))
    # The project's instance, but the queue is polled every second, not every 5: a test
    # waits on each run it launches.
    config["run_coordinator"]["config"] = {"dequeue_interval_seconds": 1}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    stack.registry = write_registry(work / "retailers.yaml", stack.ui_url, datetime.now(UTC))
    exports = env_lines(str(SCENARIO), "127.0.0.1", sim_port)  # what --print-env prints
    tokens = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in exports)
    stack.env = {
        **os.environ, **tokens, "SHOPSYNC_DATABASE_URL": warehouse,
        "SHOPSYNC_REGISTRY": str(stack.registry), "SHOPSYNC_HOME": str(work / "shopsync_home"),
        "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    python = sys.executable
    sim = stack.spawn(
        "simulator",
        [python, "-m", "pipelines.cli", "simulator", "--scenario", str(SCENARIO),
         "--port", str(sim_port)],
        stop_signal=signal.SIGTERM,
    )  # fmt: skip
    ui = stack.spawn(
        "dagster_dev",
        [python, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(ui_port)],
    )  # fmt: skip
    wait_until("simulator", lambda: stack.sim_admin("stores")["stores"], 60, [sim.log])
    wait_until("Dagster UI", lambda: _ready(stack), STARTUP_SECONDS, [ui.log])


_READY = """
{
  workspaceOrError { ... on Workspace { locationEntries {
    locationOrLoadError { __typename ... on PythonError { message } } } } }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy } } }
}
"""


def _ready(stack: Stack) -> bool:
    """The code location is loaded and the daemons that launch runs report healthy."""
    data = stack.graphql(_READY)
    entries = data["workspaceOrError"]["locationEntries"]
    loaded = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
    for location in loaded:
        if location["__typename"] == "PythonError":
            raise RuntimeError(f"code location failed to load: {location['message']}")
    healthy = {
        s["daemonType"]
        for s in data["instance"]["daemonHealth"]["allDaemonStatuses"]
        if s["healthy"]
    }
    return bool(loaded) and {"QUEUED_RUN_COORDINATOR", "BACKFILL"} <= healthy
