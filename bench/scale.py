"""Benchmark: one scheduled tick of each flow at 4 … 256 retailers, run as the daemon runs it.

Why: a tick (every 15 minutes, every retailer × the previous and current hour) is what the
system costs in steady state, and it grows with the number of retailers. The new execution
shape makes a flow's tick ONE Dagster run (one multi-asset step fanning out over the
retailers); the baseline (commit 8eb968c) launched one run per retailer-hour, each a process
that loads the code location, with a process per step and pools of one slot. This measures
both, side by side, on the same scenarios.

Per shape and retailer count N:

- a generated scenario: the demo hub (it sells every SKU) and N copies of the demo retailer
  `botanical-interests` (own keys, domains, token variables and location ids), each with
  about 4.5 orders an hour over the last 2 hours (the simulator's seeded generator, default
  mix); the simulator serves it in its own process; a registry with the N retailers;
- fresh warehouse and Dagster storage databases (`shopsync_bench_scale_*`) and a DAGSTER_HOME
  whose dagster.yaml is the shape's own `pipelines.instance.dagster_config` (Postgres storage,
  queued run coordinator, at most 4 concurrent runs, tag limits, pools);
- the shape's code location loaded from its `workspace.yaml` as the daemon loads it (a
  managed gRPC code server, the shape's tree first on PYTHONPATH); the registry sensor is
  evaluated in it and its partitions added;
- one tick of `orders_schedule` at the last quarter hour, through the scheduler daemon's own
  `launch_scheduled_runs_for_schedule` (schedule evaluated in the code server, runs created
  and queued), then the run-coordinator daemon's dequeue loop (`QueuedRunCoordinatorDaemon`,
  at the instance's dequeue interval) launching them with the DefaultRunLauncher (a run
  worker process per run, from the code server) until every run has finished;
- the simulated warehouse ships the hub orders, then one tick of `fulfillments_schedule`.

Per tick: runs; wall seconds from the first run created to the last run finished; CPU
seconds of this process (acting as the daemon) and every descendant except the simulator
(run workers that exit are counted through their parents' reaped-children times), with the
simulator's CPU (Shopify's side) and the Postgres server's (server-wide) reported apart;
peak RSS of one process and of all of them together; API calls and cost points recorded in
`shopsync.api_calls` for the tick's runs and counted by the simulator; hub orders created and
duplicates from the independent audit of the stores (`sync.audit`). A report: no timing is
asserted. Each tick stops after `--tick-timeout` seconds (its runs are cancelled).

    SHOPSYNC_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/scale.py [--quick | --sizes 4,16,64] [--skip-baseline]

Writes `bench/results/scale.json` and the `## Scale (bench/scale.py)` section of
`bench/README.md`. The new shape runs from a copy of the working tree taken at the start
(others may edit the tree meanwhile, and every run worker imports it afresh); the baseline
from a git worktree of 8eb968c (`--baseline-tree`, created if missing, never committed).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
import psycopg
import yaml

from pipelines.instance import sqlalchemy_psycopg2_url
from resources.postgres import database_url, with_database
from sync.audit import Audit, audit_stores

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scale.json"
README = ROOT / "bench" / "README.md"
README_HEADING = "## Scale (bench/scale.py)"
DEMO_SCENARIO = ROOT / "config" / "demo.yaml"
EXAMPLE_REGISTRY = ROOT / "config" / "retailers.example.yaml"
TEMPLATE_RETAILER = "botanical-interests"
BASELINE_COMMIT = "8eb968c"
BASELINE_TREE = Path(tempfile.gettempdir()) / "shopsync_baseline"
FLOWS = ("orders", "fulfillments")
SIZES, QUICK_SIZES, BASELINE_SIZES = (4, 16, 64, 256), (4, 16, 64), (4, 16)
TARGET_RETAILERS = 64
TARGETS = {"runs": 4, "cpu_s_per_retailer": 2.0, "wall_s": 180.0, "duplicates": 0}
LOG = logging.getLogger("bench.scale")
# Progress lines go to the terminal even while the case's fds point at its log file.
REPORT = os.fdopen(os.dup(1), "w", buffering=1)


def say(message: str) -> None:
    REPORT.write(f"[scale] {message}\n")


@dataclass(frozen=True)
class Shape:
    """One execution shape: its source tree and the retailer partitions it defines."""

    name: str
    root: Path
    partitions: tuple[str, ...]


# --- scenario and registry ---------------------------------------------------------------


def clone_retailer(store: dict, entry: dict, i: int, args: argparse.Namespace):
    """The template retailer's store and registry entry as retailer number `i`."""
    key = f"retailer-{i:03d}"
    store, entry = copy.deepcopy(store), copy.deepcopy(entry)
    domain = f"{key}.myshopify.com"
    token_env = f"SHOPSYNC_TOKEN_{key.upper().replace('-', '_')}"
    locations = [f"gid://shopify/Location/{90_000_000 + i * 10 + k}" for k in (1, 2)]
    for location, gid in zip(store["locations"], locations, strict=True):
        location["id"] = gid
    store.update(domain=domain, name=f"Retailer {i:03d}", token=f"shpat_bench_{key}",
                 token_env=token_env)  # fmt: skip
    store["order_generator"] = {
        "days": args.hours / 24,
        "per_day": round(args.per_hour * 24),
        "hubless_skus": store["order_generator"].get("hubless_skus", []),
    }
    entry.update(key=key, name=store["name"], shop_domain=domain, token_env=token_env,
                 hub_location_id=locations[0], notify=[f"ops@{key}.example"])  # fmt: skip
    entry["billing_address"] = {**entry["billing_address"], "company": f"Retailer {i:03d} LLC"}
    return store, entry


