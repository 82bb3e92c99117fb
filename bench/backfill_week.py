"""Benchmark: a 7-day orders backfill for one retailer, batched vs one run per hour.

A week of history (20 orders a day by default, from the simulator's seeded order generator)
sits in one retailer's store. The orders job (`retailer_orders` + `hub_orders` and their
checks) is run over the week's 168 hourly partitions two ways, each on a fresh simulator and
a fresh database built from the same scenario and seed:

- **batched**: 7 runs, each carrying a 24-hour partition range
  (`dagster/asset_partition_range_*` tags), as a backfill split into days launches them
  (the assets' `BackfillPolicy.single_run()` makes a UI backfill one run per contiguous range);
- **per hour**: 168 runs of one partition each, what a backfill without a policy launches.

Each run is a real `execute_in_process` of `orders_job` on a throw-away Dagster instance, in
one warm process; what a process per run would add (interpreter, definitions, Great
Expectations) is measured once and reported as `process_starts_seconds`. Prints one JSON
report (wall time, runs, requests and cost points as the simulator counted them and as
`shopsync.api_calls` recorded them, hub orders created, duplicates by the independent audit)
and appends one markdown line to `bench/results/backfill_week.md`. The simulator's figures
are the complete ones: the asset checks' own Shopify reads are not recorded in `api_calls`.

    .venv/bin/python bench/backfill_week.py [--retailer epic-gardening] [--per-day 20]
        [--days 7] [--per-run 24] [--time-scale 1] [--skip-per-hour]

Postgres: `SHOPSYNC_DATABASE_URL`'s server, else the embedded one; two scratch databases
(`shopsync_bench_backfill_*`) are recreated on every run.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import yaml

from assets.partitions import partition_key, retailers_partitions_name
from pipelines.demo import DEMO_SCENARIO, fresh_database
from resources.registry import load_registry
from simulator import Simulator
from sync.audit import audit_stores

RESULTS = Path(__file__).resolve().parent / "results" / "backfill_week.md"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def scenario(retailer_domain: str, days: int, per_day: int) -> dict[str, Any]:
    """The demo stores, with history only at the benchmarked retailer."""
    spec = copy.deepcopy(yaml.safe_load(DEMO_SCENARIO.read_text()))
    for store in spec["stores"]:
        store.pop("order_generator", None)
        if store["domain"] == retailer_domain:
            store["order_generator"] = {"days": days, "per_day": per_day}
    return spec


def hour_ranges(last_hour: datetime, hours: int, per_run: int) -> list[tuple[datetime, datetime]]:
    """[first, last] hour of each run, oldest first: chunks of `per_run` partitions."""
    first_hour = last_hour - timedelta(hours=hours - 1)
    starts = [first_hour + timedelta(hours=h) for h in range(0, hours, per_run)]
    return [(s, min(s + timedelta(hours=per_run - 1), last_hour)) for s in starts]


def run_range(instance: dg.DagsterInstance, retailer: str, first: datetime, last: datetime):
    from pipelines.definitions import defs

    tags = {
        "dagster/asset_partition_range_start": str(partition_key(retailer, first)),
        "dagster/asset_partition_range_end": str(partition_key(retailer, last)),
    }
    return defs.resolve_job_def("orders_job").execute_in_process(
        instance=instance, tags=tags, run_config=QUIET, raise_on_error=False
    )


def process_start_seconds() -> float:
    """What a run launched in its own process pays before its first step: the interpreter,
    the code location's definitions and Great Expectations (the checks' import)."""
    code = (
        "import pipelines.definitions\n"
        "from flows.expectations import expectations\n"
        "expectations()\n"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


def measure(label: str, args: argparse.Namespace, db_url: str) -> dict[str, Any]:
    """One approach on a fresh simulator and database: wall time of the runs alone."""
    registry = load_registry()
    retailer = registry.retailer(args.retailer)
    spec = scenario(retailer.shop_domain, args.days, args.per_day)
    sim = Simulator(spec, time_scale=args.time_scale, seed=args.seed)
    os.environ["SHOPSYNC_SHOPIFY_BASE_URL"] = sim.start()
    os.environ["SHOPSYNC_DATABASE_URL"] = db_url
    for store in spec["stores"]:
        os.environ[store["token_env"]] = store["token"]
    in_store = len(sim.store(retailer.shop_domain).orders)
    last_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    ranges = hour_ranges(last_hour, args.days * 24, args.per_run)
    failed, run_seconds, run_ids = 0, [], []
    hub, shop = registry.hub.shop_domain, retailer.shop_domain
    try:
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions(retailers_partitions_name("orders"), [retailer.key])
            # Warm-up on an empty hour a month back: imports (Dagster, Great Expectations)
            # are paid once here, so both approaches are timed in a warm process.
            warm = ranges[0][0] - timedelta(days=30)
            run_range(instance, retailer.key, warm, warm)
            before = sim.counters(shop), sim.counters(hub)
            started = time.perf_counter()
            for first, last in ranges:
                began = time.perf_counter()
                result = run_range(instance, retailer.key, first, last)
                run_seconds.append(time.perf_counter() - began)
                failed += not result.success
                run_ids.append(result.run_id)
            wall = time.perf_counter() - started
        after = sim.counters(shop), sim.counters(hub)
        audit = audit_stores(sim.state(hub), {retailer.key: sim.state(shop)})
    finally:
        sim.stop()
    requests = sum(a["requests"] - b["requests"] for a, b in zip(after, before, strict=True))
    sim_points = sum(
        a["cost_points"] - b["cost_points"] for a, b in zip(after, before, strict=True)
    )
    with psycopg.connect(db_url) as conn:
        calls, points, throttled = conn.execute(
            "SELECT count(*), coalesce(sum(actual_cost), 0), count(*) FILTER (WHERE throttled)"
            " FROM shopsync.api_calls WHERE run_id = ANY(%s)",
            (run_ids,),
        ).fetchone()
        by_status = dict(conn.execute(
            "SELECT status, count(*) FROM shopsync.retailer_orders GROUP BY 1"
        ).fetchall())  # fmt: skip
    return {
        "approach": label,
        "runs": len(ranges),
        "partitions_per_run": args.per_run,
        "failed_runs": failed,
        "wall_seconds": round(wall, 1),
        "seconds_per_run_median": round(sorted(run_seconds)[len(run_seconds) // 2], 2),
        "api_calls": calls,
        "api_cost_points": int(points),
        "api_throttled": throttled,
        "simulator_requests": requests,
        "simulator_cost_points": int(sim_points),
        "orders_in_store": in_store,
        "orders_landed": by_status,
        "hub_orders_created": audit.hub_orders,
        "duplicate_hub_orders": audit.duplicate_hub_orders,
    }


def markdown_line(report: dict[str, Any]) -> str:
    def cell(r: dict[str, Any]) -> str:
        return (
            f"{r['runs']} runs, {r['wall_seconds']} s (+{r['process_starts_seconds']} s if a "
            f"process per run), {r['simulator_requests']} requests / "
            f"{r['simulator_cost_points']} pts ({r['api_calls']} / {r['api_cost_points']} "
            f"recorded), {r['hub_orders_created']} hub orders, {r['duplicate_hub_orders']} dup"
        )

    results = {r["approach"]: r for r in report["results"]}
    per_hour = cell(results["per_hour"]) if "per_hour" in results else "skipped"
    return (f"| {report['date']} | {report['retailer']} | {report['days']} d x "
            f"{report['per_day']}/d | {cell(results['batched'])} | {per_hour} | "
            f"{report['time_scale']} | {report['host']} |")  # fmt: skip


def write_markdown(line: str) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# 7-day orders backfill: batched (24-hour ranges) vs one run per hour\n\n"
            "Written by `bench/backfill_week.py`, one line per run.\n\n"
            "| date | retailer | history | batched | per hour | time scale | host |\n"
            "|---|---|---|---|---|---|---|\n"
        )
    with RESULTS.open("a") as out:
        out.write(line + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retailer", default="epic-gardening")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-day", type=int, default=20)
    parser.add_argument("--per-run", type=int, default=24, help="hours per batched run")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulator bucket speed")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-per-hour", action="store_true", help="only the batched runs")
    args = parser.parse_args()
    # Both databases first: fresh_database() connects through SHOPSYNC_DATABASE_URL's server.
    batched_db = fresh_database("shopsync_bench_backfill_batched")
    per_hour_db = None if args.skip_per_hour else fresh_database("shopsync_bench_backfill_hourly")
    start_cost = process_start_seconds()
    results = [measure("batched", args, batched_db)]
    if per_hour_db:
        results.append(measure("per_hour", argparse.Namespace(**{**vars(args), "per_run": 1}),
                               per_hour_db))  # fmt: skip
    report = {
        "benchmark": "backfill_week",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "retailer": args.retailer,
        "days": args.days,
        "per_day": args.per_day,
        "partitions": args.days * 24,
        "time_scale": args.time_scale,
        "host": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "results": results,
    }
    for result in results:
        result["process_starts_seconds"] = round(result["runs"] * start_cost, 1)
    report["process_start_seconds"] = round(start_cost, 1)
    if len(results) == 2:
        report["per_hour_over_batched"] = {
            k: round(results[1][k] / results[0][k], 1) if results[0][k] else None
            for k in (
                "wall_seconds",
                "simulator_requests",
                "simulator_cost_points",
                "api_calls",
                "api_cost_points",
            )  # fmt: skip
        }
    write_markdown(markdown_line(report))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
