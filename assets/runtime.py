"""What every flow asset needs at run time, opened and closed in one place.

Clients for the hub and one retailer that record every call to `api_calls`
(tagged with the run id), a warehouse connection, and the run's partition
windows grouped per retailer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import psycopg

from pipelines.partitions import retailer_windows
from resources.postgres import PostgresResource
from resources.registry import Registry, RetailerConfig
from resources.shopify import PostgresCallRecorder, ShopifyClient, ShopifyResource


@dataclass
class FlowRuntime:
    retailer: RetailerConfig
    windows: list[tuple[datetime, datetime]]
    retailer_client: ShopifyClient
    hub_client: ShopifyClient
    conn: psycopg.Connection
    recorder: PostgresCallRecorder
    run_id: str


def run_partitions(context: dg.AssetExecutionContext) -> dict[str, list[tuple[datetime, datetime]]]:
    """Per retailer, the merged hour windows this run covers (one key, or a backfill range)."""
    return retailer_windows(list(context.partition_keys))


@contextmanager
def flow_runtime(
    context: dg.AssetExecutionContext, registry: Registry, shopify: ShopifyResource,
    postgres: PostgresResource,
) -> Iterator[list[FlowRuntime]]:  # fmt: skip
    """One FlowRuntime per retailer in the run, sharing one recorder and connection."""
    run_id = context.run.run_id
    with ExitStack() as stack:
        conn = stack.enter_context(postgres.get_connection())
        recorder = PostgresCallRecorder(postgres.get_connection)
        stack.callback(recorder.close)
        hub = stack.enter_context(shopify.get_client("hub", run_id=run_id, recorder=recorder))
        runtimes = []
        for key, windows in sorted(run_partitions(context).items()):
            retailer = registry.retailer(key)
            client = stack.enter_context(
                shopify.get_client(key, run_id=run_id, recorder=recorder)
            )
            runtimes.append(FlowRuntime(retailer, windows, client, hub, conn, recorder, run_id))
        yield runtimes


def api_cost(conn: psycopg.Connection, run_id: str) -> dict[str, int]:
    """Cost points and calls this run has spent so far (after the recorder flushed)."""
    row = conn.execute(
        "SELECT count(*), coalesce(sum(actual_cost), 0), count(*) FILTER (WHERE throttled)"
        " FROM shopsync.api_calls WHERE run_id = %s",
        (run_id,),
    ).fetchone()
    return {"api_calls": row[0], "api_cost_points": int(row[1]), "api_throttled": row[2]}