def build_inputs(n: int, args: argparse.Namespace) -> tuple[dict, dict]:
    """(scenario, registry) with the demo hub and `n` copies of the template retailer."""
    scenario = yaml.safe_load(DEMO_SCENARIO.read_text())
    registry = yaml.safe_load(EXAMPLE_REGISTRY.read_text())
    domain = f"{TEMPLATE_RETAILER}.myshopify.com"
    store = next(s for s in scenario["stores"] if s["domain"] == domain)
    entry = next(r for r in registry["retailers"] if r["key"] == TEMPLATE_RETAILER)
    clones = [clone_retailer(store, entry, i, args) for i in range(1, n + 1)]
    scenario["settings"]["seed"] = args.seed
    scenario["stores"] = [s for s in scenario["stores"] if s.get("role") == "hub"]
    scenario["stores"] += [s for s, _ in clones]
    # partitions_start is new since the baseline (whose registry forbids unknown keys);
    # both default to a start before today.
    registry.pop("partitions_start", None)
    registry["retailers"] = [e for _, e in clones]
    return scenario, registry


# --- processes: the shape's tree, the simulator, CPU and memory ---------------------------


PREPARE_CODE = """
import json, sys
import pipelines.instance as instance
from pipelines.demo import fresh_database
root, database, storage_url = sys.argv[1:4]
assert instance.__file__.startswith(root), f"imported {instance.__file__}, not from {root}"
print(json.dumps({"warehouse_url": fresh_database(database), "module": instance.__file__,
                  "dagster_yaml": instance.dagster_config(storage_url)}))
"""


def tree_env(shape: Shape, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(shape.root), **(extra or {})}


