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

from pipelines.partitions import retailer_hourly_partitions, retailer_windows
from resources.postgres import PostgresResource
from resources.registry import Registry, RetailerConfig
from resources.shopify import PostgresCallRecorder, ShopifyClient, ShopifyResource

#: A range backfill launches one run per 24 hourly partitions of a retailer, never one per hour.
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=24)


def flow_asset(group: str, pool: str, **kwargs):
    """`dg.asset` with what every flow asset shares: retailer × hour partitions, batched
    backfills, Shopify + Postgres kinds; `pool` names the Shopify side it loads."""
    return dg.asset(
        partitions_def=retailer_hourly_partitions,
        backfill_policy=BACKFILL_POLICY,
        group_name=group,
        kinds={"shopify", "postgres"},
        pool=pool,
        **kwargs,
    )


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


@dataclass
class FlowRun:
    """The retailers of one run with the flow enabled, and what they share."""

    runtimes: list[FlowRuntime]
    conn: psycopg.Connection
    recorder: PostgresCallRecorder
    run_id: str

    def cost(self) -> dict[str, int]:
        """API calls, cost points and throttled responses of this run so far."""
        self.recorder.flush()
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(actual_cost), 0), count(*) FILTER (WHERE throttled)"
            " FROM shopsync.api_calls WHERE run_id = %s",
            (self.run_id,),
        ).fetchone()
        return {"api_calls": row[0], "api_cost_points": int(row[1]), "api_throttled": row[2]}


@contextmanager
def flow_runtime(
    context: dg.AssetExecutionContext,
    registry: Registry,
    shopify: ShopifyResource,
    postgres: PostgresResource,
    flow: str,
) -> Iterator[FlowRun]:
    """Clients and windows for each retailer of the run whose `flow` is enabled (the others
    are logged and skipped), sharing one recorder and one connection."""
    run_id = context.run.run_id
    with ExitStack() as stack:
        conn = stack.enter_context(postgres.get_connection())
        recorder = PostgresCallRecorder(postgres.get_connection)
        stack.callback(recorder.close)
        hub = stack.enter_context(shopify.get_client("hub", run_id=run_id, recorder=recorder))
        runtimes = []
        for key, windows in sorted(run_partitions(context).items()):
            retailer = registry.retailer(key)
            if not getattr(retailer.flows, flow):
                context.log.info("%s flow disabled for %s: skipped", flow, key)
                continue
            client = stack.enter_context(shopify.get_client(key, run_id=run_id, recorder=recorder))
            runtimes.append(FlowRuntime(retailer, windows, client, hub, conn, recorder, run_id))
        yield FlowRun(runtimes, conn, recorder, run_id)


@contextmanager
def recorded_client(
    context: dg.AssetCheckExecutionContext | dg.AssetExecutionContext,
    shopify: ShopifyResource,
    postgres: PostgresResource,
    store_key: str,
) -> Iterator[ShopifyClient]:
    """A client whose calls land in `api_calls` under the run's id (checks call Shopify too)."""
    recorder = PostgresCallRecorder(postgres.get_connection)
    try:
        with shopify.get_client(store_key, run_id=context.run.run_id, recorder=recorder) as client:
            yield client
    finally:
        recorder.close()
