"""A sync worker to kill: imports orders (or pushes fulfillments) for one retailer, in its
own process, so a test can SIGKILL it mid-partition (FAULTS O1, F4, P4).

The environment is the test's: `SHOPSYNC_SHOPIFY_BASE_URL` (the simulator), the store
tokens named by the registry, `SHOPSYNC_DATABASE_URL`. Two ways to run:

- `--mode functions`: the orders flow's two steps (or the fulfillment pair) on one `RetailerStep`,
  the plain entry points the assets wrap;
- `--mode job`: the real Dagster `orders_job` / `fulfillments_job` in process, over the
  retailer's partitions of the last `--hours` hours (a range run, as a backfill launches
  it: no retailer tag), on the instance `DAGSTER_HOME` names if set.

Two test hooks wrap `ShopifyClient.mutate` (test code only, the client is untouched):
`--slow S` sleeps S seconds before every mutation so a test can reliably kill mid-run;
`--kill-after OP:N` SIGKILLs this process right after the N-th successful `OP` mutation
returns, i.e. after Shopify committed but before the ledger recorded it.
On a normal finish the last stdout line is one JSON object with the run's counts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
if str(PROJECT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(PROJECT))

from resources.shopify import ShopifyClient  # noqa: E402

JOBS = {"orders": "orders_job", "fulfillments": "fulfillments_job"}


def start_worker(*args: str) -> subprocess.Popen:
    """This worker in a new process with the test's environment (simulator URL, tokens,
    database, maybe DAGSTER_HOME), which the test's fixtures exported."""
    return subprocess.Popen(
        [sys.executable, str(Path(__file__)), *args],
        env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def install_mutation_hooks(slow: float, kill_after: tuple[str, int] | None) -> None:
    """Wrap `ShopifyClient.mutate`: optional delay before, optional self-kill after."""
    original = ShopifyClient.mutate
    done: Counter[str] = Counter()

    def mutate(self: ShopifyClient, operation: str, variables: dict | None = None):
        if slow:
            time.sleep(slow)
        result = original(self, operation, variables)
        done[operation] += 1
        if kill_after and operation == kill_after[0] and done[operation] >= kill_after[1]:
            os.kill(os.getpid(), signal.SIGKILL)  # committed at Shopify, not in the ledger
        return result

    ShopifyClient.mutate = mutate  # type: ignore[method-assign]


def run_functions(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    from flows.fulfillments import landed_fulfillments, push_stats
    from flows.order_creation import creation_stats
    from flows.orders import landing_stats
    from flows.steps import FlowOptions, RetailerStep
    from resources.registry import load_registry
    from resources.shopify import ShopifyResource

    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    windows = [(end - timedelta(hours=args.hours), end)]
    retailer = load_registry().retailer(args.retailer)
    shopify = ShopifyResource(
        api_version="2025-01", retry_base_delay_seconds=0.05, retry_max_delay_seconds=1.0,
        read_timeout_seconds=args.read_timeout,
    )  # fmt: skip
    run_id = f"fault-worker-{os.getpid()}"
    with (
        psycopg.connect(os.environ["SHOPSYNC_DATABASE_URL"], autocommit=True) as conn,
        shopify.get_client(retailer.key, run_id=run_id) as client,
        shopify.get_client("hub", run_id=run_id) as hub,
    ):
        step = RetailerStep(
            retailer=retailer, client=client, hub=hub, conn=conn, windows=windows, run_id=run_id,
            now=now, options=FlowOptions(hold_window=timedelta(0), reconcile_delay=0.1),
        )  # fmt: skip
        if args.flow == "orders":
            landed = landing_stats(step)
            created = creation_stats(step)
            return {"landed": asdict(landed), "created": asdict(created)}
        landed_n = landed_fulfillments(step)
        pushed = push_stats(step)
        return {"landed": landed_n, "pushed": asdict(pushed)}


def run_job(args: argparse.Namespace) -> dict[str, Any]:
    import dagster as dg

    from assets.partitions import partition_key, retailers_partitions_name
    from pipelines.definitions import defs

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = hour - timedelta(hours=args.hours - 1)
    tags = {
        "dagster/asset_partition_range_start": str(partition_key(args.retailer, first)),
        "dagster/asset_partition_range_end": str(partition_key(args.retailer, hour)),
    }
    ops: dict[str, Any] = {}
    if args.flow == "orders":
        ops = {"orders_flow": {"config": {"hold_window_minutes": 0.0}}}
    run_config = {"ops": ops, "loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    # With DAGSTER_HOME set, the real (Postgres) instance it names; else a throw-away one.
    opened = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.instance_for_test()
    with opened as instance:
        name = retailers_partitions_name(args.flow)
        if args.retailer not in instance.get_dynamic_partitions(name):
            instance.add_dynamic_partitions(name, [args.retailer])
        result = defs.resolve_job_def(JOBS[args.flow]).execute_in_process(
            instance=instance, tags=tags, run_config=run_config, raise_on_error=False
        )
        metadata: dict[str, Any] = {}
        for event in result.get_asset_materialization_events():
            metadata.update({k: v.value for k, v in event.materialization.metadata.items()})
    return {"success": result.success, "metadata": metadata}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retailer", required=True)
    parser.add_argument("--flow", choices=sorted(JOBS), default="orders")
    parser.add_argument("--mode", choices=("functions", "job"), default="functions")
    parser.add_argument("--hours", type=int, default=2, help="hours up to the current one")
    parser.add_argument("--slow", type=float, default=0.0, help="seconds before each mutation")
    parser.add_argument("--kill-after", default=None, help="OPERATION:N, e.g. orders_create_hub:3")
    parser.add_argument("--read-timeout", type=float, default=5.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kill_after = None
    if args.kill_after:
        operation, _, count = args.kill_after.partition(":")
        kill_after = (operation, int(count or 1))
    install_mutation_hooks(args.slow, kill_after)
    outcome = run_job(args) if args.mode == "job" else run_functions(args)
    sys.stdout.write(json.dumps(outcome, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