def prepare_tree(shape: Shape, admin: str, database: str, storage_url: str) -> dict[str, Any]:
    """Fresh warehouse database (the shape's migrations) and its dagster.yaml, computed by
    the shape's own code in a child process (the venv's editable install points at HEAD)."""
    env = tree_env(shape, {"SHOPSYNC_DATABASE_URL": admin})
    argv = [sys.executable, "-c", PREPARE_CODE, str(shape.root), database, storage_url]
    done = subprocess.run(argv, cwd=shape.root, env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"{shape.name} tree: {done.stderr.strip().splitlines()[-3:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fresh_dagster_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return sqlalchemy_psycopg2_url(with_database(admin, name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimServer:
    """The simulator in its own process: its CPU is Shopify's, not shopsync's."""

    def __init__(self, root: Path, scenario: Path, log: Path, args: argparse.Namespace) -> None:
        port = free_port()
        argv = [sys.executable, "-m", "simulator", "--scenario", str(scenario),
                "--port", str(port), "--time-scale", str(args.time_scale)]  # fmt: skip
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, cwd=root, stdout=out, stderr=out,
                                         env=tree_env(Shape("sim", root, ())))  # fmt: skip
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            try:
                self.stores = self.call("GET", "/_sim/stores")["stores"]
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"simulator did not start; see {log}") from None
                time.sleep(0.5)

    def call(self, method: str, path: str, payload: dict | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"}
        url = self.base_url + path  # http://127.0.0.1:port, built here
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback
            return json.load(response)

    def totals(self) -> dict[str, int]:
        """Requests, cost points and throttled responses summed over every store."""
        keys = ("requests", "cost_points", "throttled")
        counters = [self.call("GET", f"/_sim/stores/{s['domain']}/counters") for s in self.stores]
        return {k: sum(int(c.get(k, 0)) for c in counters) for k in keys}

    def audit(self, hub: str, retailers: dict[str, str]) -> Audit:
        states = {k: self.call("GET", f"/_sim/stores/{d}/state") for k, d in retailers.items()}
        return audit_stores(self.call("GET", f"/_sim/stores/{hub}/state"), states)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cpu_seconds(proc: psutil.Process) -> float:
    """Own CPU plus that of every child it has reaped (Linux adds reaped descendants)."""
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def tree(root: psutil.Process, excluded: set[int] = frozenset()) -> list[psutil.Process]:
    """`root` and its live or zombie descendants, without the subtrees rooted at `excluded`."""
    found = [root]
    for child in root.children():
        if child.pid not in excluded:
            with suppress(psutil.NoSuchProcess):
                found += tree(child, excluded)
    return found


def tree_cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        # One reaped between listing and reading is already in its parent's children times.
        with suppress(psutil.Error):
            total += cpu_seconds(proc)
    return total


@dataclass
class Sampler:
    """Samples RSS of the shopsync process tree while a tick runs; its own CPU is measured
    so that it can be subtracted from this process's."""

    excluded: set[int]
    interval: float = 0.2
    peak_rss: int = 0
    peak_rss_total: int = 0
    peak_processes: int = 0
    own_cpu: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = []
            for proc in tree(psutil.Process(), self.excluded):
                with suppress(psutil.Error):
                    rss.append(proc.memory_info().rss)
            self.peak_rss = max(self.peak_rss, *rss)
            self.peak_rss_total = max(self.peak_rss_total, sum(rss))
            self.peak_processes = max(self.peak_processes, len(rss))
        self.own_cpu = time.thread_time()


def postgres_server(url: str) -> psutil.Process | None:
    """The postmaster of `url`'s server when it runs on this machine, else None."""
    try:
        with psycopg.connect(url) as conn:  # the backend exits with its connection
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            return psutil.Process(backend).parent()
    except (psutil.Error, psycopg.Error):
        return None


# --- the daemon's work: sensor, schedule tick, run queue ---------------------------------


@dataclass
class Daemon:
    """What the daemon holds: the instance, the workspace (managed gRPC code servers) and
    the code location; `keep_fresh` does what its controller does every minute."""

    instance: dg.DagsterInstance
    context: Any  # WorkspaceProcessContext
    registry: Any  # GrpcServerRegistry
    location: Any
    repo: Any
    refreshed: float = field(default_factory=time.monotonic)
    reloads: int = 0

    def keep_fresh(self) -> None:
        """Like `DagsterDaemonController.check_workspace_freshness`: every 60 s the code
        servers are replaced (a new one loads the code; the old one finishes its runs)."""
        from dagster._daemon.controller import RELOAD_WORKSPACE_INTERVAL

        if time.monotonic() - self.refreshed > RELOAD_WORKSPACE_INTERVAL:
            self.registry.clear_all_grpc_endpoints()
            self.context.refresh_workspace()
            self.refreshed, self.reloads = time.monotonic(), self.reloads + 1


@contextmanager
def daemon_for(shape: Shape, home: Path) -> Iterator[Daemon]:
    """The shape's workspace as the daemon loads it (`create_test_daemon_workspace_context`
    with the registry kept, so that it can be refreshed as the controller does)."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.controller import create_daemon_grpc_server_registry

    target = WorkspaceFileTarget(paths=[str(shape.root / "workspace.yaml")])
    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        create_daemon_grpc_server_registry(instance) as registry,
        WorkspaceProcessContext(instance, target, grpc_server_registry=registry) as context,
    ):
        entries = context.create_request_context().get_code_location_entries()
        entry = next(iter(entries.values()))
        if entry.load_error:
            raise RuntimeError(f"code location failed to load: {entry.load_error.message}")
        location = entry.code_location
        repo = next(iter(location.get_repositories().values()))
        yield Daemon(instance, context, registry, location, repo)


def register_retailers(instance: dg.DagsterInstance, location: Any, repo: Any) -> list[str]:
    """Evaluate the registry sensor in the code server and apply its partition requests,
    as the sensor daemon does; returns the dynamic partitions definitions it filled."""
    data = location.get_sensor_execution_data(
        instance, repo.handle, "retailer_registry_sensor", None, None, None, None, None
    )
    names = []
    for request in data.dynamic_partitions_requests or []:
        names.append(request.partitions_def_name)
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return sorted(names)


def evaluate_tick(context: Any, schedule: Any, tick_time: datetime) -> Any:
    """One tick of `schedule` at `tick_time` by the scheduler daemon's own code: the schedule
    is evaluated in the code server and its runs are created and submitted (queued)."""
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
    )
    from dagster._scheduler.scheduler import launch_scheduled_runs_for_schedule

    instance = context.instance
    state = InstigatorState(
        schedule.get_remote_origin(), InstigatorType.SCHEDULE, InstigatorStatus.RUNNING,
        ScheduleInstigatorData(schedule.cron_schedule, start_timestamp=tick_time.timestamp() - 1),
    )  # fmt: skip
    instance.add_instigator_state(state)
    launch_scheduled_runs_for_schedule(
        context, LOG, schedule, state, datetime.now(UTC), max_catchup_runs=1,
        max_tick_retries=0,
        tick_retention_settings=instance.get_tick_retention_settings(InstigatorType.SCHEDULE),
        schedule_debug_crash_flags=None, submit_threadpool_executor=None,
        in_memory_last_iteration_timestamp=None,
    )  # fmt: skip
    return instance.get_ticks(schedule.get_remote_origin_id(), schedule.selector_id, limit=1)[0]


def drive_runs(daemon: Daemon, run_ids: list[str], timeout: float) -> tuple[list, bool]:
    """The run-coordinator daemon's dequeue loop until every run is finished (or the
    timeout: then the rest is cancelled); returns (run records, timed out)."""
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
        QueuedRunCoordinatorDaemon,
    )

    if not run_ids:
        return [], False
    instance, context = daemon.instance, daemon.context
    interval = instance.run_coordinator.dequeue_interval_seconds
    deadline, next_dequeue = time.monotonic() + timeout, 0.0
    with QueuedRunCoordinatorDaemon(interval_seconds=interval) as coordinator:
        while True:
            daemon.keep_fresh()
            if time.monotonic() >= next_dequeue:
                list(coordinator.run_iteration(context))
                next_dequeue = time.monotonic() + interval
            records = instance.get_run_records(dg.RunsFilter(run_ids=run_ids))
            if all(r.dagster_run.is_finished for r in records):
                return records, False
            if time.monotonic() > deadline:
                for record in records:
                    if not record.dagster_run.is_finished:
                        instance.run_coordinator.cancel_run(record.dagster_run.run_id)
                return instance.get_run_records(dg.RunsFilter(run_ids=run_ids)), True
            time.sleep(0.25)


# Long-lived processes a tick may start: a code server (workspace refresh), mp's tracker.
CODE_SERVER_OR_HELPER = re.compile(r"api grpc|resource_tracker")


def wait_for_workers(excluded: set[int], before: set[int], timeout: float = 60.0) -> int:
    """Wait until the run workers (processes born during the tick) have exited; returns how
    many were still alive at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for proc in tree(psutil.Process(), excluded):
            with suppress(psutil.Error):
                if (
                    proc.pid not in before
                    and proc.status() != psutil.STATUS_ZOMBIE
                    and not CODE_SERVER_OR_HELPER.search(" ".join(proc.cmdline()))
                ):
                    alive.append(proc.pid)
        if not alive or time.monotonic() > deadline:
            return len(alive)
        time.sleep(0.25)


