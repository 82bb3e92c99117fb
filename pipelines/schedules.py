"""Jobs and schedules of the order and fulfillment flows.

Every 15 minutes each enabled retailer's current and previous hour run again:
the open hour picks up new orders, the previous one catches late index updates
and records that changed at the boundary (FAULTS O5). Re-running a partition is
always safe, so overlapping ticks cost API points, never duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.partitions import partition_key
from resources.registry import load_registry

orders_job = dg.define_asset_job(
    "orders_job",
    selection=dg.AssetSelection.groups("orders"),
    description="Import retailer orders into the hub (one retailer × hour).",
)

fulfillments_job = dg.define_asset_job(
    "fulfillments_job",
    selection=dg.AssetSelection.groups("fulfillments"),
    description="Push hub shipments back to the retailer (one retailer × hour).",
)


def recent_partition_keys(now: datetime, retailers: list[str]) -> list[dg.MultiPartitionKey]:
    """The current and previous hour for each retailer."""
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [partition_key(r, h) for r in retailers for h in (hour - timedelta(hours=1), hour)]


def _tick_requests(
    context: dg.ScheduleEvaluationContext, flow: str
) -> list[dg.RunRequest] | dg.SkipReason:
    retailers = [r.key for r in load_registry().enabled_retailers(flow)]
    if not retailers:
        return dg.SkipReason(f"no retailer has the {flow} flow enabled")
    now = context.scheduled_execution_time or datetime.now(UTC)
    known = set(context.instance.get_dynamic_partitions("retailers"))
    return [
        dg.RunRequest(
            run_key=f"{flow}:{key}:{now:%Y%m%dT%H%M}",
            partition_key=key,
            tags={"shopsync/flow": flow},
        )
        for key in recent_partition_keys(now, retailers)
        if key.keys_by_dimension["retailer"] in known
    ]


@dg.schedule(job=orders_job, cron_schedule="*/15 * * * *", execution_timezone="UTC")
def orders_schedule(context: dg.ScheduleEvaluationContext):
    """Every 15 minutes: import orders of the current and previous hour."""
    return _tick_requests(context, "orders")


@dg.schedule(job=fulfillments_job, cron_schedule="*/15 * * * *", execution_timezone="UTC")
def fulfillments_schedule(context: dg.ScheduleEvaluationContext):
    """Every 15 minutes: push shipments of hub orders updated in the current and previous hour."""
    return _tick_requests(context, "fulfillments")