def run_errors(instance: dg.DagsterInstance, records: list) -> list[str]:
    """The first lines of each failed run's error (step or run failure), at most 5 runs."""
    kinds = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    errors = []
    for record in [r for r in records if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS]:
        run = record.dagster_run
        lines = [f"{run.run_id[:8]} {run.status.value}"]
        for event in instance.all_logs(run.run_id, of_type=kinds):
            error = getattr(event.dagster_event.event_specific_data, "error", None)
            lines.append((error.message if error else event.message or "").strip()[:400])
        errors.append(" | ".join(lines))
    return errors[:5]


# --- one case: a shape at N retailers, both flows -----------------------------------------


@dataclass
class Case:
    """What one case shares across its two ticks."""

    shape: Shape
    retailers: dict[str, str]  # key -> shop domain
    hub: str
    warehouse_url: str
    sim: SimServer
    postgres: psutil.Process | None
    args: argparse.Namespace

    @property
    def excluded(self) -> set[int]:
        return {self.sim.proc.pid}


def measure_tick(case: Case, daemon: Daemon, flow: str) -> dict[str, Any]:
    """One tick of `flow`, measured from schedule evaluation to the last worker's exit."""
    now = datetime.now(UTC)
    tick_time = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    schedule = daemon.repo.get_schedule(f"{flow}_schedule")
    reloads = daemon.reloads
    me, sim = psutil.Process(), psutil.Process(case.sim.proc.pid)
    before_pids = {p.pid for p in tree(me, case.excluded)}
    cpu0, sim0, pg0 = tree_cpu(tree(me, case.excluded)), tree_cpu(tree(sim)), pg_cpu(case)
    host0 = host_busy()
    with Sampler(case.excluded) as sampler:
        started = time.time()
        daemon.keep_fresh()
        tick = evaluate_tick(daemon.context, schedule, tick_time)
        evaluated = time.time()
        records, timed_out = drive_runs(daemon, list(tick.run_ids), case.args.tick_timeout)
        stragglers = wait_for_workers(case.excluded, before_pids)
    cpu = tree_cpu(tree(me, case.excluded)) - cpu0 - sampler.own_cpu
    figures = run_figures(records, started)
    return {
        "tick_time": tick_time.isoformat(), "tick_status": tick.status.value,
        "tick_error": tick.error.message.strip()[:400] if tick.error else None,
        "runs": len(records), **figures, "timed_out": timed_out,
        "schedule_evaluation_s": round(evaluated - started, 1),
        "cpu_s": round(cpu, 1), "cpu_s_per_retailer": round(cpu / len(case.retailers), 2),
        "simulator_cpu_s": round(tree_cpu(tree(sim)) - sim0, 1),
        "postgres_cpu_s": round(pg_cpu(case) - pg0, 1) if case.postgres else None,
        "host_busy_cpu_s": round(host_busy() - host0, 1),  # every process on the machine
        "peak_rss_mb": round(sampler.peak_rss / 2**20),
        "peak_rss_total_mb": round(sampler.peak_rss_total / 2**20),
        "peak_processes": sampler.peak_processes, "stragglers": stragglers,
        "run_ids": [r.dagster_run.run_id for r in records],
        "workspace_reloads": daemon.reloads - reloads,
        "errors": ([f"tick {tick.status.value}: {tick.error.message.strip()[:400]}"]
                   if tick.error else []) + run_errors(daemon.instance, records),
    }  # fmt: skip


def host_busy() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def pg_cpu(case: Case) -> float:
    return tree_cpu(tree(case.postgres)) if case.postgres else 0.0


def run_figures(records: list, started: float) -> dict[str, Any]:
    """Run counts and times: wall from the first run created to the last run finished."""
    if not records:
        return {"runs_succeeded": 0, "runs_failed": 0, "wall_s": 0.0, "tick_s": 0.0}
    ends = [r.end_time or time.time() for r in records]
    durations = [(r.end_time or 0) - (r.start_time or 0) for r in records if r.start_time]
    ok = sum(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
    return {
        "runs_succeeded": ok,
        "runs_failed": len(records) - ok,
        "wall_s": round(max(ends) - min(r.create_timestamp.timestamp() for r in records), 1),
        "tick_s": round(max(ends) - started, 1),
        "run_s_median": round(statistics.median(durations), 1) if durations else None,
        "run_s_max": round(max(durations), 1) if durations else None,
    }


def outcome(case: Case, flow: str, tick: dict[str, Any], sim_before: dict) -> dict[str, Any]:
    """The tick's API use (ledger and simulator) and the audit of the stores after it."""
    sim_after = case.sim.totals()
    with psycopg.connect(case.warehouse_url) as conn:
        calls, points, throttled = conn.execute(
            "SELECT count(*), coalesce(sum(actual_cost), 0), count(*) FILTER (WHERE throttled)"
            " FROM shopsync.api_calls WHERE run_id = ANY(%s)",
            (tick["run_ids"],),
        ).fetchone()
        by_status = dict(conn.execute(
            "SELECT status, count(*) FROM shopsync.retailer_orders GROUP BY 1"
        ).fetchall())  # fmt: skip
    audit = case.sim.audit(case.hub, case.retailers)
    duplicates = audit.duplicate_hub_orders + audit.duplicate_retailer_fulfillments
    return {
        "shape": case.shape.name, "retailers": len(case.retailers), "flow": flow,
        **{k: tick[k] for k in ("runs", "wall_s", "cpu_s", "peak_rss_mb")},
        "api_calls": calls, "api_cost_points": int(points), "api_throttled": throttled,
        "simulator_requests": sim_after["requests"] - sim_before["requests"],
        "simulator_cost_points": sim_after["cost_points"] - sim_before["cost_points"],
        "hub_orders_created": audit.hub_orders,  # cumulative: the orders tick created them
        "duplicates": duplicates,
        "duplicate_hub_orders": audit.duplicate_hub_orders,
        "hub_shipments": audit.hub_fulfillments,
        "retailer_fulfillments_pushed": audit.retailer_fulfillments_pushed,
        "duplicate_retailer_fulfillments": audit.duplicate_retailer_fulfillments,
        "missing_retailer_fulfillments": audit.missing_retailer_fulfillments,
        "retailer_orders_by_status": by_status,
        **{k: v for k, v in tick.items() if k != "run_ids"},
    }  # fmt: skip


def run_flows(case: Case, home: Path) -> list[dict[str, Any]]:
    """Registry sensor, orders tick, warehouse shipping, fulfillments tick."""
    results = []
    with daemon_for(case.shape, home) as daemon:
        filled = register_retailers(daemon.instance, daemon.location, daemon.repo)
        if tuple(filled) != case.shape.partitions:
            raise RuntimeError(
                f"{case.shape.name}: code location defines {filled}, "
                f"expected {case.shape.partitions} (wrong tree loaded?)"
            )
        for flow in FLOWS:
            if flow == "fulfillments":
                time.sleep(1.0)  # hub fulfillment orders appear shortly after orderCreate
                case.sim.call("POST", "/_sim/actors/warehouse", {"seed": 7})
            before = case.sim.totals()
            tick = measure_tick(case, daemon, flow)
            results.append(outcome(case, flow, tick, before))
            say(f"{case.shape.name:<8} {len(case.retailers):>3} retailers {flow:<12} "
                f"{tick['runs']} runs, {tick['wall_s']} s, {tick['cpu_s']} CPU s"
                + (f", ERRORS {tick['errors'][:1]}" if tick["errors"] else ""))  # fmt: skip
    return results


@contextmanager
def case_environment(env: dict[str, str], cwd: Path, log: Path) -> Iterator[None]:
    """Environment variables and working directory of the case (workspace.yaml's
    `working_directory: .` is the process's), and fds 1 and 2 to its log file: the code
    server and the run workers inherit all three (their console logs would drown the report)."""
    saved_env, saved_cwd = {k: os.environ.get(k) for k in env}, os.getcwd()
    os.environ.update(env)
    os.chdir(cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = os.dup(1), os.dup(2)
    with log.open("ab") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), saved_fds, strict=True):
            os.dup2(saved, fd)
            os.close(saved)
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_case(shape: Shape, n: int, args: argparse.Namespace, admin: str) -> list[dict]:
    """Both flows of one shape at `n` retailers, on a fresh simulator and fresh databases."""
    work = Path(tempfile.mkdtemp(prefix=f"shopsync_bench_scale_{shape.name}_{n}_"))
    scenario, registry = build_inputs(n, args)
    (work / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    (work / "registry.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    storage = fresh_dagster_database(admin, f"shopsync_bench_scale_dagster_{shape.name}_{n}")
    prepared = prepare_tree(shape, admin, f"shopsync_bench_scale_{shape.name}_{n}", storage)
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(prepared["dagster_yaml"], sort_keys=False))
    log = work / "case.log"
    sim = SimServer(shape.root, work / "scenario.yaml", log, args)
    env = {s["token_env"]: s["token"] for s in scenario["stores"]}
    env.update(
        SHOPSYNC_SHOPIFY_BASE_URL=sim.base_url,
        SHOPSYNC_REGISTRY=str(work / "registry.yaml"),
        SHOPSYNC_DATABASE_URL=prepared["warehouse_url"],
        DAGSTER_HOME=str(home),
        PYTHONPATH=str(shape.root),
    )
    retailers = {r["key"]: r["shop_domain"] for r in registry["retailers"]}
    case = Case(shape, retailers, registry["hub"]["shop_domain"], prepared["warehouse_url"],
                sim, postgres_server(admin), args)  # fmt: skip
    try:
        with case_environment(env, shape.root, log):
            results = run_flows(case, home)
    finally:
        sim.stop()
    for result in results:
        result["log"] = str(log)
    return results


# --- report ------------------------------------------------------------------------------


COLUMNS = [
    ("shape", "shape"), ("retailers", "retailers"), ("flow", "flow"), ("runs", "runs"),
    ("failed", "runs_failed"), ("wall s", "wall_s"), ("CPU s", "cpu_s"),
    ("CPU s / retailer", "cpu_s_per_retailer"), ("peak RSS MB", "peak_rss_mb"),
    ("RSS all MB", "peak_rss_total_mb"), ("API calls", "api_calls"),
    ("cost pts", "api_cost_points"), ("hub orders", "hub_orders_created"),
    ("pushed", "retailer_fulfillments_pushed"), ("dups", "duplicates"),
    ("sim CPU s", "simulator_cpu_s"),
]  # fmt: skip


def markdown_table(cases: list[dict[str, Any]]) -> str:
    rows = ["| " + " | ".join(title for title, _ in COLUMNS) + " |",
            "|" + "---|" * len(COLUMNS)]  # fmt: skip
    for case in cases:
        rows.append("| " + " | ".join(str(case.get(key, "")) for _, key in COLUMNS) + " |")
    return "\n".join(rows)


def target_check(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets for the new shape at 64 retailers, per flow: met or not."""
    checks = []
    for case in cases:
        if case["shape"] != "new" or case["retailers"] != TARGET_RETAILERS:
            continue
        for key, limit in TARGETS.items():
            value = case[key]
            checks.append({"flow": case["flow"], "measure": key, "value": value,
                           "limit": limit, "met": value <= limit})  # fmt: skip
    return checks


def readme_section(report: dict[str, Any]) -> str:
    met = [f"{c['flow']} {c['measure']} {c['value']} (≤ {c['limit']}): "
           f"{'met' if c['met'] else 'MISSED'}" for c in report["targets"]]  # fmt: skip
    return "\n".join([
        README_HEADING, "",
        "One scheduled tick of `orders` then (after the simulated warehouse ships) of",
        "`fulfillments`, at N retailers, executed as the daemon executes it: the scheduler",
        "daemon's tick code evaluates the schedule in a gRPC code server, the run-coordinator",
        "daemon's loop dequeues the runs (at most 4 at once) and the DefaultRunLauncher starts a",
        "run worker per run. `new` is a copy of the working tree taken at the start (one run",
        "per flow tick); `baseline` is",
        f"{BASELINE_COMMIT} (one run per retailer-hour) from a git worktree. CPU s covers the",
        "bench process (acting as the daemon), the code server and every run worker and step",
        "process (the simulator's own CPU is the `sim CPU s` column); `hub orders` is the",
        "audit's count after the tick; `dups` the audit's duplicate hub orders + retailer",
        "fulfillments. Details per case (Postgres CPU, API throttling, run times, errors) in",
        "`bench/results/scale.json`. Targets at 64 retailers are reported, never asserted.", "",
        "```", report["command"], "```", "",
        f"Measured {report['date']} on {report['host']}, git {report['git']}, "
        f"{report['duration_s']} s in all.", "",
        markdown_table(report["cases"]), "",
        *(["Targets for `new` at 64 retailers:", "", *[f"- {m}" for m in met], ""] if met else []),
    ])  # fmt: skip


def write_readme(section: str) -> None:
    text = README.read_text()
    pattern = re.compile(rf"^{re.escape(README_HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)


# --- main --------------------------------------------------------------------------------


def baseline_shape(tree_path: Path) -> Shape:
    """The baseline worktree, created at BASELINE_COMMIT if it does not exist yet."""
    if not (tree_path / "workspace.yaml").exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree_path),
                        BASELINE_COMMIT], check=True, capture_output=True)  # fmt: skip
    head = subprocess.run(["git", "-C", str(tree_path), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    if not head.startswith(BASELINE_COMMIT):
        raise RuntimeError(f"{tree_path} is at {head[:12]}, not {BASELINE_COMMIT}")
    return Shape("baseline", tree_path, ("retailers",))


def git_state() -> str:
    run = lambda *a: subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True,  # noqa: E731
                                    text=True).stdout.strip()  # fmt: skip
    dirty = run("status", "--porcelain", "--untracked-files=no")
    return run("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if dirty else "")


def command_line() -> str:
    """The command as run (the database URL shown only when it carries no password)."""
    url = os.environ.get("SHOPSYNC_DATABASE_URL", "")
    password = psycopg.conninfo.conninfo_to_dict(url).get("password") if url else None
    prefix = f"SHOPSYNC_DATABASE_URL={url} " if url and not password else ""
    return (prefix + ".venv/bin/python bench/scale.py " + " ".join(sys.argv[1:])).strip()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 4, 16, 64 (no 256)")
    parser.add_argument("--sizes", help="comma-separated retailer counts, e.g. 4,16")
    parser.add_argument("--skip-baseline", action="store_true", help="only the new shape")
    parser.add_argument("--baseline-tree", type=Path, default=BASELINE_TREE)
    parser.add_argument("--per-hour", type=float, default=4.5, help="orders per retailer-hour")
    parser.add_argument("--hours", type=float, default=2.0, help="hours of order history")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulator bucket speed")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--tick-timeout", type=float, default=600.0, help="seconds per tick")
    args = parser.parse_args()
    args.sizes = (
        tuple(int(s) for s in args.sizes.split(","))
        if args.sizes
        else QUICK_SIZES
        if args.quick
        else SIZES
    )
    return args


def snapshot_tree() -> Path:
    """A frozen copy of the working tree (tracked and untracked files, not ignored ones):
    the tree may be edited while the bench runs, and every run worker imports it afresh."""
    target = Path(tempfile.mkdtemp(prefix="shopsync_bench_scale_tree_"))
    listing = ["git", "-C", str(ROOT), "ls-files", "-z", "-co", "--exclude-standard"]
    names = subprocess.run(listing, check=True, capture_output=True).stdout.split(b"\0")
    for name in filter(None, map(os.fsdecode, names)):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def plan(args: argparse.Namespace) -> list[tuple[Shape, int]]:
    new = Shape("new", snapshot_tree(), ("fulfillments_retailers", "orders_retailers"))
    cases = [(new, n) for n in args.sizes]
    if not args.skip_baseline:
        baseline = baseline_shape(args.baseline_tree)
        cases += [(baseline, n) for n in args.sizes if n in BASELINE_SIZES]
    return cases


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    admin = database_url()
    started, git_at_start = time.monotonic(), git_state()
    cases: list[dict[str, Any]] = []
    planned = plan(args)
    for shape, n in planned:
        say(f"{shape.name} shape, {n} retailers ...")
        try:
            cases += run_case(shape, n, args, admin)
        except Exception as exc:  # a crashed case is reported, the others still run
            say(f"{shape.name} at {n} retailers CRASHED: {type(exc).__name__}: {exc}")
            cases.append({"shape": shape.name, "retailers": n, "flow": "-",
                          "crashed": f"{type(exc).__name__}: {exc}"[:2000]})  # fmt: skip
    load = os.getloadavg()
    report = {
        "benchmark": "scale",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command_line(),
        # The tree may change while the bench runs (each run worker imports it afresh).
        "git": git_at_start,
        "git_at_end": git_state(),
        "baseline": BASELINE_COMMIT,
        "trees": {shape.name: str(shape.root) for shape, _ in planned},
        "host": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"
        f", load {load[0]:.1f} at the end",
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "duration_s": round(time.monotonic() - started),
        "targets": target_check([c for c in cases if "crashed" not in c]),
        "cases": cases,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    write_readme(readme_section(report))
    REPORT.write("\n" + markdown_table(cases) + "\n\n")
    for check in report["targets"]:
        REPORT.write(f"target {check}\n")
    REPORT.write(f"\nJSON: {RESULTS}\n")


if __name__ == "__main__":
    main()
